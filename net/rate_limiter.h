// RateLimiter: --rate-limit (memory-api.md §9, issue 11): a token bucket
// per caller (a token's name, or a client address while no token exists)
// refilled at `per_second` with room for one second's worth, so a caller
// may burst that many requests and then keeps to the rate.
//
// Thread safety: any thread. Buckets are spread over mutex-guarded shards;
// a shard that grows past its bound drops its full buckets (callers idle
// for a second or more, whom a fresh bucket treats the same).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace casmem::net {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(double per_second) : rate_(per_second) {}

  bool enabled() const { return rate_ > 0; }
  // Takes one request from `who`'s bucket at `now`: nullopt if allowed,
  // else the whole seconds (at least 1) after which one will be
  // (Retry-After).
  std::optional<uint32_t> Take(std::string_view who, Clock::time_point now);

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxBucketsPerShard = 4096;
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
  };
  // `b` refilled up to `now`.
  void Refill(Bucket* b, Clock::time_point now) const;

  const double rate_;
  std::array<Shard, kShards> shards_;
};

}  // namespace casmem::net
