// List: bytewise order, prefix, after, limit and `more` across shards,
// checked against a std::map model; paging visits every key exactly once.
#include <map>
#include <random>

#include "tests/engine/engine_helpers.h"

namespace casmem {
namespace {

class ListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(7);
    const char* prefixes[] = {"task:", "task:done:", "backlog:", "b", "", "\xc3\xa9t\xc3\xa9:"};
    for (int i = 0; i < 3000; ++i) {
      std::string key = std::string(prefixes[rng() % 6]) + std::to_string(rng() % 5000);
      const std::string value = std::to_string(i);
      Put(*store, key, value);
      model[key] = value;
    }
    // Deleted and other-workspace keys must never show.
    for (int i = 0; i < 300; ++i) {
      auto it = std::next(model.begin(), static_cast<long>(rng() % model.size()));
      store->Delete("ws", it->first, std::nullopt);
      model.erase(it);
    }
    Put(*store, "task:1", "\"other\"", std::nullopt, 0, "other-ws");
  }

  std::vector<std::string> Expected(const std::string& prefix, const std::string& after, size_t limit) {
    std::vector<std::string> out;
    for (auto it = model.upper_bound(after); it != model.end() && out.size() < limit; ++it) {
      if (it->first.starts_with(prefix)) out.push_back(it->first);
    }
    // upper_bound("") skips the empty key, which cannot exist anyway.
    return out;
  }

  ManualClock clock{kT0};
  std::unique_ptr<Store> store = MustOpen(MemoryOptions(&clock));
  std::map<std::string, std::string> model;
};

TEST_F(ListTest, MatchesTheModelForEveryPrefixAfterAndLimit) {
  for (std::string prefix : {"", "task:", "task:done:", "b", "backlog:9", "zzz", "\xc3\xa9"}) {
    for (std::string after : {"", "a", "task:", "task:2", "backlog:5000", "\xff"}) {
      for (size_t limit : {1, 7, 100, 10000}) {
        ListResult r = store->List("ws", prefix, after, limit);
        std::vector<std::string> keys;
        for (const auto& e : r.entries) {
          keys.push_back(e.key);
          EXPECT_EQ(e.value, model[e.key]);
        }
        const auto want = Expected(prefix, after, limit);
        ASSERT_EQ(keys, want) << "prefix=" << prefix << " after=" << after << " limit=" << limit;
        EXPECT_EQ(r.more, Expected(prefix, after, limit + 1).size() > limit);
      }
    }
  }
}

TEST_F(ListTest, PagingWithAfterVisitsEveryKeyOnce) {
  std::vector<std::string> seen;
  std::string after;
  for (;;) {
    ListResult r = store->List("ws", "", after, 97);
    for (const auto& e : r.entries) seen.push_back(e.key);
    if (!r.more) break;
    after = r.entries.back().key;
  }
  std::vector<std::string> all;
  for (const auto& [k, v] : model) all.push_back(k);
  EXPECT_EQ(seen, all);
}

TEST_F(ListTest, OtherWorkspacesAndUnknownWorkspacesAreSeparate) {
  ListResult other = store->List("other-ws", "", "", 100);
  ASSERT_EQ(other.entries.size(), 1u);
  EXPECT_EQ(other.entries[0].value, "\"other\"");
  EXPECT_TRUE(store->List("nobody", "", "", 100).entries.empty());
}

TEST_F(ListTest, ExpiredEntriesAreSkipped) {
  Put(*store, "aaa-ttl", "1", std::nullopt, 10);
  EXPECT_EQ(store->List("ws", "aaa-", "", 10).entries.size(), 1u);
  clock.Advance(10);
  EXPECT_TRUE(store->List("ws", "aaa-", "", 10).entries.empty());
}

TEST(ListSingleShard, OrderHoldsWithOneShard) {
  ManualClock clock{kT0};
  auto store = MustOpen(MemoryOptions(&clock, 1));
  for (std::string k : {"b", "a", "c", "ab", "\x01", "\xf4\x8f\xbf\xbf"}) Put(*store, k, "1");
  ListResult r = store->List("ws", "", "", 100);
  std::vector<std::string> keys;
  for (auto& e : r.entries) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"\x01", "a", "ab", "b", "c", "\xf4\x8f\xbf\xbf"}));
}

}  // namespace
}  // namespace casmem
