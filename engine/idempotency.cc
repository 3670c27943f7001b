// IdempotencyTable: claims, answers, expiry and the memory bound.
#include "engine/idempotency.h"

#include <algorithm>

namespace casmem {

std::string IdempotencyTable::Id(std::string_view ws, std::string_view key) {
  std::string id;
  id.reserve(ws.size() + 1 + key.size());
  id.append(ws);
  id.push_back('\0');
  id.append(key);
  return id;
}

uint64_t IdempotencyTable::Cost(const std::string& id, const Entry& e) {
  constexpr uint64_t kOverhead = 128;  // map slot, strings' headers, order_ pair
  return kOverhead + 2 * id.size() + e.fingerprint.size() + e.body.size();
}

void IdempotencyTable::Drop(boost::unordered_flat_map<std::string, Entry>::iterator it) {
  bytes_ -= Cost(it->first, it->second);
  entries_.erase(it);
}

IdempotencyTable::Claim IdempotencyTable::Begin(std::string_view ws, std::string_view key,
                                                std::string_view fingerprint, uint64_t acked_lsn,
                                                int* status, std::string* body, uint64_t* lsn) {
  std::string id = Id(ws, key);
  std::lock_guard lk(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    Entry e;
    e.fingerprint.assign(fingerprint);
    bytes_ += Cost(id, e);
    entries_.emplace(std::move(id), std::move(e));
    return Claim::kNew;
  }
  const Entry& e = it->second;
  if (e.fingerprint != fingerprint) return Claim::kReused;
  if (e.lsn == 0 || e.lsn > acked_lsn) return Claim::kInProgress;
  *status = e.status;
  body->assign(e.body);
  *lsn = e.lsn;
  return Claim::kReplay;
}

void IdempotencyTable::Complete(std::string_view ws, std::string_view key, int status,
                                std::string body, uint64_t lsn, int64_t now_ms,
                                uint64_t acked_lsn) {
  std::string id = Id(ws, key);
  std::lock_guard lk(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;  // not claimed (cannot happen: the claim is the caller's)
  Entry& e = it->second;
  bytes_ -= Cost(it->first, e);
  e.status = status;
  e.body = std::move(body);
  e.lsn = lsn;
  e.created_ms = now_ms;
  bytes_ += Cost(it->first, e);
  order_.emplace_back(std::move(id), lsn);
  if (bytes_ > max_bytes_) TrimLocked(now_ms, acked_lsn, false);
}

void IdempotencyTable::Abandon(std::string_view ws, std::string_view key) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(Id(ws, key));
  if (it != entries_.end() && it->second.lsn == 0) Drop(it);
}

void IdempotencyTable::Restore(std::string_view ws, std::string_view key,
                               std::string_view fingerprint, int status, std::string_view body,
                               uint64_t lsn, int64_t created_ms, int64_t now_ms) {
  if (now_ms - created_ms >= retention_ms_) return;
  std::string id = Id(ws, key);
  std::lock_guard lk(mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) {
    if (it->second.lsn >= lsn) return;
    Drop(it);
  }
  Entry e;
  e.fingerprint.assign(fingerprint);
  e.body.assign(body);
  e.status = status;
  e.lsn = lsn;
  e.created_ms = created_ms;
  bytes_ += Cost(id, e);
  order_.emplace_back(id, lsn);
  entries_.emplace(std::move(id), std::move(e));
}

void IdempotencyTable::SortRestored() {
  std::lock_guard lk(mu_);
  std::sort(order_.begin(), order_.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
}

void IdempotencyTable::Expire(int64_t now_ms, uint64_t acked_lsn) {
  std::lock_guard lk(mu_);
  TrimLocked(now_ms, acked_lsn, true);
}

void IdempotencyTable::TrimLocked(int64_t now_ms, uint64_t acked_lsn, bool expire) {
  // order_ is by lsn (completion order; restored answers are sorted):
  // the front is the oldest. An unacknowledged front stops the trim.
  while (!order_.empty()) {
    auto& [id, lsn] = order_.front();
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.lsn != lsn) {  // stale
      order_.pop_front();
      continue;
    }
    const Entry& e = it->second;
    if (e.lsn > acked_lsn) break;
    const bool expired = expire && now_ms - e.created_ms >= retention_ms_;
    if (!expired && bytes_ <= max_bytes_) break;
    if (!expired) ++evicted_;
    Drop(it);
    order_.pop_front();
  }
}

void IdempotencyTable::ForEach(const std::function<void(const Answer&)>& fn) const {
  std::lock_guard lk(mu_);
  for (const auto& [id, e] : entries_) {
    if (e.lsn == 0) continue;
    const size_t nul = id.find('\0');
    fn(Answer{std::string_view(id).substr(0, nul), std::string_view(id).substr(nul + 1),
              e.fingerprint, e.body, e.status, e.lsn, e.created_ms});
  }
}

void IdempotencyTable::Clear() {
  std::lock_guard lk(mu_);
  entries_.clear();
  order_.clear();
  bytes_ = 0;
}

uint64_t IdempotencyTable::entries() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}
uint64_t IdempotencyTable::bytes() const {
  std::lock_guard lk(mu_);
  return bytes_;
}
uint64_t IdempotencyTable::evicted() const {
  std::lock_guard lk(mu_);
  return evicted_;
}

}  // namespace casmem
