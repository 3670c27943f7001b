// Runner: plays N agents against one Driver on one io_context thread, for
// a duration or an operation count after a warm-up, and gathers what the
// report needs. Workloads:
//   cas    read, modify, write back with if_match_version; retry on 409
//   lww    the same modification without the guard (shows lost updates)
//   create agents race to seed fresh keys with if_match_version 0
//   read   GETs of existing keys
//   write  LWW upserts of distinct keys
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
  bool exp_backoff = false; // full-jitter exponential backoff between retries
  double backoff_base_ms = 0.5;
  double backoff_max_ms = 50;
  std::string key_prefix = "bench";
  bool progress = false;    // live line on stderr
};

struct RunResult {
  std::string system, workload;
  int agents = 0, keys = 0;
  double seconds = 0;  // measured window
  uint64_t commits = 0, attempts = 0, conflicts = 0;
  double commits_per_s = 0, attempts_per_s = 0, conflicts_per_s = 0;
  double retries_mean = 0, retries_p99 = 0, retries_max = 0;
  double lat_p50_ms = 0, lat_p90_ms = 0, lat_p99_ms = 0, lat_p999_ms = 0, lat_max_ms = 0;
  uint64_t agent_min = 0, agent_median = 0, agent_max = 0;  // commits per agent
  std::map<std::string, uint64_t> errors;                  // by kind
  int64_t lost_updates = 0;  // cas / lww: acknowledged updates missing from the final values
  bool final_read_ok = true;  // false: the final values could not be read, lost_updates unknown
  uint64_t create_keys = 0, create_bad_keys = 0;  // create: keys without exactly one winner
  std::vector<Violation> violations;
  bool history_checked = false;
};

RunResult Run(Driver& driver, const RunConfig& config);

}  // namespace casmem::bench
