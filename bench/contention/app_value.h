// The value agents keep under a contended key, as the seed's ledgers do:
// a counter and a bounded list of the agents that last touched it.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace casmem::bench {

struct AppValue {
  static constexpr size_t kMaxAgents = 16;
  int64_t counter = 0;
  std::deque<int> agents;  // newest last, at most kMaxAgents

  // {"counter":N,"agents":[...]}
  std::string ToJson() const;
  static std::optional<AppValue> FromJson(const std::string& json);
  // The read-modify-write step: one more update by `agent`.
  AppValue Updated(int agent) const;

  // The patch workload's value: kPatchAgents entries of -1 to start with;
  // each update adds 1 to counter and appends the agent, and when bounded
  // drops the first entry, so the value keeps its size.
  static constexpr size_t kPatchAgents = 64;
  static AppValue PatchSeed();
  AppValue Patched(int agent, bool bounded) const;
};

}  // namespace casmem::bench
