// IdempotencyTable: the remembered answers of writes that carried an
// Idempotency-Key (memory-api.md §7), per workspace, bounded in memory.
//
// Life of an entry: Begin() claims the key for a request (in flight, no
// lsn); the write's log record carries the answer, and Complete() runs
// once that record has its lsn, while the writer still holds its shard
// lock(s) (a snapshot copies every shard before the answers, so it finds
// complete every answer its start lsn covers); Abandon() forgets a claim whose write logged nothing
// (refused, storage failure). A repeat is answered from a complete entry
// once its lsn is acknowledged, "in progress" before.
//
// Retention: an entry is dropped once it is older than `retention` and
// acknowledged; whenever the table holds more than `max_bytes` (checked as
// each answer is added), the oldest acknowledged entries are dropped early
// and counted as evicted: the memory bound wins over retention, and the
// eviction counter says when it did.
//
// Thread-safe: one mutex. Lock order: a shard's mu, then the log's mutex,
// then this table's; nothing here calls the store or the log.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace casmem {

class IdempotencyTable {
 public:
  IdempotencyTable(int64_t retention_ms, uint64_t max_bytes)
      : retention_ms_(retention_ms), max_bytes_(max_bytes) {}

  enum class Claim {
    kNew,         // claimed for this request: go ahead, then Complete or Abandon
    kReplay,      // *status, *body, *lsn: the first request's answer
    kReused,      // the key answered (or is answering) a different request
    kInProgress,  // the same request is claimed, or logged but not yet acknowledged
  };
  Claim Begin(std::string_view ws, std::string_view key, std::string_view fingerprint,
              uint64_t acked_lsn, int* status, std::string* body, uint64_t* lsn);
  // `acked_lsn`: the log's acknowledged lsn, for the memory bound (only
  // acknowledged answers are evicted).
  void Complete(std::string_view ws, std::string_view key, int status, std::string body,
                uint64_t lsn, int64_t now_ms, uint64_t acked_lsn);
  void Abandon(std::string_view ws, std::string_view key);

  // Recovery (log replay and snapshots): an answer logged at `lsn` and
  // `created_ms`. Skipped when already expired or when a newer one is held.
  void Restore(std::string_view ws, std::string_view key, std::string_view fingerprint,
               int status, std::string_view body, uint64_t lsn, int64_t created_ms,
               int64_t now_ms);

  // After recovery: orders the restored answers oldest first (snapshots
  // hold them in no order), so expiry and eviction take the oldest.
  void SortRestored();
  // Drops expired acknowledged entries, and the oldest beyond max_bytes.
  void Expire(int64_t now_ms, uint64_t acked_lsn);

  struct Answer {
    std::string_view workspace, key, fingerprint, body;
    int status;
    uint64_t lsn;
    int64_t created_ms;
  };
  // Every complete entry, in no order (snapshots).
  void ForEach(const std::function<void(const Answer&)>& fn) const;

  void Clear();
  uint64_t entries() const;
  uint64_t bytes() const;
  uint64_t evicted() const;

 private:
  struct Entry {
    std::string fingerprint;
    std::string body;
    int status = 0;
    uint64_t lsn = 0;  // 0: claimed, not yet logged
    int64_t created_ms = 0;
  };
  // "workspace\0key": a workspace name has no NUL.
  static std::string Id(std::string_view ws, std::string_view key);
  static uint64_t Cost(const std::string& id, const Entry& e);
  void Drop(boost::unordered_flat_map<std::string, Entry>::iterator it);
  // Drops from the front of order_ what is expired, or over the bound
  // (when `bound`), and acknowledged. REQUIRES mu_.
  void TrimLocked(int64_t now_ms, uint64_t acked_lsn, bool expire);

  const int64_t retention_ms_;
  const uint64_t max_bytes_;
  mutable std::mutex mu_;
  boost::unordered_flat_map<std::string, Entry> entries_;
  // Complete entries in completion order (id, lsn); stale pairs (dropped or
  // replaced entries) are skipped when reached.
  std::deque<std::pair<std::string, uint64_t>> order_;
  uint64_t bytes_ = 0;
  uint64_t evicted_ = 0;
};

}  // namespace casmem
