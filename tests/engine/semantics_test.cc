// Engine semantics of memory-api.md sections 1 and 3, one rule per test:
// versions, guards, create-only, tombstones, TTL, retention.
#include "tests/engine/engine_helpers.h"

namespace casmem {
namespace {

class Semantics : public ::testing::Test {
 protected:
  ManualClock clock{kT0};
  std::unique_ptr<Store> store = MustOpen(MemoryOptions(&clock));
};

TEST_F(Semantics, NewKeyStartsAtVersionOneAndEveryWriteAddsOne) {
  EXPECT_EQ(Put(*store, "k", "1").version, 1u);
  EXPECT_EQ(Put(*store, "k", "2").version, 2u);
  EXPECT_EQ(Put(*store, "k", "3").version, 3u);
  GetResult g = store->Get("ws", "k");
  ASSERT_EQ(g.outcome, Outcome::kOk);
  EXPECT_EQ(g.entry.value, "3");
  EXPECT_EQ(g.entry.version, 3u);
  EXPECT_EQ(g.entry.updated_at_ms, kT0);
  EXPECT_EQ(g.entry.expires_at_ms, 0);
}

TEST_F(Semantics, WorkspacesAreSeparateNamespaces) {
  Put(*store, "k", "\"a\"", std::nullopt, 0, "a");
  Put(*store, "k", "\"b\"", std::nullopt, 0, "b");
  Put(*store, "k", "\"b2\"", std::nullopt, 0, "b");
  EXPECT_EQ(store->Get("a", "k").entry.version, 1u);
  EXPECT_EQ(store->Get("b", "k").entry.value, "\"b2\"");
  EXPECT_EQ(store->Get("c", "k").outcome, Outcome::kNotFound);
}

TEST_F(Semantics, GuardMatchingTheVersionApplies) {
  Put(*store, "k", "1");
  WriteResult r = Put(*store, "k", "2", 1);
  ASSERT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.version, 2u);
  EXPECT_EQ(store->Get("ws", "k").entry.value, "2");
}

TEST_F(Semantics, GuardMismatchReportsCurrentVersionAndValue) {
  Put(*store, "k", "1");
  Put(*store, "k", "{\"n\":2}");
  WriteResult r = Put(*store, "k", "3", 1);
  ASSERT_EQ(r.outcome, Outcome::kConflict);
  ASSERT_TRUE(r.current_version.has_value());
  EXPECT_EQ(*r.current_version, 2u);
  ASSERT_TRUE(r.current_value.has_value());
  EXPECT_EQ(*r.current_value, "{\"n\":2}");
  EXPECT_EQ(store->Get("ws", "k").entry.version, 2u) << "a conflict changes nothing";
}

TEST_F(Semantics, GuardOnAbsentKeyConflictsWithNullCurrentVersion) {
  WriteResult r = Put(*store, "nope", "1", 3);
  ASSERT_EQ(r.outcome, Outcome::kConflict);
  EXPECT_FALSE(r.current_version.has_value());
  EXPECT_FALSE(r.current_value.has_value());
  EXPECT_EQ(store->Get("ws", "nope").outcome, Outcome::kNotFound);
}

TEST_F(Semantics, CreateOnlySucceedsOnAbsentKeyAtVersionOne) {
  WriteResult r = Put(*store, "seed", "[]", 0);
  ASSERT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.version, 1u);
}

TEST_F(Semantics, CreateOnlyConflictsOnExistingKey) {
  Put(*store, "seed", "[1]");
  WriteResult r = Put(*store, "seed", "[]", 0);
  ASSERT_EQ(r.outcome, Outcome::kConflict);
  EXPECT_EQ(r.current_version, 1u);
  EXPECT_EQ(r.current_value, "[1]");
}

TEST_F(Semantics, CreateOnlyOnTombstonedKeyContinuesTheVersion) {
  Put(*store, "k", "1");
  Put(*store, "k", "2");
  ASSERT_EQ(store->Delete("ws", "k", std::nullopt).outcome, Outcome::kOk);
  EXPECT_EQ(store->Get("ws", "k").outcome, Outcome::kNotFound);
  WriteResult r = Put(*store, "k", "3", 0);
  ASSERT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.version, 3u) << "tombstone remembered version 2";
}

TEST_F(Semantics, StaleGuardCannotMatchARecreatedKey) {
  Put(*store, "k", "1");  // v1: an agent reads this
  store->Delete("ws", "k", std::nullopt);
  Put(*store, "k", "fresh");  // v2: a new incarnation
  WriteResult r = Put(*store, "k", "stale", 1);
  EXPECT_EQ(r.outcome, Outcome::kConflict);
  EXPECT_EQ(r.current_version, 2u);
}

TEST_F(Semantics, ExpiredKeyIsAbsentAtTheInstantItExpires) {
  Put(*store, "k", "1", std::nullopt, 1000);
  GetResult g = store->Get("ws", "k");
  ASSERT_EQ(g.outcome, Outcome::kOk);
  EXPECT_EQ(g.entry.expires_at_ms, kT0 + 1000);
  clock.Advance(999);
  EXPECT_EQ(store->Get("ws", "k").outcome, Outcome::kOk);
  clock.Advance(1);
  EXPECT_EQ(store->Get("ws", "k").outcome, Outcome::kNotFound);
  EXPECT_TRUE(store->List("ws", "", "", 10).entries.empty());
  WriteResult guarded = Put(*store, "k", "2", 1);
  EXPECT_EQ(guarded.outcome, Outcome::kConflict);
  EXPECT_FALSE(guarded.current_version.has_value());
}

TEST_F(Semantics, CreateOnlyOnExpiredKeyContinuesTheVersion) {
  Put(*store, "k", "1");
  Put(*store, "k", "2", std::nullopt, 50);
  clock.Advance(50);
  WriteResult r = Put(*store, "k", "3", 0);
  ASSERT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.version, 3u);
  EXPECT_EQ(store->Get("ws", "k").entry.expires_at_ms, 0) << "a write without ttl clears it";
}

TEST_F(Semantics, WriteWithoutTtlClearsTheTtl) {
  Put(*store, "k", "1", std::nullopt, 100);
  Put(*store, "k", "2");
  clock.Advance(1000);
  EXPECT_EQ(store->Get("ws", "k").outcome, Outcome::kOk);
}

TEST_F(Semantics, SweepTurnsExpiredKeysIntoTombstonesThatKeepTheVersion) {
  Put(*store, "k", "1");
  Put(*store, "k", "2", std::nullopt, 10);
  clock.Advance(10);
  store->Sweep();
  StoreCounters c = store->counters();
  EXPECT_EQ(c.live_keys, 0u);
  EXPECT_EQ(c.tombstones, 1u);
  EXPECT_EQ(Put(*store, "k", "3").version, 3u);
}

TEST_F(Semantics, TombstonesAreForgottenAfterRetentionAndTheKeyRestartsAtOne) {
  Put(*store, "k", "1");
  Put(*store, "k", "2");
  store->Delete("ws", "k", std::nullopt);
  clock.Advance(24LL * 3600 * 1000 - 1);
  store->Sweep();
  EXPECT_EQ(store->counters().tombstones, 1u) << "kept for the whole retention";
  clock.Advance(1);
  store->Sweep();
  EXPECT_EQ(store->counters().tombstones, 0u);
  EXPECT_EQ(Put(*store, "k", "new").version, 1u);
}

// The sweep scans a shard only when something in it can be due, and never
// misses what is: bounds lowered by later writes, recomputed after a scan.
TEST_F(Semantics, SweepScansOnlyWhenSomethingIsDueAndMissesNothing) {
  for (int i = 0; i < 100; ++i) Put(*store, "plain" + std::to_string(i), "1");
  store->Sweep();
  EXPECT_EQ(store->counters().sweep_scans, 0u) << "no TTL, no tombstone: nothing to scan";
  Put(*store, "late", "1", std::nullopt, 10'000);
  clock.Advance(5'000);
  store->Sweep();
  EXPECT_EQ(store->counters().sweep_scans, 0u) << "the only TTL is 5 s away";
  // A later write with an earlier expiry lowers the bound.
  Put(*store, "soon", "1", std::nullopt, 1'000);
  Put(*store, "soon2", "1", std::nullopt, 3'000);
  clock.Advance(1'000);
  store->Sweep();
  StoreCounters c = store->counters();
  EXPECT_EQ(c.sweep_scans, 1u);
  EXPECT_EQ(c.tombstones, 1u);  // soon
  EXPECT_EQ(c.live_keys, 102u);
  // The scan recomputed the bound: soon2 (2 s away), then late (4 s).
  clock.Advance(1'000);
  store->Sweep();
  EXPECT_EQ(store->counters().sweep_scans, 1u);
  clock.Advance(1'000);
  store->Sweep();
  EXPECT_EQ(store->counters().tombstones, 2u);
  clock.Advance(2'000);
  store->Sweep();
  c = store->counters();
  EXPECT_EQ(c.tombstones, 3u);
  EXPECT_EQ(c.live_keys, 100u);
  // Tombstones: nothing to do until the oldest one reaches the retention.
  const uint64_t scans = c.sweep_scans;
  store->Delete("ws", "plain0", std::nullopt);
  clock.Advance(1'000);
  store->Sweep();
  EXPECT_EQ(store->counters().sweep_scans, scans);
  clock.Advance(24LL * 3600 * 1000);
  store->Sweep();
  c = store->counters();
  EXPECT_GT(c.sweep_scans, scans);
  EXPECT_LE(c.sweep_scans, scans + 4);  // the shards of the 4 tombstones
  EXPECT_EQ(c.tombstones, 0u);
  EXPECT_EQ(c.live_keys, 99u);
}

TEST_F(Semantics, DeleteOfAbsentKeySucceedsAndLogsNothing) {
  WriteResult r = store->Delete("ws", "ghost", std::nullopt);
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(store->counters().tombstones, 0u);
}

TEST_F(Semantics, GuardedDeleteAppliesOnlyAtTheVersion) {
  Put(*store, "k", "1");
  Put(*store, "k", "2");
  WriteResult miss = store->Delete("ws", "k", 1);
  ASSERT_EQ(miss.outcome, Outcome::kConflict);
  EXPECT_EQ(miss.current_version, 2u);
  EXPECT_EQ(miss.current_value, "2");
  EXPECT_EQ(store->Get("ws", "k").outcome, Outcome::kOk);
  WriteResult hit = store->Delete("ws", "k", 2);
  ASSERT_EQ(hit.outcome, Outcome::kOk);
  EXPECT_TRUE(hit.applied);
  EXPECT_EQ(store->Get("ws", "k").outcome, Outcome::kNotFound);
  WriteResult absent = store->Delete("ws", "k", 2);
  EXPECT_EQ(absent.outcome, Outcome::kConflict);
  EXPECT_FALSE(absent.current_version.has_value());
}

TEST_F(Semantics, ValueGrowsAndShrinksInPlaceOrMoved) {
  std::string big(5000, 'x');
  Put(*store, "k", "\"" + big + "\"");
  Put(*store, "k", "1");
  Put(*store, "k", "\"" + big + big + "\"");
  EXPECT_EQ(store->Get("ws", "k").entry.value.size(), 2 * big.size() + 2);
  EXPECT_EQ(store->Get("ws", "k").entry.version, 3u);
  EXPECT_EQ(store->List("ws", "", "", 10).entries.size(), 1u);
}

TEST_F(Semantics, InvalidArgumentsAreRefused) {
  EXPECT_EQ(Put(*store, "", "1").outcome, Outcome::kInvalid);
  EXPECT_EQ(Put(*store, std::string(1025, 'k'), "1").outcome, Outcome::kInvalid);
  EXPECT_EQ(Put(*store, std::string(1024, 'k'), "1").outcome, Outcome::kOk);
  EXPECT_EQ(Put(*store, std::string("a\0b", 3), "1").outcome, Outcome::kInvalid);
  // Keys are UTF-8 for the engine too, not only for the HTTP handler: a
  // lone surrogate's bytes (ED B0 80) or a stray continuation byte are refused.
  const WriteResult surrogate = Put(*store, "\xed\xb0\x80", "1");
  EXPECT_EQ(surrogate.outcome, Outcome::kInvalid);
  EXPECT_EQ(surrogate.error, "key is not valid UTF-8");
  EXPECT_EQ(Put(*store, "a\x80", "1").outcome, Outcome::kInvalid);
  EXPECT_EQ(Put(*store, "caf\xc3\xa9", "1").outcome, Outcome::kOk);
  EXPECT_EQ(Put(*store, "k", "1", std::nullopt, 0, "bad ws").outcome, Outcome::kInvalid);
  EXPECT_EQ(Put(*store, "k", "1", std::nullopt, 0, std::string(129, 'w')).outcome,
            Outcome::kInvalid);
  EXPECT_EQ(Put(*store, "k", "").outcome, Outcome::kInvalid);
  EXPECT_EQ(Put(*store, "k", std::string((1 << 20) + 1, '1')).outcome, Outcome::kTooLarge);
  EXPECT_EQ(store->Get("ws", "").outcome, Outcome::kInvalid);
  EXPECT_EQ(store->Delete("ws", "", std::nullopt).outcome, Outcome::kInvalid);
}

}  // namespace
}  // namespace casmem
