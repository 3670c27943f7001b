// The watch workload of casmem-bench: W watchers on the written prefix and
// K idle watchers on a prefix nobody writes, while N writers make
// unguarded writes (at a total rate, or as fast as they can). Reports
// durable writes/s, delivery latency (watcher's receipt - writer's receipt
// of the acknowledgement, one steady clock) and, per watcher, whether every
// acknowledged write was delivered exactly once in revision order
// (watch_check.h).
//
// Threads: watchers run on one thread's io_context, writers on another's.
// A single loop would stamp each side's receipts late by whatever the
// other side's handlers were doing in the same turn (100 watchers parsing
// one write's events delay the next 200's timestamp, and the reverse), so
// latency would depend on the order epoll reported the sockets; with two
// loops each side stamps its own reads as they complete. Nothing is shared
// while the run lasts except one atomic per watcher (its last revision, for
// the drain at the end); the check runs after both threads are joined.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/contention/watch_target.h"

namespace casmem::bench {

struct WatchConfig {
  int writers = 16;         // one connection each
  int watchers = 0;         // on watch_prefix
  int idle_watchers = 0;    // on idle_prefix (never written)
  int keys = 0;             // keys written (writer a's j-th write: key (a + j*writers) % keys); 0: one per writer
  double rate = 0;          // total writes/s; 0: as fast as the writers go
  double seconds = 10;      // measured
  double warmup_seconds = 1;
  double drain_seconds = 10;  // after the writers stop: how long watchers may take to catch up
  std::string key_prefix = "watch";  // keys are key_prefix + "/k<i>"
  std::string watch_prefix;          // empty: key_prefix + "/"
  std::string idle_prefix;           // empty: key_prefix + "-idle/"
  // The idle watchers' workspace (casmem); empty: the writers' own. In the
  // writers' workspace every change is still offered to each idle watch's
  // filter; in another one it is not.
  std::string idle_workspace;
  int open_parallel = 64;            // watch connections being opened at once
};

struct WatchResult {
  std::string system;
  int writers = 0, watchers = 0, idle_watchers = 0;
  double rate_target = 0, seconds = 0;
  uint64_t writes = 0;         // acknowledged in the measured window
  uint64_t writes_total = 0;   // acknowledged, warm-up included
  double writes_per_s = 0;
  uint64_t in_doubt = 0;       // writes that failed after sending (may have been applied)
  bool since_known = false;    // the watches started at a known revision
  // Delivery latency of writes acknowledged in the measured window, all
  // watchers together.
  uint64_t deliveries = 0, early = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  // Correctness, summed over the watchers (watchers_unclean: how many had
  // any of these).
  uint64_t missing = 0, duplicated = 0, out_of_order = 0, unacked = 0;
  int watchers_unclean = 0;
  uint64_t repeated_revisions = 0;  // two acknowledged writes with one revision
  int watch_disconnects = 0;        // watchers on the prefix that the server ended
  int idle_disconnects = 0;         // idle watchers that the server ended
  uint64_t idle_deliveries = 0;     // changes delivered to idle watchers (nothing is written there)
  int open_failures = 0;            // watches that never opened
  uint64_t heartbeats = 0;          // comment lines received, all watchers
  double drain_ms = 0;              // how long the last watcher took to catch up
  bool drained = true;              // every open watcher caught up before drain_seconds
  std::map<std::string, uint64_t> errors;   // writers', by kind
  std::map<std::string, uint64_t> notices;  // watchers': lagged, compacted, why they ended
  bool verdict = true;  // false: the run could not start (no connection, no start revision)
  bool clean() const {
    // An unacknowledged revision is only explained by a write in doubt.
    return missing == 0 && duplicated == 0 && out_of_order == 0 && (unacked == 0 || in_doubt > 0) &&
           repeated_revisions == 0 &&
           watch_disconnects == 0 && idle_disconnects == 0 && idle_deliveries == 0;
  }
};

WatchResult RunWatch(WatchTarget& target, const WatchConfig& config);

// Output: "table" (human), "csv" (header unless header=false), "json".
void PrintWatch(const WatchResult& r, const std::string& format, bool header);

}  // namespace casmem::bench
