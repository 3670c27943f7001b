// The contention benchmark's checkers on hand-made data: the cas history
// rules, the patch / txn final-value checks (each off by one must fail),
// and the fsync count read from /metrics.
#include "bench/contention/history.h"

#include <gtest/gtest.h>

#include "bench/contention/driver.h"

namespace casmem::bench {
namespace {

std::vector<std::string> Rules(const std::vector<Violation>& v) {
  std::vector<std::string> out;
  for (const auto& x : v) out.push_back(x.rule);
  return out;
}

// Three agents, interleaved, every rule kept.
History Valid() {
  History h;
  h.AddRead({0, 10, 1});
  h.AddRead({5, 12, 1});
  h.AddCommit({20, 30, 1, 2, 0});
  h.AddCommit({25, 40, 2, 3, 1});  // retried from the 409's version
  h.AddRead({41, 45, 3});
  h.AddRead({35, 50, 2});  // overlaps the second commit: 2 is allowed
  h.AddCommit({50, 60, 3, 4, 2});
  return h;
}

TEST(History, AValidHistoryHasNoViolation) {
  EXPECT_TRUE(Valid().Check(0, 3).empty());
}

TEST(History, EmptyHistoryIsValid) {
  History h;
  EXPECT_TRUE(h.Check(7, 7).empty());
}

// When the final value could not be read (the server went away), the
// lost-update rule has nothing to check; the other rules still apply.
TEST(History, WithoutAFinalValueOnlyTheFinalRuleIsSkipped) {
  EXPECT_TRUE(Valid().Check(0, std::nullopt).empty());
  History h = Valid();
  h.AddCommit({70, 80, 4, 6, 0});
  EXPECT_EQ(Rules(h.Check(0, std::nullopt)), (std::vector<std::string>{"version-step"}));
  EXPECT_EQ(Rules(Valid().Check(0, 2)), (std::vector<std::string>{"lost-update"}));
}

TEST(History, AWriteThatSkippedAVersionIsReported) {
  History h = Valid();
  h.AddCommit({70, 80, 4, 6, 0});
  EXPECT_EQ(Rules(h.Check(0, 4)), (std::vector<std::string>{"version-step"}));
}

TEST(History, ADuplicatedVersionIsReported) {
  History h = Valid();
  h.AddCommit({70, 80, 3, 4, 1});  // a second commit producing version 4
  auto rules = Rules(h.Check(0, 4));
  EXPECT_NE(std::find(rules.begin(), rules.end(), "duplicate-version"), rules.end());
}

TEST(History, AStaleReadAfterACompletedWriteIsReported) {
  History h = Valid();
  h.AddRead({61, 70, 3});  // began after version 4 was acknowledged at 60
  EXPECT_EQ(Rules(h.Check(0, 3)), (std::vector<std::string>{"stale-read"}));
}

TEST(History, AReadConcurrentWithAWriteMayReturnTheOldVersion) {
  History h = Valid();
  h.AddRead({55, 70, 3});  // began before the commit of 4 ended at 60
  EXPECT_TRUE(h.Check(0, 3).empty());
}

TEST(History, ALostUpdateIsReported) {
  History h = Valid();
  EXPECT_EQ(Rules(h.Check(0, 2)), (std::vector<std::string>{"lost-update"}));
  EXPECT_EQ(Rules(h.Check(10, 13)), (std::vector<std::string>{})) << "initial counter counts";
}

}  // namespace
}  // namespace casmem::bench

// ---- patch and txn: final values against what was acknowledged ----

namespace casmem::bench {
namespace {

CounterCheck Counter(int64_t initial, int64_t acked, int64_t up = 0, int64_t down = 0) {
  CounterCheck c;
  c.key = "k";
  c.initial = initial;
  c.acknowledged = acked;
  c.doubt_up = up;
  c.doubt_down = down;
  return c;
}

TEST(CounterCheck, ExactWithoutDoubtAndOffByOneEitherWayFails) {
  EXPECT_TRUE(CheckCounter(Counter(0, 500), 500).empty());
  EXPECT_TRUE(CheckCounter(Counter(10, -3), 7).empty());
  EXPECT_EQ(Rules(CheckCounter(Counter(0, 500), 499)), (std::vector<std::string>{"counter-low"}));
  EXPECT_EQ(Rules(CheckCounter(Counter(0, 500), 501)), (std::vector<std::string>{"counter-high"}));
  EXPECT_EQ(Rules(CheckCounter(Counter(10, -3), 6)), (std::vector<std::string>{"counter-low"}));
  EXPECT_EQ(Rules(CheckCounter(Counter(10, -3), 8)), (std::vector<std::string>{"counter-high"}));
}

// An operation in doubt may have been applied (once) or not: the counter
// may move by it in its direction only, never further.
TEST(CounterCheck, OperationsInDoubtWidenTheRangeInTheirDirectionOnly) {
  EXPECT_TRUE(CheckCounter(Counter(0, 500, 2), 500).empty());
  EXPECT_TRUE(CheckCounter(Counter(0, 500, 2), 502).empty());
  EXPECT_EQ(Rules(CheckCounter(Counter(0, 500, 2), 503)), (std::vector<std::string>{"counter-high"}));
  EXPECT_EQ(Rules(CheckCounter(Counter(0, 500, 2), 499)), (std::vector<std::string>{"counter-low"}));
  EXPECT_TRUE(CheckCounter(Counter(0, 0, 1, 1), -1).empty());
  EXPECT_TRUE(CheckCounter(Counter(0, 0, 1, 1), 1).empty());
  EXPECT_EQ(Rules(CheckCounter(Counter(0, 0, 1, 1), -2)), (std::vector<std::string>{"counter-low"}));
}

TEST(CounterCheck, APairMustConserveItsTotal) {
  EXPECT_TRUE(CheckConserved(0, 0).empty());
  EXPECT_TRUE(CheckConserved(100, 100).empty());
  EXPECT_EQ(Rules(CheckConserved(0, 1)), (std::vector<std::string>{"not-conserved"}));
  EXPECT_EQ(Rules(CheckConserved(0, -1)), (std::vector<std::string>{"not-conserved"}));
}

std::vector<int> Seeded(size_t n) {
  return std::vector<int>(n, -1);
}

TEST(AgentLists, BoundedListsKeepTheirLength) {
  AgentListCheck c;
  c.initial_length = 4;
  c.bounded = true;
  c.acknowledged = {3, 1};
  EXPECT_TRUE(CheckAgentLists(c, {{0, 1, 0, 0}}, {4}).empty());
  EXPECT_EQ(Rules(CheckAgentLists(c, {{0, 1, 0, 0, 0}}, {4})), (std::vector<std::string>{"list-length"}));
  EXPECT_EQ(Rules(CheckAgentLists(c, {{1, 0, 0}}, {4})), (std::vector<std::string>{"list-length"}));
}

TEST(AgentLists, GrowingListsHoldEveryAcknowledgedUpdateOnce) {
  AgentListCheck c;
  c.initial_length = 2;
  c.bounded = false;
  c.acknowledged = {2, 1};
  c.in_doubt = {0, 0};
  std::vector<int> ok = Seeded(2);
  ok.insert(ok.end(), {0, 1, 0});
  EXPECT_TRUE(CheckAgentLists(c, {ok}, {3}).empty());
  // Agent 0's second update is missing and agent 1's doubled: the length
  // still fits, the per-agent counts do not.
  std::vector<int> swapped = Seeded(2);
  swapped.insert(swapped.end(), {0, 1, 1});
  EXPECT_EQ(Rules(CheckAgentLists(c, {swapped}, {3})), (std::vector<std::string>{"agent-count", "agent-count"}));
  // One update too many (and the counter says so too).
  std::vector<int> extra = ok;
  extra.push_back(1);
  EXPECT_EQ(Rules(CheckAgentLists(c, {extra}, {3})), (std::vector<std::string>{"list-length", "agent-count"}));
  EXPECT_EQ(Rules(CheckAgentLists(c, {extra}, {4})), (std::vector<std::string>{"agent-count"}));
  // An agent that never updated appears.
  std::vector<int> stranger = ok;
  stranger.push_back(7);
  EXPECT_EQ(Rules(CheckAgentLists(c, {stranger}, {4})), (std::vector<std::string>{"agent-count"}));
}

TEST(AgentLists, AnUpdateInDoubtMayOrMayNotBeListed) {
  AgentListCheck c;
  c.initial_length = 1;
  c.bounded = false;
  c.acknowledged = {1};
  c.in_doubt = {1};
  EXPECT_TRUE(CheckAgentLists(c, {{-1, 0}}, {1}).empty());
  EXPECT_TRUE(CheckAgentLists(c, {{-1, 0, 0}}, {2}).empty());
  EXPECT_EQ(Rules(CheckAgentLists(c, {{-1, 0, 0, 0}}, {3})), (std::vector<std::string>{"agent-count"}));
  EXPECT_EQ(Rules(CheckAgentLists(c, {{-1}}, {0})), (std::vector<std::string>{"agent-count"}));
}

// Several patched keys: lengths per key, agent counts over all of them.
TEST(AgentLists, CountsAddUpAcrossKeys) {
  AgentListCheck c;
  c.initial_length = 0;
  c.bounded = false;
  c.acknowledged = {2};
  EXPECT_TRUE(CheckAgentLists(c, {{0}, {0}}, {1, 1}).empty());
  EXPECT_EQ(Rules(CheckAgentLists(c, {{0}, {}}, {1, 0})), (std::vector<std::string>{"agent-count"}));
}

// Updates per fsync come from casmemd's /metrics text.
TEST(Metrics, FsyncCountIsReadFromItsOwnLineOnly) {
  EXPECT_EQ(ParseFsyncs("# HELP casmem_wal_fsyncs_total fdatasync calls on the WAL.\n"
                        "# TYPE casmem_wal_fsyncs_total counter\ncasmem_wal_fsyncs_total 1234\nx 1\n"),
            std::optional<uint64_t>(1234));
  EXPECT_EQ(ParseFsyncs("casmem_wal_fsyncs_total 7\n"), std::optional<uint64_t>(7));
  EXPECT_EQ(ParseFsyncs("# TYPE casmem_wal_fsyncs_total counter\n"), std::nullopt);
  EXPECT_EQ(ParseFsyncs("casmem_wal_fsyncs_total_other 5\n"), std::nullopt);
  EXPECT_EQ(ParseFsyncs(""), std::nullopt);
}

}  // namespace
}  // namespace casmem::bench
