// The workspace table: a workspace is registered by an applied write only
// (refused writes of any kind leave no trace), released once it holds no
// live entry and no tombstone, and a released index reused by another
// workspace never mixes their keys.
#include <malloc.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/engine/engine_helpers.h"

namespace casmem {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

std::string Name(int i) { return "ws-" + std::to_string(i) + "-0123456789abcdef0123456789abcdef"; }

TEST(WorkspaceTable, AMillionRefusedWritesToDistinctWorkspacesRegisterNone) {
  ManualClock clock{kT0};
  auto store = MustOpen(MemoryOptions(&clock));
  // Warm up the allocator and the table's own storage before measuring.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(store->Put(PutRequest{Name(i), "k", "1", 7, 0, {}, nullptr}).outcome, Outcome::kConflict);
  }
  const size_t before = mallinfo2().uordblks;
  constexpr int kWrites = 1'000'000;
  for (int i = 0; i < kWrites; ++i) {
    const std::string ws = Name(i);
    // A 409: a guard on a key that does not exist (and a delete guard).
    WriteResult w = store->Put(PutRequest{ws, "k", "1", 7, 0, {}, nullptr});
    ASSERT_EQ(w.outcome, Outcome::kConflict);
    if (i % 16 == 0) {
      ASSERT_EQ(store->Delete(ws, "k", 3).outcome, Outcome::kConflict);
      ASSERT_EQ(store->Delete(ws, "k", std::nullopt).outcome, Outcome::kOk);  // absent: a no-op
    }
  }
  // 400s: refused by the store's own checks.
  const std::string too_big(store->options().max_value_bytes + 1, '1');
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(store->Put(PutRequest{Name(i), "k", too_big, std::nullopt, 0, {}, nullptr}).outcome,
              Outcome::kTooLarge);
    ASSERT_EQ(store->Put(PutRequest{Name(i), "k", "1", std::nullopt, -5, {}, nullptr}).outcome,
              Outcome::kInvalid);
  }
  EXPECT_EQ(store->counters().workspaces, 0u);
  EXPECT_EQ(store->List(Name(5), "", "", 10).entries.size(), 0u);
  if (!kSanitized) {  // the sanitizers' allocators do not report through mallinfo2
    const size_t after = mallinfo2().uordblks;
    // One registration costs well over 100 bytes: a leak would be > 100 MB.
    EXPECT_LT(after, before + (8u << 20)) << "before " << before << " after " << after;
  }
}

TEST(WorkspaceTable, WritesRefusedByTheLogRegisterNothing) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  o.wal_max_pending_bytes = 4096;
  auto store = MustOpen(o);
  Put(*store, "k", "1");
  ASSERT_EQ(store->counters().workspaces, 1u);
  // A stalled disk: writes are refused as busy (503) once the log is full.
  std::mutex gate;
  gate.lock();
  fs.SetSyncHook([&] { std::lock_guard lk(gate); });
  const std::string value = "\"" + std::string(200, 'x') + "\"";
  int busy = 0, accepted = 0;
  for (int i = 0; i < 2000 && busy < 500; ++i) {
    WriteResult w = store->Put(PutRequest{Name(i), "k", value, std::nullopt, 0, {}, nullptr});
    if (w.outcome == Outcome::kBusy) {
      ++busy;
    } else {
      ASSERT_EQ(w.outcome, Outcome::kOk);
      ++accepted;
    }
  }
  EXPECT_EQ(busy, 500);
  EXPECT_EQ(store->counters().workspaces, static_cast<uint64_t>(1 + accepted));
  gate.unlock();
  fs.SetSyncHook(nullptr);
  ASSERT_TRUE(store->WaitVisible(store->wal()->last_lsn()).ok());
  // A failed log (503 storage unavailable) refuses every later write.
  fs.FailSyncsAfter(1, ".wal");
  WriteResult doomed = store->Put(PutRequest{"doomed", "k", "1", std::nullopt, 0, {}, nullptr});
  ASSERT_EQ(doomed.outcome, Outcome::kOk);  // applied, logged, never acknowledged
  ASSERT_FALSE(store->WaitVisible(doomed.visible_lsn).ok());
  const uint64_t registered = store->counters().workspaces;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(store->Put(PutRequest{"late-" + std::to_string(i), "k", "1", std::nullopt, 0, {}, nullptr}).outcome,
              Outcome::kStorageFailed);
  }
  EXPECT_EQ(store->counters().workspaces, registered);
}

TEST(WorkspaceTable, WorkspacesEmptiedByDeleteOrExpiryArePurgedAndReleased) {
  ManualClock clock{kT0};
  StoreOptions o = MemoryOptions(&clock, 8);
  o.tombstone_retention = std::chrono::milliseconds(1000);
  auto store = MustOpen(o);
  for (int w = 0; w < 30; ++w) {
    for (int k = 0; k < 20; ++k) {
      Put(*store, "k" + std::to_string(k), "1", std::nullopt, w >= 20 ? 500 : 0, Name(w));
    }
  }
  EXPECT_EQ(store->counters().workspaces, 30u);
  for (int w = 0; w < 10; ++w) {  // 0-9 deleted, 10-19 kept, 20-29 expire
    for (int k = 0; k < 20; ++k) store->Delete(Name(w), "k" + std::to_string(k), std::nullopt);
  }
  store->Sweep();
  EXPECT_EQ(store->counters().workspaces, 30u) << "tombstones are kept for the retention";
  clock.Advance(500);
  store->Sweep();  // 20-29 expire: tombstones now, still registered
  EXPECT_EQ(store->counters().workspaces, 30u);
  EXPECT_EQ(store->counters().tombstones, 20u * 20u);
  clock.Advance(1000);
  store->Sweep();
  StoreCounters c = store->counters();
  EXPECT_EQ(c.workspaces, 10u);
  EXPECT_EQ(c.tombstones, 0u);
  EXPECT_EQ(c.live_keys, 200u);
  for (int w = 0; w < 30; ++w) {
    EXPECT_EQ(store->List(Name(w), "", "", 100).entries.size(), w >= 10 && w < 20 ? 20u : 0u);
  }
  // A released workspace comes back with its first write, from version 1
  // (its tombstones outlived the retention).
  EXPECT_EQ(Put(*store, "k0", "2", 0, 0, Name(3)).version, 1u);
  EXPECT_EQ(store->counters().workspaces, 11u);
}

TEST(WorkspaceTable, AReusedIndexDoesNotMixKeys) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  o.shards = 1;  // every workspace in one table, so indexes are reused
  o.tombstone_retention = std::chrono::milliseconds(0);
  auto store = MustOpen(o);
  Put(*store, "shared", "\"a\"", std::nullopt, 0, "a");
  Put(*store, "only-a", "\"a\"", std::nullopt, 0, "a");
  Put(*store, "shared", "\"keep\"", std::nullopt, 0, "keep");
  store->Delete("a", "shared", std::nullopt);
  ASSERT_TRUE(store->WaitVisible(store->Delete("a", "only-a", std::nullopt).visible_lsn).ok());
  store->Sweep();
  ASSERT_EQ(store->counters().workspaces, 1u);  // "a" released
  Put(*store, "shared", "\"b\"", std::nullopt, 0, "b");  // takes the freed index
  Put(*store, "only-b", "\"b\"", std::nullopt, 0, "b");
  auto check = [&] {
    EXPECT_EQ(store->Get("a", "shared").outcome, Outcome::kNotFound);
    EXPECT_EQ(store->Get("a", "only-b").outcome, Outcome::kNotFound);
    EXPECT_TRUE(store->List("a", "", "", 100).entries.empty());
    GetResult g = store->Get("b", "shared");
    ASSERT_EQ(g.outcome, Outcome::kOk);
    EXPECT_EQ(g.entry.value, "\"b\"");
    EXPECT_EQ(g.entry.version, 1u);
    EXPECT_EQ(store->Get("b", "only-a").outcome, Outcome::kNotFound);
    ListResult b = store->List("b", "", "", 100);
    ASSERT_EQ(b.entries.size(), 2u);
    EXPECT_EQ(b.entries[0].key, "only-b");
    EXPECT_EQ(store->Get("keep", "shared").entry.value, "\"keep\"");
    EXPECT_EQ(store->counters().workspaces, 2u);
  };
  check();
  // "a" comes back under a new index; "b" keeps the reused one.
  Put(*store, "shared", "\"a2\"", std::nullopt, 0, "a");
  EXPECT_EQ(store->Get("a", "shared").entry.value, "\"a2\"");
  EXPECT_EQ(store->Get("b", "shared").entry.value, "\"b\"");
  ASSERT_TRUE(store->WaitVisible(store->Delete("a", "shared", std::nullopt).visible_lsn).ok());
  store->Sweep();
  check();
  // The snapshot names each node's workspace through its index.
  ASSERT_TRUE(store->Snapshot().ok());
  store.reset();
  store = MustOpen(o);
  check();
}

TEST(WorkspaceTable, ListingWhileWorkspacesAreReleasedAndReused) {
  ManualClock clock{kT0};
  StoreOptions o = MemoryOptions(&clock, 4);
  o.tombstone_retention = std::chrono::milliseconds(0);
  auto store = MustOpen(o);
  std::atomic<bool> stop{false};
  std::atomic<int> cycles{0};
  std::thread churn([&] {
    for (int i = 0; !stop; ++i, ++cycles) {
      const std::string ws = "w" + std::to_string(i % 3);
      for (int k = 0; k < 20; ++k) Put(*store, "k" + std::to_string(k), "1", std::nullopt, 0, ws);
      for (int k = 0; k < 20; ++k) store->Delete(ws, "k" + std::to_string(k), std::nullopt);
      store->Sweep();
    }
  });
  // Until the churn has released and re-registered each workspace often.
  for (int round = 0; round < 2000 || cycles < 300; ++round) {
    ListResult r = store->List("w" + std::to_string(round % 3), "", "", 1 + round % 30);
    for (size_t i = 1; i < r.entries.size(); ++i) ASSERT_LT(r.entries[i - 1].key, r.entries[i].key);
    for (const auto& e : r.entries) ASSERT_EQ(e.value, "1");
  }
  stop = true;
  churn.join();
  store->Sweep();
  EXPECT_EQ(store->counters().workspaces, 0u);
}

}  // namespace
}  // namespace casmem
