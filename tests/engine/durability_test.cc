// Durability on the fault-injecting file system: restart keeps everything;
// snapshots truncate the log and recover exactly; power loss keeps every
// acknowledged write; failed fsyncs are never acknowledged; no reader sees
// a write before it is durable, while listings that cannot reveal a failed
// write still are; tombstones are purged only once acknowledged; damaged
// snapshots refuse to open.
#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "engine/snapshot.h"
#include "tests/engine/engine_helpers.h"
#include "wal/segment.h"

namespace casmem {
namespace {

struct Dump {
  std::vector<Entry> live;
  StoreCounters counters;
};

Dump DumpOf(Store& s) {
  Dump d;
  d.live = s.List("ws", "", "", 1'000'000).entries;
  d.counters = s.counters();
  return d;
}

void ExpectSameState(const Dump& a, const Dump& b) {
  ASSERT_EQ(a.live.size(), b.live.size());
  for (size_t i = 0; i < a.live.size(); ++i) {
    EXPECT_EQ(a.live[i].key, b.live[i].key);
    EXPECT_EQ(a.live[i].value, b.live[i].value);
    EXPECT_EQ(a.live[i].version, b.live[i].version);
    EXPECT_EQ(a.live[i].updated_at_ms, b.live[i].updated_at_ms);
    EXPECT_EQ(a.live[i].expires_at_ms, b.live[i].expires_at_ms);
  }
  EXPECT_EQ(a.counters.live_keys, b.counters.live_keys);
  EXPECT_EQ(a.counters.tombstones, b.counters.tombstones);
}

// A mixed history: LWW, guarded writes, TTLs, deletes.
void MixedHistory(Store& s, ManualClock& clock, int n, int seed) {
  std::mt19937 rng(seed);
  for (int i = 0; i < n; ++i) {
    const std::string key = "k" + std::to_string(rng() % 300);
    switch (rng() % 5) {
      case 0: s.Delete("ws", key, std::nullopt); break;
      case 1: Put(s, key, std::to_string(i), std::nullopt, 1 + rng() % 100000); break;
      case 2: {
        GetResult g = s.Get("ws", key);
        Put(s, key, "{\"i\":" + std::to_string(i) + "}", g.outcome == Outcome::kOk ? g.entry.version : 0);
        break;
      }
      default: Put(s, key, "[" + std::to_string(i) + ",\"x\"]"); break;
    }
    clock.Advance(rng() % 50);
  }
}

std::vector<std::string> Segments(testing::MemFs& fs) {
  std::vector<std::string> out;
  for (const auto& n : fs.Files("/data/wal"))
    if (wal::ParseSegmentName(n)) out.push_back(n);
  return out;
}

TEST(Durability, RestartKeepsEveryKeyVersionTtlAndTombstone) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  MixedHistory(*store, clock, 2000, 1);
  const Dump before = DumpOf(*store);
  ASSERT_TRUE(store->WaitVisible(store->wal()->last_lsn()).ok());
  store.reset();
  store = MustOpen(DurableOptions(&fs, &clock));
  ExpectSameState(before, DumpOf(*store));
}

TEST(Durability, TombstoneContinuationSurvivesRestart) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  Put(*store, "k", "1");
  Put(*store, "k", "2");
  ASSERT_TRUE(store->WaitVisible(store->Delete("ws", "k", std::nullopt).visible_lsn).ok());
  Put(*store, "t", "1", std::nullopt, 10);
  store.reset();
  clock.Advance(10);
  store = MustOpen(DurableOptions(&fs, &clock));
  EXPECT_EQ(store->Get("ws", "k").outcome, Outcome::kNotFound);
  EXPECT_EQ(Put(*store, "k", "3", 0).version, 3u);
  EXPECT_EQ(store->Get("ws", "t").outcome, Outcome::kNotFound) << "expired while down";
  EXPECT_EQ(Put(*store, "t", "2", 0).version, 2u);
}

TEST(Durability, SnapshotTruncatesTheLogAndRecoversExactly) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto opts = DurableOptions(&fs, &clock);
  opts.watch_history_bytes = 0;  // no change history to keep: every covered segment goes
  auto store = MustOpen(opts);
  MixedHistory(*store, clock, 3000, 2);
  const size_t segments_before = Segments(fs).size();
  ASSERT_GE(segments_before, 3u);
  ASSERT_TRUE(store->Snapshot().ok());
  EXPECT_LT(Segments(fs).size(), segments_before) << "covered segments are deleted";
  MixedHistory(*store, clock, 500, 3);  // more log after the snapshot
  ASSERT_TRUE(store->WaitVisible(store->wal()->last_lsn()).ok());
  const Dump before = DumpOf(*store);
  // Simulate a crash (no clean-shutdown snapshot): freeze and power off.
  fs.Freeze();
  store.reset();
  fs.PowerLoss();
  store = MustOpen(opts);
  EXPECT_GT(store->recovery().snapshot_lsn, 0u);
  EXPECT_GT(store->recovery().log_records, 0u);
  ExpectSameState(before, DumpOf(*store));
}

TEST(Durability, CleanCloseLeavesASnapshotAndNoLogToReplay) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  MixedHistory(*store, clock, 500, 4);
  const Dump before = DumpOf(*store);
  ASSERT_TRUE(store->Close().ok());
  store.reset();
  store = MustOpen(DurableOptions(&fs, &clock));
  EXPECT_EQ(store->recovery().log_records, 0u);
  ExpectSameState(before, DumpOf(*store));
}

TEST(Durability, SnapshotIsTakenWhenTheLogPassesTheThreshold) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto opts = DurableOptions(&fs, &clock);
  opts.snapshot_every_bytes = 100 * 1024;
  opts.sweep_interval = std::chrono::milliseconds(5);
  auto store = MustOpen(opts);
  for (int i = 0; i < 2000 && fs.Files("/data/snap").empty(); ++i) {
    Put(*store, "k" + std::to_string(i % 50), std::string(200, '7'));
  }
  for (int i = 0; i < 400 && fs.Files("/data/snap").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(fs.Files("/data/snap").empty());
}

TEST(Durability, PowerLossKeepsEveryAcknowledgedWrite) {
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    testing::MemFs fs;
    ManualClock clock{kT0};
    auto opts = DurableOptions(&fs, &clock);
    auto store = MustOpen(opts);
    constexpr int kThreads = 4;
    std::vector<std::atomic<int>> acked(kThreads);
    std::atomic<bool> stop{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < kThreads; ++t) {
      pool.emplace_back([&, t] {
        for (int i = 1; !stop; ++i) {
          WriteResult w = store->Put(PutRequest{"ws", "t" + std::to_string(t), std::to_string(i),
                                                std::nullopt, 0, {}, nullptr});
          if (w.outcome != Outcome::kOk || !store->WaitVisible(w.visible_lsn).ok()) return;
          acked[t] = i;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 15 * round));
    fs.Freeze();  // the machine stops: nothing more reaches the disk
    stop = true;
    for (auto& th : pool) th.join();
    store.reset();
    fs.PowerLoss();
    store = MustOpen(opts);
    for (int t = 0; t < kThreads; ++t) {
      if (acked[t] == 0) continue;
      GetResult g = store->Get("ws", "t" + std::to_string(t));
      ASSERT_EQ(g.outcome, Outcome::kOk);
      EXPECT_GE(std::stoi(g.entry.value), acked[t].load());
      EXPECT_EQ(g.entry.version, static_cast<uint64_t>(std::stoi(g.entry.value)));
    }
  }
}

TEST(Durability, FailedFsyncIsNeverAcknowledgedAndStopsWritesButNotReads) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  Put(*store, "stable", "1");
  fs.FailSyncsAfter(1, ".wal");
  WriteResult w = store->Put(PutRequest{"ws", "doomed", "2", std::nullopt, 0, {}, nullptr});
  ASSERT_EQ(w.outcome, Outcome::kOk);  // applied in memory, logged, not yet durable
  std::atomic<int> callbacks{0};
  std::atomic<bool> acknowledged{false};
  store->WhenVisible(w.visible_lsn, [&](const Status& s) {
    acknowledged = s.ok();
    callbacks++;
  });
  EXPECT_FALSE(store->WaitVisible(w.visible_lsn).ok());
  EXPECT_EQ(callbacks.load(), 1);
  EXPECT_FALSE(acknowledged.load());
  fs.FailSyncsAfter(-1);  // the disk comes back; the store must not pretend
  WriteResult later = store->Put(PutRequest{"ws", "later", "3", std::nullopt, 0, {}, nullptr});
  EXPECT_EQ(later.outcome, Outcome::kStorageFailed);
  EXPECT_FALSE(later.error.empty());
  EXPECT_EQ(store->Delete("ws", "stable", std::nullopt).outcome, Outcome::kStorageFailed);
  GetResult g = store->Get("ws", "stable");
  ASSERT_EQ(g.outcome, Outcome::kOk);
  EXPECT_TRUE(store->WaitVisible(g.visible_lsn).ok()) << "durable data stays readable";
  EXPECT_FALSE(store->WaitVisible(store->Get("ws", "doomed").visible_lsn).ok())
      << "the un-synced write may never be revealed";
  EXPECT_TRUE(store->health().IsStorageFailed());
}

// Whether a listing may be revealed, decided now (it never will be when
// the write it depends on failed).
bool Revealed(Store& s, const ListResult& r) { return s.WaitVisible(r.visible_lsn).ok(); }

std::vector<std::string> KeysOf(const ListResult& r) {
  std::vector<std::string> keys;
  for (const auto& e : r.entries) keys.push_back(e.key);
  return keys;
}

using testing::SyncGate;

TEST(Durability, AFailedPutBlocksOnlyTheListingsThatShowIt) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  Put(*store, "stable:1", "1");
  Put(*store, "stable:2", "2");
  Put(*store, "a", "1", std::nullopt, 0, "m");
  Put(*store, "x", "1", std::nullopt, 0, "other");
  {
    SyncGate gate(fs);
    fs.FailSyncsAfter(1, ".wal");
    ASSERT_EQ(store->Put(PutRequest{"ws", "doomed", "3", std::nullopt, 0, {}, nullptr}).outcome, Outcome::kOk);
    ASSERT_EQ(store->Put(PutRequest{"m", "doomed", "3", std::nullopt, 0, {}, nullptr}).outcome, Outcome::kOk);
  }
  ASSERT_FALSE(store->WaitVisible(store->wal()->last_lsn()).ok());
  ASSERT_TRUE(store->health().IsStorageFailed());

  // Another workspace, and keys of this one written before the failure.
  ListResult other = store->List("other", "", "", 100);
  EXPECT_EQ(KeysOf(other), std::vector<std::string>{"x"});
  EXPECT_TRUE(Revealed(*store, other)) << "a failed write elsewhere must not stop reads";
  ListResult stable = store->List("ws", "stable:", "", 100);
  EXPECT_EQ(KeysOf(stable), (std::vector<std::string>{"stable:1", "stable:2"}));
  EXPECT_TRUE(Revealed(*store, stable));
  // A listing that returns the failed write is never revealed...
  ListResult all = store->List("ws", "", "", 100);
  ASSERT_EQ(KeysOf(all), (std::vector<std::string>{"doomed", "stable:1", "stable:2"}));
  EXPECT_FALSE(Revealed(*store, all));
  // ...nor one whose `more` flag exists only because of it.
  ListResult first = store->List("m", "", "", 1);
  ASSERT_EQ(KeysOf(first), std::vector<std::string>{"a"});
  ASSERT_TRUE(first.more);
  EXPECT_FALSE(Revealed(*store, first));
}

TEST(Durability, AFailedDeleteOrExpiryBlocksOnlyTheListingsThatOmitTheKey) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  o.shards = 1;  // both failed deletes in one shard: their keys bound one window
  auto store = MustOpen(o);
  for (std::string k : {"a:1", "a:2", "b", "c", "m:1", "m:2", "z:1"}) Put(*store, k, "1");
  Put(*store, "ttl", "1", std::nullopt, 0, "t");  // durable without a TTL
  Put(*store, "x", "1", std::nullopt, 0, "other");
  {
    SyncGate gate(fs);
    fs.FailSyncsAfter(1, ".wal");
    ASSERT_EQ(store->Delete("ws", "m:1", std::nullopt).outcome, Outcome::kOk);
    ASSERT_EQ(store->Delete("ws", "c", std::nullopt).outcome, Outcome::kOk);
    ASSERT_EQ(store->Put(PutRequest{"t", "ttl", "2", std::nullopt, 10, {}, nullptr}).outcome, Outcome::kOk);
  }
  ASSERT_FALSE(store->WaitVisible(store->wal()->last_lsn()).ok());
  auto revealed = [&](std::string_view ws, std::string_view prefix, std::string_view after,
                      size_t limit, std::vector<std::string> want) {
    ListResult r = store->List(ws, prefix, after, limit);
    EXPECT_EQ(KeysOf(r), want) << prefix << " " << after << " " << limit;
    return Revealed(*store, r);
  };
  // Listings whose range holds a failed delete reveal it: held back.
  EXPECT_FALSE(revealed("ws", "", "", 100, {"a:1", "a:2", "b", "m:2", "z:1"}));
  EXPECT_FALSE(revealed("ws", "c", "", 100, {}));
  EXPECT_FALSE(revealed("ws", "m:", "", 100, {"m:2"}));
  EXPECT_FALSE(revealed("ws", "", "", 3, {"a:1", "a:2", "b"})) << "the key behind `more` is m:2";
  // Listings whose range cannot hold one are revealed.
  EXPECT_TRUE(revealed("ws", "a:", "", 100, {"a:1", "a:2"}));
  EXPECT_TRUE(revealed("ws", "b", "", 100, {"b"}));
  EXPECT_TRUE(revealed("ws", "", "", 2, {"a:1", "a:2"})) << "covers keys up to b only";
  EXPECT_TRUE(revealed("ws", "", "m:5", 100, {"z:1"}));
  EXPECT_TRUE(revealed("other", "", "", 100, {"x"}));
  // Once the TTL runs out, the absence of "ttl" reveals the failed put
  // (after a restart "ttl" is back, at version 1, without a TTL): expiry
  // is not logged, so the absence depends on the put that set the TTL.
  clock.Advance(10);
  EXPECT_FALSE(revealed("t", "", "", 100, {}));
  store->Sweep();  // now a tombstone, out of the tree
  EXPECT_FALSE(revealed("t", "", "", 100, {}));
  EXPECT_TRUE(revealed("t", "u", "", 100, {}));
}

// An acknowledged removal needs no place in the removal window: the sweep
// expiring a durable TTL put after a failed delete must not widen the
// window over the keys between them (their listings would answer 503 for
// good, though they reveal nothing unacknowledged).
TEST(Durability, AnAcknowledgedExpiryDoesNotWidenTheWindowOfAFailedDelete) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  o.shards = 1;
  auto store = MustOpen(o);
  Put(*store, "a", "1");
  Put(*store, "m", "1");
  ASSERT_EQ(store->Put(PutRequest{"ws", "zz", "1", std::nullopt, 60'000, {}, nullptr}).outcome, Outcome::kOk);
  ASSERT_TRUE(store->WaitVisible(store->wal()->last_lsn()).ok());
  {
    SyncGate gate(fs);
    fs.FailSyncsAfter(1, ".wal");
    ASSERT_EQ(store->Delete("ws", "a", std::nullopt).outcome, Outcome::kOk);
  }
  ASSERT_FALSE(store->WaitVisible(store->wal()->last_lsn()).ok());
  auto revealed = [&](std::string_view prefix, std::vector<std::string> want) {
    ListResult r = store->List("ws", prefix, "", 100);
    EXPECT_EQ(KeysOf(r), want) << prefix;
    return Revealed(*store, r);
  };
  EXPECT_TRUE(revealed("m", {"m"}));
  clock.Advance(60'000);
  store->Sweep();  // "zz" expires: its TTL put is acknowledged
  EXPECT_TRUE(revealed("m", {"m"}));
  EXPECT_TRUE(revealed("z", {}));
  EXPECT_FALSE(revealed("a", {}));  // the failed delete itself stays hidden
}

// The property behind the rule: after a log failure, every listing that
// is revealed equals the same listing on the state recovered after a power
// loss (which keeps exactly the acknowledged writes), while listings that
// depend on a failed write are held back.
TEST(Durability, EveryRevealedListingMatchesWhatRecoveryFinds) {
  for (int seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    testing::MemFs fs;
    ManualClock clock{kT0};
    StoreOptions o = DurableOptions(&fs, &clock);
    o.tombstone_retention = std::chrono::milliseconds(0);  // purge and release as soon as allowed
    auto store = MustOpen(o);
    std::mt19937 rng(seed);
    const std::vector<std::string> spaces = {"w0", "w1", "w2", "w3", "w4", "w5"};
    // A random write to one of the first `n` workspaces; `kinds` 4 for
    // deletes too, 3 for puts only.
    auto write = [&](size_t n, unsigned kinds) {
      const std::string ws = spaces[rng() % n];
      const std::string key = "k" + std::to_string(rng() % 40);
      const std::string value = std::to_string(rng() % 1000);
      WriteResult w;
      switch (4 - kinds + rng() % kinds) {
        case 0: w = store->Delete(ws, key, std::nullopt); break;
        case 1: w = store->Put(PutRequest{ws, key, value, std::nullopt,
                                           static_cast<int64_t>(1 + rng() % 200), {}, nullptr}); break;
        default: w = store->Put(PutRequest{ws, key, value, std::nullopt, 0, {}, nullptr}); break;
      }
      EXPECT_EQ(w.outcome, Outcome::kOk);
      clock.Advance(rng() % 5);
      if (rng() % 50 == 0) store->Sweep();
      return w;
    };
    for (int i = 0; i < 1500; ++i) {
      ASSERT_TRUE(store->WaitVisible(write(spaces.size(), 4).visible_lsn).ok());
    }
    {
      SyncGate gate(fs);
      fs.FailSyncsAfter(1, ".wal");
      // The failed batch touches w0-w2 only; with odd seeds it only puts
      // (a failed delete holds back every listing of its workspace).
      for (int i = 0; i < 8; ++i) write(3, seed % 2 == 0 ? 4 : 3);
    }
    ASSERT_FALSE(store->WaitVisible(store->wal()->last_lsn()).ok());
    clock.Advance(100);  // some TTLs run out, of acknowledged and of failed puts
    struct Query {
      std::string ws, prefix, after;
      size_t limit;
      ListResult result;
    };
    const char* prefixes[] = {"", "k1", "k2", "k3"};
    const char* afters[] = {"", "k2", "k35"};
    std::vector<Query> revealed;
    int held = 0;
    for (int q = 0; q < 400; ++q) {
      if (q % 100 == 50) store->Sweep();
      Query query{spaces[rng() % spaces.size()], prefixes[rng() % 4], afters[rng() % 3],
                  1 + rng() % 45, {}};
      query.result = store->List(query.ws, query.prefix, query.after, query.limit);
      if (store->WaitVisible(query.result.visible_lsn).ok()) {
        revealed.push_back(std::move(query));
      } else {
        ++held;
      }
    }
    EXPECT_GT(held, 0);
    ASSERT_GT(revealed.size(), 100u) << "w3-w5 never depend on the failed writes";
    fs.Freeze();
    store.reset();
    fs.PowerLoss();
    store = MustOpen(o);
    for (const Query& q : revealed) {
      SCOPED_TRACE(q.ws + " prefix=" + q.prefix + " after=" + q.after +
                   " limit=" + std::to_string(q.limit));
      const ListResult now = store->List(q.ws, q.prefix, q.after, q.limit);
      ASSERT_EQ(KeysOf(now), KeysOf(q.result));
      EXPECT_EQ(now.more, q.result.more);
      for (size_t i = 0; i < now.entries.size(); ++i) {
        EXPECT_EQ(now.entries[i].value, q.result.entries[i].value);
        EXPECT_EQ(now.entries[i].version, q.result.entries[i].version);
        EXPECT_EQ(now.entries[i].expires_at_ms, q.result.entries[i].expires_at_ms);
      }
    }
  }
}

TEST(Durability, AnExpiredPutThatWasAcknowledgedDoesNotBlockListings) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  Put(*store, "ttl", "1", std::nullopt, 10);
  Put(*store, "gone", "1");
  ASSERT_TRUE(store->WaitVisible(store->Delete("ws", "gone", std::nullopt).visible_lsn).ok());
  Put(*store, "k", "1", std::nullopt, 0, "unrelated");
  fs.FailSyncsAfter(1, ".wal");
  WriteResult w = store->Put(PutRequest{"unrelated", "k", "2", std::nullopt, 0, {}, nullptr});
  ASSERT_EQ(w.outcome, Outcome::kOk);
  ASSERT_FALSE(store->WaitVisible(w.visible_lsn).ok());
  clock.Advance(10);
  EXPECT_TRUE(store->List("ws", "", "", 100).entries.empty());
  EXPECT_TRUE(Revealed(*store, store->List("ws", "", "", 100)));
  store->Sweep();
  EXPECT_TRUE(Revealed(*store, store->List("ws", "", "", 100)));
}

TEST(Durability, SweepNeverPurgesATombstoneBeforeItsDeleteIsAcknowledged) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  o.tombstone_retention = std::chrono::milliseconds(0);
  auto store = MustOpen(o);
  Put(*store, "k", "1");
  std::mutex gate;
  gate.lock();  // the log's fsyncs wait here: a very slow disk
  std::atomic<bool> syncing{false};
  fs.SetSyncHook([&] {
    syncing = true;
    std::lock_guard lk(gate);
  });
  WriteResult d = store->Delete("ws", "k", std::nullopt);
  ASSERT_EQ(d.outcome, Outcome::kOk);
  while (!syncing) std::this_thread::yield();
  store->Sweep();
  EXPECT_EQ(store->counters().tombstones, 1u) << "kept until the delete is acknowledged";
  GetResult g = store->Get("ws", "k");
  EXPECT_EQ(g.outcome, Outcome::kNotFound);
  EXPECT_GE(g.visible_lsn, d.visible_lsn);
  EXPECT_FALSE(store->IsVisible(g.visible_lsn)) << "the 404 would reveal the delete early";
  gate.unlock();
  fs.SetSyncHook(nullptr);
  ASSERT_TRUE(store->WaitVisible(d.visible_lsn).ok());
  store->Sweep();
  EXPECT_EQ(store->counters().tombstones, 0u);
  EXPECT_EQ(store->counters().workspaces, 0u);
  g = store->Get("ws", "k");
  EXPECT_EQ(g.outcome, Outcome::kNotFound);
  EXPECT_TRUE(store->IsVisible(g.visible_lsn));
}

TEST(Durability, PurgedAndUnacknowledgedTombstonesRecoverRight) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  o.tombstone_retention = std::chrono::milliseconds(0);
  auto store = MustOpen(o);
  for (std::string k : {"a", "b", "c"}) Put(*store, k, "1");
  ASSERT_TRUE(store->WaitVisible(store->Delete("ws", "a", std::nullopt).visible_lsn).ok());
  Put(*store, "b", "2");
  store->Sweep();
  EXPECT_EQ(store->counters().tombstones, 0u) << "the acknowledged delete is purged";
  fs.FailSyncsAfter(1, ".wal");
  WriteResult d = store->Delete("ws", "c", std::nullopt);
  ASSERT_EQ(d.outcome, Outcome::kOk);
  ASSERT_FALSE(store->WaitVisible(d.visible_lsn).ok());
  store->Sweep();
  EXPECT_EQ(store->counters().tombstones, 1u) << "the failed delete is not purged";
  const uint64_t scans = store->counters().sweep_scans;
  store->Sweep();
  store->Sweep();
  EXPECT_EQ(store->counters().sweep_scans, scans) << "nor does it make every sweep scan";
  GetResult g = store->Get("ws", "c");
  EXPECT_EQ(g.outcome, Outcome::kNotFound);
  EXPECT_FALSE(store->WaitVisible(g.visible_lsn).ok()) << "so its 404 is never revealed";
  // Power loss: the failed delete is gone, and nobody was told otherwise.
  fs.Freeze();
  store.reset();
  fs.PowerLoss();
  store = MustOpen(o);
  EXPECT_EQ(store->Get("ws", "a").outcome, Outcome::kNotFound);
  EXPECT_EQ(store->Get("ws", "b").entry.version, 2u);
  g = store->Get("ws", "c");
  ASSERT_EQ(g.outcome, Outcome::kOk);
  EXPECT_EQ(g.entry.version, 1u);
  EXPECT_EQ(KeysOf(store->List("ws", "", "", 100)), (std::vector<std::string>{"b", "c"}));
  // Purged again after recovery, then a snapshot without it: still right.
  store->Sweep();
  EXPECT_EQ(store->counters().tombstones, 0u);
  ASSERT_TRUE(store->Snapshot().ok());
  store.reset();
  store = MustOpen(o);
  EXPECT_EQ(store->Get("ws", "a").outcome, Outcome::kNotFound);
  EXPECT_EQ(KeysOf(store->List("ws", "", "", 100)), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(store->counters().workspaces, 1u);
}

TEST(Durability, AStalledDiskRefusesWritesAsBusyAndAppliesNothing) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  o.wal_max_pending_bytes = 4096;
  auto store = MustOpen(o);
  ASSERT_EQ(Put(*store, "k", "1").version, 1u);
  std::mutex gate;
  gate.lock();  // every fsync stalls until released
  std::atomic<bool> stalled{false};
  fs.SetSyncHook([&] {
    stalled = true;
    std::lock_guard lk(gate);
  });
  const std::string value = "\"" + std::string(200, 'x') + "\"";
  // First get the writer stuck in an fsync, so that it cannot drain what
  // follows (on a loaded machine it could otherwise wake late, take the
  // whole backlog and leave room for the delete below).
  WriteResult w = store->Put(PutRequest{"ws", "k", value, std::nullopt, 0, {}, nullptr});
  ASSERT_EQ(w.outcome, Outcome::kOk);
  uint64_t last_lsn = w.visible_lsn;
  while (!stalled) std::this_thread::yield();
  int accepted = 1;
  for (; accepted < 1000; ++accepted) {
    w = store->Put(PutRequest{"ws", "k", value, std::nullopt, 0, {}, nullptr});
    if (w.outcome != Outcome::kOk) break;
    last_lsn = w.visible_lsn;
  }
  ASSERT_EQ(w.outcome, Outcome::kBusy) << w.error;
  EXPECT_NE(w.error.find("behind the disk"), std::string::npos) << w.error;
  EXPECT_GT(accepted, 5);
  EXPECT_TRUE(store->health().ok()) << "slow is not failed";
  // The refused write left no trace: the key is at the last accepted version.
  EXPECT_EQ(store->Get("ws", "k").entry.version, static_cast<uint64_t>(1 + accepted));
  EXPECT_EQ(store->Delete("ws", "k", std::nullopt).outcome, Outcome::kBusy);
  EXPECT_EQ(store->Get("ws", "k").outcome, Outcome::kOk);
  gate.unlock();
  ASSERT_TRUE(store->WaitVisible(last_lsn).ok());
  // Accepted again, and the version continues from the last accepted write.
  EXPECT_EQ(Put(*store, "k", "2").version, static_cast<uint64_t>(2 + accepted));
  fs.SetSyncHook(nullptr);
}

TEST(Durability, NoReaderObservesAWriteBeforeItIsDurable) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  Put(*store, "k", "1");
  // Hold every fsync of the log at a gate (a very slow disk).
  std::mutex gate;
  gate.lock();
  std::atomic<bool> syncing{false};
  fs.SetSyncHook([&] {
    syncing = true;
    std::lock_guard lk(gate);
  });
  WriteResult w = store->Put(PutRequest{"ws", "k", "2", 1, 0, {}, nullptr});
  ASSERT_EQ(w.outcome, Outcome::kOk);
  std::atomic<bool> write_durable{false};
  store->WhenVisible(w.visible_lsn, [&](const Status& s) { write_durable = s.ok(); });
  std::atomic<bool> read_released{false};
  std::atomic<bool> durable_when_released{false};
  std::atomic<bool> conflict_released{false};
  std::thread reader([&] {
    GetResult g = store->Get("ws", "k");
    ASSERT_EQ(g.entry.version, 2u);  // in memory already...
    store->WhenVisible(g.visible_lsn, [&](const Status& s) {
      durable_when_released = store->wal()->durable_lsn() >= w.visible_lsn;
      read_released = s.ok();
    });
    // A 409 that reports version 2 reveals it too.
    WriteResult c = store->Put(PutRequest{"ws", "k", "x", 1, 0, {}, nullptr});
    ASSERT_EQ(c.current_version, 2u);
    store->WhenVisible(c.visible_lsn, [&](const Status& s) { conflict_released = s.ok(); });
  });
  reader.join();
  while (!syncing) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(read_released.load()) << "...but not revealed before its fsync";
  EXPECT_FALSE(conflict_released.load());
  EXPECT_FALSE(write_durable.load());
  gate.unlock();
  fs.SetSyncHook(nullptr);
  ASSERT_TRUE(store->WaitVisible(w.visible_lsn).ok());
  ASSERT_TRUE(store->WaitVisible(store->wal()->last_lsn()).ok());
  EXPECT_TRUE(read_released.load());
  EXPECT_TRUE(durable_when_released.load());
  EXPECT_TRUE(conflict_released.load());
}

TEST(Durability, DamagedSnapshotWithNoOlderOneRefusesToOpen) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  MixedHistory(*store, clock, 300, 5);
  ASSERT_TRUE(store->Close().ok());
  store.reset();
  const auto snaps = fs.Files("/data/snap");
  ASSERT_EQ(snaps.size(), 1u);
  const std::string path = "/data/snap/" + snaps[0];
  std::string bytes;
  fs.ReadFile(path, &bytes);
  bytes[bytes.size() / 2] ^= 0x20;
  fs.WriteFile(path, bytes);
  std::unique_ptr<Store> reopened;
  Status s = Store::Open(DurableOptions(&fs, &clock), &reopened);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
}

TEST(Durability, SecondOpenOfTheSameDataDirIsRefused) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  std::unique_ptr<Store> second;
  Status s = Store::Open(DurableOptions(&fs, &clock), &second);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("locked"), std::string::npos);
}

}  // namespace
}  // namespace casmem
