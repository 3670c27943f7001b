// History checker: sorting by time and version, then one pass per rule;
// the final-value checks of the patch and txn workloads.
#include "bench/contention/history.h"

#include <algorithm>
#include <map>
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

std::vector<Violation> CheckCounter(const CounterCheck& c, int64_t final_counter) {
  const int64_t expected = c.initial + c.acknowledged;
  const std::string what = "key " + c.key + ": final counter " + std::to_string(final_counter) + ", but " +
                           std::to_string(c.initial) + " + acknowledged " + std::to_string(c.acknowledged) +
                           " = " + std::to_string(expected);
  const std::string doubt = c.doubt_up || c.doubt_down ? " (operations in doubt: +" + std::to_string(c.doubt_up) +
                                                             " -" + std::to_string(c.doubt_down) + ")"
                                                       : "";
  if (final_counter < expected - c.doubt_down) return {{"counter-low", what + doubt}};
  if (final_counter > expected + c.doubt_up) return {{"counter-high", what + doubt}};
  return {};
}

std::vector<Violation> CheckConserved(int64_t initial_total, int64_t final_total) {
  if (initial_total == final_total) return {};
  return {{"not-conserved", "the pair's counters add up to " + std::to_string(final_total) + ", not " +
                                std::to_string(initial_total)}};
}

std::vector<Violation> CheckAgentLists(const AgentListCheck& c, const std::vector<std::vector<int>>& lists,
                                       const std::vector<int64_t>& applied) {
  std::vector<Violation> out;
  auto add = [&](std::string rule, std::string detail) {
    if (out.size() < 100) out.push_back({std::move(rule), std::move(detail)});
  };
  std::map<int, int64_t> seen;  // agent -> entries in all lists
  for (size_t k = 0; k < lists.size(); ++k) {
    const int64_t grown = k < applied.size() ? applied[k] : 0;
    const int64_t want = static_cast<int64_t>(c.initial_length) + (c.bounded ? 0 : grown);
    if (static_cast<int64_t>(lists[k].size()) != want) {
      add("list-length", "key " + std::to_string(k) + ": " + std::to_string(lists[k].size()) +
                             " agents listed, expected " + std::to_string(want));
    }
    for (int a : lists[k]) seen[a]++;
  }
  if (c.bounded) return out;
  const size_t n = std::max(c.acknowledged.size(), c.in_doubt.size());
  for (size_t i = 0; i < n; ++i) {
    const int64_t acked = i < c.acknowledged.size() ? c.acknowledged[i] : 0;
    const int64_t doubt = i < c.in_doubt.size() ? c.in_doubt[i] : 0;
    const int64_t got = seen.count(static_cast<int>(i)) ? seen[static_cast<int>(i)] : 0;
    if (got < acked || got > acked + doubt) {
      add("agent-count", "agent " + std::to_string(i) + " is listed " + std::to_string(got) + " times after " +
                             std::to_string(acked) + " acknowledged updates" +
                             (doubt ? " and " + std::to_string(doubt) + " in doubt" : ""));
    }
  }
  for (const auto& [agent, count] : seen) {
    if (agent >= 0 && static_cast<size_t>(agent) >= n) {
      add("agent-count", "agent " + std::to_string(agent) + " is listed " + std::to_string(count) +
                             " times but never updated");
    }
  }
  return out;
}

}  // namespace casmem::bench
