// RateLimiter (rate_limiter.h): token buckets in hash-sharded maps.
#include "net/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace casmem::net {

void RateLimiter::Refill(Bucket* b, Clock::time_point now) const {
  if (now <= b->at) return;
  const double elapsed = std::chrono::duration<double>(now - b->at).count();
  b->tokens = std::min(rate_, b->tokens + elapsed * rate_);
  b->at = now;
}

std::optional<uint32_t> RateLimiter::Take(std::string_view who, Clock::time_point now) {
  if (!enabled()) return std::nullopt;
  Shard& sh = shards_[std::hash<std::string_view>{}(who) % kShards];
  std::lock_guard lk(sh.mu);
  auto it = sh.buckets.find(std::string(who));
  if (it == sh.buckets.end()) {
    if (sh.buckets.size() >= kMaxBucketsPerShard) {
      std::erase_if(sh.buckets, [&](const auto& kv) {
        Bucket b = kv.second;
        Refill(&b, now);
        return b.tokens >= rate_;
      });
    }
    // A new caller starts with a full bucket. (If the shard is still full
    // of busy callers, it grows: each entry is a caller that made a
    // request within the last second.)
    it = sh.buckets.emplace(std::string(who), Bucket{rate_, now}).first;
  }
  Bucket& b = it->second;
  Refill(&b, now);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return std::nullopt;
  }
  const double wait = (1 - b.tokens) / rate_;
  return static_cast<uint32_t>(std::max(1.0, std::ceil(wait)));
}

}  // namespace casmem::net
