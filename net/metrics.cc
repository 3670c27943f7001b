// Metrics implementation and the Prometheus text rendering.
#include "net/metrics.h"

#include <cstdio>

namespace casmem::net {

const char* RouteLabel(Route r) {
  switch (r) {
    case Route::kCollection: return "memory_collection";
    case Route::kItem: return "memory_item";
    case Route::kPatch: return "memory_patch";
    case Route::kTxn: return "txn";
    case Route::kWatch: return "watch";
    case Route::kChanges: return "changes";
    case Route::kHealth: return "healthz";
    case Route::kMetrics: return "metrics";
    case Route::kAdmin: return "admin";
    case Route::kMcp: return "mcp";
    default: return "unknown";
  }
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micro_.fetch_add(static_cast<uint64_t>(v * 1e6), std::memory_order_relaxed);
}

void Histogram::Render(const std::string& name, const std::string& help, std::string* out) const {
  char line[256];
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    if (i < bounds_.size()) {
      std::snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), bounds_[i],
                    static_cast<unsigned long long>(cumulative));
    } else {
      std::snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n", name.c_str(),
                    static_cast<unsigned long long>(cumulative));
    }
    *out += line;
  }
  std::snprintf(line, sizeof line, "%s_sum %.6f\n%s_count %llu\n", name.c_str(),
                static_cast<double>(sum_micro_.load()) / 1e6, name.c_str(),
                static_cast<unsigned long long>(count_.load()));
  *out += line;
}

namespace {
std::vector<double> LatencyBounds() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
}
}  // namespace

Metrics::Metrics()
    : write_latency_(LatencyBounds()),
      fsync_latency_(LatencyBounds()),
      batch_records_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}) {}

size_t Metrics::StatusIndex(int status) {
  for (size_t i = 0; i + 1 < kStatuses.size(); ++i)
    if (kStatuses[i] == status) return i;
  return kStatuses.size() - 1;
}

void Metrics::CountRequest(Route route, int status) {
  requests_[static_cast<size_t>(route)][StatusIndex(status)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::CountAuthFailure(std::string_view address) {
  std::lock_guard lk(auth_mu_);
  auto it = auth_failures_.find(address);
  if (it == auth_failures_.end()) {
    const bool room = auth_failures_.size() < kMaxAuthAddresses;
    it = auth_failures_.emplace(room && !address.empty() ? std::string(address) : "other", 0).first;
  }
  ++it->second;
}

// A label value of the exposition format: \, " and newline escaped.
static std::string LabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Metrics::Render(const Store& store) const {
  std::string out;
  char line[1024];
  out += "# HELP casmem_http_requests_total HTTP requests by route and status.\n"
         "# TYPE casmem_http_requests_total counter\n";
  for (size_t r = 0; r < static_cast<size_t>(Route::kCount); ++r) {
    for (size_t s = 0; s < kStatuses.size(); ++s) {
      const uint64_t n = requests_[r][s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      const std::string status = kStatuses[s] ? std::to_string(kStatuses[s]) : "other";
      std::snprintf(line, sizeof line, "casmem_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                    RouteLabel(static_cast<Route>(r)), status.c_str(),
                    static_cast<unsigned long long>(n));
      out += line;
    }
  }
  std::snprintf(line, sizeof line,
                "# HELP casmem_conflicts_total Writes refused with 409 because a guard or a transaction check did not match.\n"
                "# TYPE casmem_conflicts_total counter\ncasmem_conflicts_total %llu\n",
                static_cast<unsigned long long>(conflicts_.load()));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP casmem_conflicts_held_total 409s held for their key's turn (--conflict-turn).\n"
                "# TYPE casmem_conflicts_held_total counter\ncasmem_conflicts_held_total %llu\n",
                static_cast<unsigned long long>(conflicts_held_.load()));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP casmem_writes_deferred_total Guarded writes deferred behind another client's turn on their key (--conflict-turn).\n"
                "# TYPE casmem_writes_deferred_total counter\ncasmem_writes_deferred_total %llu\n",
                static_cast<unsigned long long>(writes_deferred_.load()));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP casmem_watchers Watch streams (SSE) open now.\n"
                "# TYPE casmem_watchers gauge\ncasmem_watchers %lld\n"
                "# HELP casmem_watch_events_total Changes sent to watch streams.\n"
                "# TYPE casmem_watch_events_total counter\ncasmem_watch_events_total %llu\n"
                "# HELP casmem_watch_lagged_total Watch streams cut for falling more than --watch-buffer behind.\n"
                "# TYPE casmem_watch_lagged_total counter\ncasmem_watch_lagged_total %llu\n"
                "# HELP casmem_watch_compacted_total Watches and long-polls whose since was older than the kept history.\n"
                "# TYPE casmem_watch_compacted_total counter\ncasmem_watch_compacted_total %llu\n"
                "# HELP casmem_waiting_requests Blocking reads and long-polls waiting now.\n"
                "# TYPE casmem_waiting_requests gauge\ncasmem_waiting_requests %lld\n",
                static_cast<long long>(watchers_.load()), static_cast<unsigned long long>(watch_events_.load()),
                static_cast<unsigned long long>(watch_lagged_.load()),
                static_cast<unsigned long long>(watch_compacted_.load()),
                static_cast<long long>(waiting_.load()));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP casmem_tls_handshake_failures_total TLS connections that failed or timed out in their handshake.\n"
                "# TYPE casmem_tls_handshake_failures_total counter\ncasmem_tls_handshake_failures_total %llu\n",
                static_cast<unsigned long long>(tls_handshake_failures_.load()));
  out += line;
  write_latency_.Render("casmem_write_latency_seconds",
                        "Time from a parsed write request to its durable response.", &out);
  fsync_latency_.Render("casmem_wal_fsync_seconds", "Duration of each WAL fdatasync.", &out);
  batch_records_.Render("casmem_wal_group_commit_records", "Records written per group-commit batch.",
                        &out);
  uint64_t wal_bytes = 0, fsyncs = 0, refused = 0, batches = 0, led = 0;
  if (const wal::Wal* w = store.wal()) {
    batches = w->stats().batches.load();
    led = w->stats().batches_led.load();
    wal_bytes = w->stats().bytes_written.load();
    fsyncs = w->stats().fsyncs.load();
    refused = w->stats().appends_refused_busy.load();
  }
  const StoreCounters c = store.counters();
  std::snprintf(line, sizeof line,
                "# HELP casmem_wal_bytes_written_total Bytes written to the WAL.\n"
                "# TYPE casmem_wal_bytes_written_total counter\ncasmem_wal_bytes_written_total %llu\n"
                "# HELP casmem_wal_fsyncs_total fdatasync calls on the WAL.\n"
                "# TYPE casmem_wal_fsyncs_total counter\ncasmem_wal_fsyncs_total %llu\n"
                "# HELP casmem_live_keys Live keys (including expired keys not yet swept).\n"
                "# TYPE casmem_live_keys gauge\ncasmem_live_keys %llu\n"
                "# HELP casmem_tombstones Retained tombstones.\n"
                "# TYPE casmem_tombstones gauge\ncasmem_tombstones %llu\n"
                "# HELP casmem_workspaces Workspaces holding a key or a tombstone.\n"
                "# TYPE casmem_workspaces gauge\ncasmem_workspaces %llu\n",
                static_cast<unsigned long long>(wal_bytes), static_cast<unsigned long long>(fsyncs),
                static_cast<unsigned long long>(c.live_keys),
                static_cast<unsigned long long>(c.tombstones),
                static_cast<unsigned long long>(c.workspaces));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP casmem_wal_batches_total Group-commit batches written to the WAL.\n"
                "# TYPE casmem_wal_batches_total counter\ncasmem_wal_batches_total %llu\n"
                "# HELP casmem_wal_batches_led_total Of those, batches an I/O thread wrote and synced itself (--inline-commit).\n"
                "# TYPE casmem_wal_batches_led_total counter\ncasmem_wal_batches_led_total %llu\n",
                static_cast<unsigned long long>(batches), static_cast<unsigned long long>(led));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP casmem_storage_healthy 1 while the log accepts writes, 0 after a failure.\n"
                "# TYPE casmem_storage_healthy gauge\ncasmem_storage_healthy %d\n",
                store.health().ok() ? 1 : 0);
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP casmem_wal_writes_refused_busy_total Writes refused (503, retry) while the log "
                "was --wal-max-pending behind the disk.\n"
                "# TYPE casmem_wal_writes_refused_busy_total counter\n"
                "casmem_wal_writes_refused_busy_total %llu\n",
                static_cast<unsigned long long>(refused));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP casmem_idempotency_entries Remembered Idempotency-Key answers (and claims in flight).\n"
                "# TYPE casmem_idempotency_entries gauge\ncasmem_idempotency_entries %llu\n"
                "# HELP casmem_idempotency_bytes Memory held by remembered Idempotency-Key answers (approximate).\n"
                "# TYPE casmem_idempotency_bytes gauge\ncasmem_idempotency_bytes %llu\n"
                "# HELP casmem_idempotency_evicted_total Idempotency-Key answers dropped before their "
                "retention ran out (--idempotency-max-bytes).\n"
                "# TYPE casmem_idempotency_evicted_total counter\ncasmem_idempotency_evicted_total %llu\n"
                "# HELP casmem_idempotency_replays_total Writes answered from a remembered Idempotency-Key answer.\n"
                "# TYPE casmem_idempotency_replays_total counter\ncasmem_idempotency_replays_total %llu\n",
                static_cast<unsigned long long>(c.idempotency_entries),
                static_cast<unsigned long long>(c.idempotency_bytes),
                static_cast<unsigned long long>(c.idempotency_evicted),
                static_cast<unsigned long long>(replays_.load()));
  out += line;
  std::snprintf(line, sizeof line,
                "# HELP casmem_tokens Access tokens that exist (0: requests are not checked).\n"
                "# TYPE casmem_tokens gauge\ncasmem_tokens %lld\n"
                "# HELP casmem_rate_limited_total Requests refused with 429 by --rate-limit.\n"
                "# TYPE casmem_rate_limited_total counter\ncasmem_rate_limited_total %llu\n",
                static_cast<long long>(tokens_.load()),
                static_cast<unsigned long long>(rate_limited_.load()));
  out += line;
  out += "# HELP casmem_auth_failures_total Requests refused 401 (no token, or an unknown or revoked "
         "one) by client address.\n"
         "# TYPE casmem_auth_failures_total counter\n";
  {
    std::lock_guard lk(auth_mu_);
    for (const auto& [address, n] : auth_failures_) {
      out += "casmem_auth_failures_total{address=\"" + LabelValue(address) + "\"} " + std::to_string(n) + "\n";
    }
  }
  return out;
}

}  // namespace casmem::net
