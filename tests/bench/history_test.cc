// The contention benchmark's history checker, on hand-made histories that
// break each rule and on valid ones.
#include "bench/contention/history.h"

#include <gtest/gtest.h>

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
