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

}  // namespace casmem::bench
