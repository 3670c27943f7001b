// Metrics: counters and histograms the server updates lock-free, rendered
// in the Prometheus text exposition format (version 0.0.4) by /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/store.h"

namespace casmem::net {

enum class Route { kCollection, kItem, kPatch, kTxn, kWatch, kChanges, kHealth, kMetrics, kAdmin, kMcp, kUnknown, kCount };
const char* RouteLabel(Route r);

// Cumulative histogram with fixed upper bounds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  void Render(const std::string& name, const std::string& help, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;  // per bucket (non-cumulative), +Inf last
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micro_{0};  // sum in millionths of the unit
};

class Metrics {
 public:
  Metrics();
  void CountRequest(Route route, int status);
  void CountConflict() { conflicts_.fetch_add(1, std::memory_order_relaxed); }
  // A stale 409 held for its key's turn (ConflictTurns).
  void CountConflictHeld() { conflicts_held_.fetch_add(1, std::memory_order_relaxed); }
  // A guarded write deferred behind another client's turn on its key.
  void CountWriteDeferred() { writes_deferred_.fetch_add(1, std::memory_order_relaxed); }
  // A write answered from its Idempotency-Key's remembered answer.
  void CountReplay() { replays_.fetch_add(1, std::memory_order_relaxed); }
  // Watches (memory-api.md §8): streams open now, changes sent to them,
  // streams cut for falling behind (lagged), `since` older than the
  // history (an SSE compacted event or a 410), requests waiting now
  // (blocking reads and long-polls).
  void WatcherOpened() { watchers_.fetch_add(1, std::memory_order_relaxed); }
  void WatcherClosed() { watchers_.fetch_sub(1, std::memory_order_relaxed); }
  void CountWatchEvents(uint64_t n) { watch_events_.fetch_add(n, std::memory_order_relaxed); }
  void CountLagged() { watch_lagged_.fetch_add(1, std::memory_order_relaxed); }
  void CountCompacted() { watch_compacted_.fetch_add(1, std::memory_order_relaxed); }
  void WaitBegan() { waiting_.fetch_add(1, std::memory_order_relaxed); }
  void WaitEnded() { waiting_.fetch_sub(1, std::memory_order_relaxed); }
  // Access control (memory-api.md §9): a request refused 401 (no token,
  // or an unknown or revoked one), counted by the client's address (at
  // most kMaxAuthAddresses of them; the rest as "other"); a request
  // refused 429 by --rate-limit; the tokens that exist.
  static constexpr size_t kMaxAuthAddresses = 1000;
  void CountAuthFailure(std::string_view address);
  void CountRateLimited() { rate_limited_.fetch_add(1, std::memory_order_relaxed); }
  void SetTokens(size_t n) { tokens_.store(static_cast<int64_t>(n), std::memory_order_relaxed); }
  // A TLS connection that did not complete its handshake (bad protocol
  // version, no shared cipher, timed out).
  void CountTlsHandshakeFailure() { tls_handshake_failures_.fetch_add(1, std::memory_order_relaxed); }
  void ObserveWriteSeconds(double s) { write_latency_.Observe(s); }
  void ObserveFsyncSeconds(double s) { fsync_latency_.Observe(s); }
  void ObserveBatchRecords(uint64_t n) { batch_records_.Observe(static_cast<double>(n)); }
  std::string Render(const Store& store) const;

 private:
  static constexpr std::array<int, 20> kStatuses = {200, 201, 202, 400, 401, 403, 404, 405, 406, 409,
                                                    410, 413, 415, 422, 429, 431, 500, 501, 503, 0};
  static size_t StatusIndex(int status);
  std::array<std::array<std::atomic<uint64_t>, kStatuses.size()>,
             static_cast<size_t>(Route::kCount)> requests_{};
  std::atomic<uint64_t> conflicts_{0};
  std::atomic<uint64_t> conflicts_held_{0};
  std::atomic<uint64_t> writes_deferred_{0};
  std::atomic<uint64_t> replays_{0};
  std::atomic<int64_t> watchers_{0};
  std::atomic<uint64_t> watch_events_{0};
  std::atomic<uint64_t> watch_lagged_{0};
  std::atomic<uint64_t> watch_compacted_{0};
  std::atomic<int64_t> waiting_{0};
  mutable std::mutex auth_mu_;
  std::map<std::string, uint64_t, std::less<>> auth_failures_;  // under auth_mu_
  std::atomic<uint64_t> rate_limited_{0};
  std::atomic<int64_t> tokens_{0};
  std::atomic<uint64_t> tls_handshake_failures_{0};
  Histogram write_latency_;
  Histogram fsync_latency_;
  Histogram batch_records_;
};

}  // namespace casmem::net
