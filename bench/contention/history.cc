// History checker: sorting by time and version, then one pass per rule.
#include "bench/contention/history.h"

#include <algorithm>
#include <unordered_set>

namespace casmem::bench {

void History::AddRead(const ReadEvent& e) {
  reads_.push_back(e);
}

void History::AddCommit(const CommitEvent& e) {
  commits_.push_back(e);
}

size_t History::commits() const {
  return commits_.size();
}

size_t History::reads() const {
  return reads_.size();
}

std::vector<Violation> History::Check(int64_t initial_counter,
                                     std::optional<int64_t> final_counter) const {
  std::vector<Violation> out;
  auto add = [&](std::string rule, std::string detail) {
    if (out.size() < 100) out.push_back({std::move(rule), std::move(detail)});
  };
  // 1 and 2.
  std::unordered_set<uint64_t> seen;
  for (const CommitEvent& c : commits_) {
    if (c.produced != c.based_on + 1) {
      add("version-step", "agent " + std::to_string(c.agent) + " wrote at version " +
                              std::to_string(c.based_on) + " and the server reported " +
                              std::to_string(c.produced));
    }
    if (!seen.insert(c.produced).second) {
      add("duplicate-version", "version " + std::to_string(c.produced) + " was committed twice");
    }
  }
  // 3. Sweep reads by start time; writes by end time; keep the newest
  // version among writes that ended before the read started.
  std::vector<const CommitEvent*> by_end;
  for (const CommitEvent& c : commits_) by_end.push_back(&c);
  std::sort(by_end.begin(), by_end.end(),
            [](const CommitEvent* a, const CommitEvent* b) { return a->end_ns < b->end_ns; });
  std::vector<const ReadEvent*> by_start;
  for (const ReadEvent& r : reads_) by_start.push_back(&r);
  std::sort(by_start.begin(), by_start.end(),
            [](const ReadEvent* a, const ReadEvent* b) { return a->start_ns < b->start_ns; });
  size_t w = 0;
  uint64_t newest = 0;
  for (const ReadEvent* r : by_start) {
    while (w < by_end.size() && by_end[w]->end_ns < r->start_ns) {
      newest = std::max(newest, by_end[w]->produced);
      ++w;
    }
    if (r->version < newest) {
      add("stale-read", "a read that began after version " + std::to_string(newest) +
                            " was acknowledged returned version " + std::to_string(r->version));
    }
  }
  // 4.
  const int64_t expected = initial_counter + static_cast<int64_t>(commits_.size());
  if (final_counter && *final_counter != expected) {
    add("lost-update", "final counter " + std::to_string(*final_counter) + " but " +
                           std::to_string(commits_.size()) + " updates were acknowledged on top of " +
                           std::to_string(initial_counter) + " (expected " +
                           std::to_string(expected) + ")");
  }
  return out;
}

}  // namespace casmem::bench
