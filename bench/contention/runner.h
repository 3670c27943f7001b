// Runner: plays N agents against one Driver on one io_context thread, for
// a duration or an operation count after a warm-up, and gathers what the
// report needs. Workloads:
//   cas    read, modify, write back with if_match_version; retry on 409
//   lww    the same modification without the guard (shows lost updates)
//   create agents race to seed fresh keys with if_match_version 0
//   read   GETs of existing keys
//   write  LWW upserts of distinct keys
//   patch  one server-side update per operation, no guard (Driver::Patch):
//          counter + 1, the agent appended, and (unless patch_grow) the
//          first agent removed; keys start with 64 agents listed
//   txn    one two-key update per operation (Driver::Move) on one pair:
//          even agents move 1 from the first key's counter to the
//          second's, odd agents back
// patch and txn are checked on the final values (history.h): counters
// hold every acknowledged update exactly once, txn conserves the pair's
// total, patch's lists have the expected length (and, growing, every
// agent's acknowledged updates).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/contention/driver.h"
#include "bench/contention/history.h"

namespace casmem::bench {

struct RunConfig {
  std::string workload = "cas";
  int agents = 16;
  int keys = 1;
  bool zipfian = false;
  double zipf_s = 0.99;
  double seconds = 10;      // measured time (after the warm-up)
  uint64_t ops = 0;         // > 0: stop after this many committed operations instead
  double warmup_seconds = 1;
  bool retry_read = false;  // on 409, read again instead of using the 409's current value
  // Full-jitter exponential backoff before every retry (backoff.h), which
  // then always re-reads (the 409's value is stale after a sleep).
  bool exp_backoff = false;
  double backoff_base_ms = 0.5;
  double backoff_max_ms = 50;
  std::string key_prefix = "bench";
  bool progress = false;    // live line on stderr
  bool patch_grow = false;  // patch: append without removing (the value grows)
  // patch / txn: the fraction of operations whose first answer is dropped
  // (connection closed after sending) and that are sent again with the
  // same Idempotency-Key (casmem only).
  double drop_responses = 0;
  bool idempotency_keys = false;  // patch / txn: an Idempotency-Key on every operation
  // Each read and guarded write waits U(0, send_jitter_us) µs before it is
  // sent (0: sent at once, from the handler of the previous answer).
  double send_jitter_us = 0;
};

struct RunResult {
  std::string system, workload;
  int agents = 0, keys = 0;
  double seconds = 0;  // measured window
  uint64_t commits = 0, attempts = 0, conflicts = 0;
  double commits_per_s = 0, attempts_per_s = 0, conflicts_per_s = 0;
  double retries_mean = 0, retries_p99 = 0, retries_max = 0;
  double lat_p50_ms = 0, lat_p90_ms = 0, lat_p99_ms = 0, lat_p999_ms = 0, lat_max_ms = 0;
  uint64_t agent_min = 0, agent_median = 0, agent_max = 0;  // commits per agent (measured window)
  int agents_zero = 0;                                     // agents with no commit in it
  std::map<std::string, uint64_t> errors;                  // by kind
  int64_t lost_updates = 0;  // cas / lww: acknowledged updates missing from the final values
  bool final_read_ok = true;  // false: the final values could not be read, lost_updates unknown
  uint64_t create_keys = 0, create_bad_keys = 0;  // create: keys without exactly one winner
  std::vector<Violation> violations;
  bool history_checked = false;
  // Log syncs over the agents' part of the run (warm-up included), when
  // the system reports them (casmem's /metrics), and the acknowledged
  // updates in the same span per sync.
  bool fsyncs_known = false;
  uint64_t fsyncs = 0, updates = 0;
  double updates_per_fsync = 0;
  // patch / txn, whole run: injected drops, answers that were replays,
  // 409 "request in progress" waited out, operations left in doubt
  // (transport error after sending: applied or not, the client cannot know).
  uint64_t dropped = 0, replays = 0, in_progress = 0, in_doubt = 0;
  std::vector<int64_t> final_counters;  // patch / txn: per key, when read back
  // "unauthorized" or "forbidden" (refusal.h) when the server refused the
  // run's requests from the first on: the run stopped there and has no
  // verdict (no final read, no history check). Empty otherwise.
  std::string refused;
};

RunResult Run(Driver& driver, const RunConfig& config);

}  // namespace casmem::bench
