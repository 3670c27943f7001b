// History of a single-key contention run and its checker. Agents record
// what they saw (reads with the version returned, committed writes with the
// version they were based on and the one they produced), with real-time
// start/end stamps; Check() verifies what compare-and-set promises:
//   1. a write committed against version V produced V + 1;
//   2. no version was committed twice;
//   3. a read returned a version at least as new as the newest write that
//      completed before the read began (no stale reads);
//   4. the final counter equals the initial one plus the committed updates
//      (no lost update).
// The patch and txn workloads (no versions to compare, the server changes
// the value itself) are checked on their final values instead, by the
// functions after the class: every acknowledged update is in a counter
// exactly once; operations whose outcome the client never learned (a
// transport error after sending) may or may not be.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace casmem::bench {

struct ReadEvent {
  uint64_t start_ns, end_ns;
  uint64_t version;  // 0 = key absent
};

struct CommitEvent {
  uint64_t start_ns, end_ns;  // of the write request that committed
  uint64_t based_on;          // if_match_version sent
  uint64_t produced;          // version the server reported
  int agent;
};

struct Violation {
  std::string rule;    // "version-step", "duplicate-version", "stale-read", "lost-update"
  std::string detail;
};

// Not thread-safe: the runner records from its one io_context thread.
class History {
 public:
  void AddRead(const ReadEvent& e);
  void AddCommit(const CommitEvent& e);
  // Checks every rule; `initial_counter` / `final_counter` are the counter
  // field before the run and as read after it. Without a final counter
  // (the final read failed) rule 4 cannot be checked and is skipped.
  std::vector<Violation> Check(int64_t initial_counter, std::optional<int64_t> final_counter) const;
  size_t commits() const;
  size_t reads() const;

 private:
  std::vector<ReadEvent> reads_;
  std::vector<CommitEvent> commits_;
};

// One counter key after a patch or txn run. `acknowledged` is the sum of
// the deltas the server acknowledged; `doubt_up` / `doubt_down` the sums of
// the positive / negative deltas of operations whose outcome is unknown.
// The final counter must be initial + acknowledged, give or take only
// operations in doubt, each by its own delta in its own direction:
// "counter-low" / "counter-high" otherwise. For increments (patch) low
// means an acknowledged update was lost and high that one was applied
// twice; for a txn's decremented key, the other way round.
struct CounterCheck {
  std::string key;
  int64_t initial = 0;
  int64_t acknowledged = 0;
  int64_t doubt_up = 0, doubt_down = 0;
};
std::vector<Violation> CheckCounter(const CounterCheck& c, int64_t final_counter);

// txn: the counters of the pair add up to what they started with
// ("not-conserved"), whatever the operations in doubt did: a transaction
// applies whole or not at all.
std::vector<Violation> CheckConserved(int64_t initial_total, int64_t final_total);

// patch: the agents lists of the patched keys. Every applied update
// appended its agent once and, when bounded, removed the list's first
// entry: each key's list has initial_length entries (bounded) or
// initial_length + the updates applied to it (growing: "list-length").
// Growing lists also keep every update's agent: agent i appears
// acknowledged[i] times across all lists, plus at most in_doubt[i] more
// ("agent-count"; the seed's entries are -1).
struct AgentListCheck {
  size_t initial_length = 0;
  bool bounded = true;
  std::vector<int64_t> acknowledged, in_doubt;  // per agent
};
// `lists[k]` is key k's final list, `applied[k]` its final counter minus
// its initial one.
std::vector<Violation> CheckAgentLists(const AgentListCheck& c, const std::vector<std::vector<int>>& lists,
                                       const std::vector<int64_t>& applied);

}  // namespace casmem::bench
