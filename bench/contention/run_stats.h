// The summary figures every run fills the same way (runner.cc, handshake.cc):
// latency percentiles and how evenly the agents were served.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bench/contention/runner.h"

namespace casmem::bench {

// The q-quantile of `v` (reordered); 0 when empty.
inline double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

// lat_p50/p90/p99/p999/max_ms of `latencies_ms` (reordered), if any.
inline void FillLatencies(std::vector<double>& latencies_ms, RunResult* r) {
  if (latencies_ms.empty()) return;
  r->lat_max_ms = *std::max_element(latencies_ms.begin(), latencies_ms.end());
  r->lat_p50_ms = Percentile(latencies_ms, 0.50);
  r->lat_p90_ms = Percentile(latencies_ms, 0.90);
  r->lat_p99_ms = Percentile(latencies_ms, 0.99);
  r->lat_p999_ms = Percentile(latencies_ms, 0.999);
}

// agent_min/median/max and agents_zero from each agent's completed count.
inline void FillAgentSpread(std::vector<uint64_t> per_agent, RunResult* r) {
  if (per_agent.empty()) return;
  std::sort(per_agent.begin(), per_agent.end());
  r->agent_min = per_agent.front();
  r->agent_median = per_agent[per_agent.size() / 2];
  r->agent_max = per_agent.back();
  r->agents_zero = static_cast<int>(std::count(per_agent.begin(), per_agent.end(), 0));
}

}  // namespace casmem::bench
