// Logged expiry (issue 10): the sweep appends one tombstone record flagged
// expired per key whose TTL ran out, with its own revision, under the
// shard lock; recovery, snapshots and a crash give the same state; a
// refused append leaves the key expired-for-reads and a later sweep logs
// it; a write over an expired key logs its expire record first
// (tests/tools/dump_log_expired_test.cc: `casmem dump --log` shows the flag).
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/engine/engine_helpers.h"
#include "wal/log_reader.h"
#include "wal/segment.h"

namespace casmem {
namespace {

// One log record, copied out of its segment.
struct Logged {
  uint8_t type = 0;
  bool expired = false;
  uint64_t lsn = 0, version = 0;
  int64_t updated_at_ms = 0, expires_at_ms = 0;
  std::string workspace, key, writer;
};

// Every record of the log, in log order, read the way recovery reads it.
std::vector<Logged> LogRecords(testing::MemFs& fs) {
  std::vector<std::string> names;
  for (const auto& n : fs.Files("/data/wal"))
    if (wal::ParseSegmentName(n)) names.push_back(n);
  std::sort(names.begin(), names.end());
  std::vector<Logged> out;
  for (const auto& n : names) {
    const std::string path = "/data/wal/" + n;
    std::string data;
    EXPECT_TRUE(fs.ReadFile(path, &data));
    wal::SegmentEnd end;
    Status s = wal::ReadSegment(
        data, path,
        [&](const wal::BatchAt& b) {
          for (const wal::RecordAt& at : b.records) {
            const wal::Record& r = at.record;
            out.push_back({r.type, r.expired, r.lsn, r.version, r.updated_at_ms, r.expires_at_ms,
                           std::string(r.workspace), std::string(r.key), std::string(r.writer)});
          }
          return Status::OK();
        },
        &end);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(end.damage.empty()) << end.damage;
  }
  return out;
}

std::vector<Logged> ExpireRecords(testing::MemFs& fs) {
  std::vector<Logged> out;
  for (Logged& l : LogRecords(fs))
    if (l.expired) out.push_back(std::move(l));
  return out;
}

WriteResult PutAs(Store& s, std::string_view key, std::string_view value, int64_t ttl_ms,
                  std::string_view writer, std::string_view ws = "ws") {
  WriteResult w = s.Put(PutRequest{ws, key, value, std::nullopt, ttl_ms, writer, nullptr});
  EXPECT_EQ(w.outcome, Outcome::kOk);
  EXPECT_TRUE(s.WaitVisible(w.visible_lsn).ok());
  return w;
}

TEST(ExpiryLog, TheSweepLogsOneExpireRecordPerExpiredKey) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  o.shards = 1;  // one shard: the sweep logs in expiry order
  auto store = MustOpen(o);
  Put(*store, "a", "1");
  const WriteResult a = PutAs(*store, "a", "2", 20, "agent-7");  // version 2, expires T0+20
  const WriteResult b = PutAs(*store, "b", "1", 10, {});         // expires first
  Put(*store, "c", "1");                                          // no TTL
  Put(*store, "d", "1", std::nullopt, 1000);                      // not yet
  clock.Advance(25);
  const uint64_t before = store->revision();
  store->Sweep();
  ASSERT_EQ(store->revision(), before + 2) << "one record per expired key";
  ASSERT_TRUE(store->WaitVisible(store->revision()).ok());
  const std::vector<Logged> expired = ExpireRecords(fs);
  ASSERT_EQ(expired.size(), 2u);
  // b expired first (T0+10), then a (T0+20): revisions in that order, both
  // above every put.
  EXPECT_EQ(expired[0].key, "b");
  EXPECT_EQ(expired[0].lsn, before + 1);
  EXPECT_EQ(expired[0].version, 1u);
  EXPECT_EQ(expired[0].updated_at_ms, kT0 + 10);
  EXPECT_EQ(expired[1].key, "a");
  EXPECT_EQ(expired[1].lsn, before + 2);
  EXPECT_GT(expired[1].lsn, a.revision);
  EXPECT_GT(expired[0].lsn, b.revision);
  EXPECT_EQ(expired[1].version, 2u) << "the tombstone remembers the expired version";
  EXPECT_EQ(expired[1].updated_at_ms, kT0 + 20) << "dead since its expiry";
  for (const Logged& l : expired) {
    EXPECT_EQ(l.type, wal::kRecordTombstone);
    EXPECT_EQ(l.workspace, "ws");
    EXPECT_EQ(l.expires_at_ms, 0);
    EXPECT_TRUE(l.writer.empty()) << "expiry has no writer";
  }
  // The tombstones' revisions are the expire records'.
  GetResult g = store->Get("ws", "a");
  EXPECT_EQ(g.outcome, Outcome::kNotFound);
  EXPECT_EQ(g.visible_lsn, expired[1].lsn);
  EXPECT_EQ(store->counters().tombstones, 2u);
  // Nothing is logged twice.
  clock.Advance(10);
  store->Sweep();
  EXPECT_EQ(store->revision(), before + 2);
  EXPECT_EQ(Put(*store, "a", "3").version, 3u);
}

TEST(ExpiryLog, AWriteOverAnExpiredKeyLogsItsExpiryFirstAndADeleteIsOfAnAbsentKey) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  Put(*store, "k", "1", std::nullopt, 10);
  Put(*store, "j", "1", std::nullopt, 10);
  clock.Advance(10);
  // The put replaces the expired version: its expire record comes first
  // (expire_before_write_test.cc covers the write paths).
  const WriteResult k2 = Put(*store, "k", "2");
  EXPECT_EQ(k2.version, 2u);
  // A delete answers as for an absent key and logs nothing.
  const uint64_t rev = store->revision();
  WriteResult d = store->Delete("ws", "j", std::nullopt);
  EXPECT_EQ(d.outcome, Outcome::kOk);
  EXPECT_FALSE(d.applied);
  EXPECT_EQ(store->revision(), rev);
  // The sweep then logs the expiry of j only.
  store->Sweep();
  ASSERT_TRUE(store->WaitVisible(store->revision()).ok());
  const std::vector<Logged> expired = ExpireRecords(fs);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].key, "k");
  EXPECT_EQ(expired[0].lsn, k2.revision - 1);
  EXPECT_EQ(expired[1].key, "j");
  EXPECT_EQ(expired[1].lsn, rev + 1);
  EXPECT_EQ(store->Get("ws", "k").entry.version, 2u);
}

// What the store shows of each key, to compare before and after a restart.
struct KeyState {
  Outcome outcome;
  uint64_t version, revision, visible_lsn;
  bool operator==(const KeyState&) const = default;
};
std::map<std::string, KeyState> StateOf(Store& s, const std::vector<std::string>& keys) {
  std::map<std::string, KeyState> out;
  for (const auto& k : keys) {
    GetResult g = s.Get("ws", k);
    out[k] = {g.outcome, g.entry.version, g.entry.revision, g.visible_lsn};
  }
  return out;
}

TEST(ExpiryLog, ACrashAndASnapshotRecoverTheSameState) {
  for (bool snapshot : {false, true}) {
    SCOPED_TRACE(snapshot ? "snapshot, then a clean restart" : "a process crash, log only");
    testing::MemFs fs;
    ManualClock clock{kT0};
    const StoreOptions o = DurableOptions(&fs, &clock);
    auto store = MustOpen(o);
    const std::vector<std::string> keys = {"t1", "t2", "t3", "gone", "live", "later"};
    Put(*store, "t1", "1", std::nullopt, 10);
    Put(*store, "t2", "1");
    Put(*store, "t2", "2", std::nullopt, 10);
    Put(*store, "t3", "1", std::nullopt, 30);
    Put(*store, "gone", "1", std::nullopt, 10);
    ASSERT_TRUE(store->WaitVisible(store->Delete("ws", "gone", std::nullopt).visible_lsn).ok());
    Put(*store, "live", "1");
    Put(*store, "later", "1", std::nullopt, 100'000);
    clock.Advance(10);
    store->Sweep();  // t1, t2 logged; t3 expires after the sweep, unlogged
    clock.Advance(20);
    ASSERT_TRUE(store->WaitVisible(store->revision()).ok());
    const uint64_t revision = store->revision();
    const auto before = StateOf(*store, keys);
    EXPECT_EQ(before.at("t2").outcome, Outcome::kNotFound);
    EXPECT_EQ(before.at("t3").outcome, Outcome::kNotFound);
    const StoreCounters counters = store->counters();
    if (snapshot) {
      ASSERT_TRUE(store->Snapshot().ok());
      store.reset();  // clean close: another snapshot
    } else {
      fs.Freeze();  // SIGKILL: no clean-shutdown snapshot
      store.reset();
      fs.ProcessCrash();
    }
    store = MustOpen(o);
    EXPECT_EQ(store->recovery().snapshot_lsn > 0, snapshot);
    EXPECT_EQ(store->revision(), revision);
    EXPECT_EQ(StateOf(*store, keys), before);
    EXPECT_EQ(store->counters().live_keys, counters.live_keys);
    EXPECT_EQ(store->counters().tombstones, counters.tombstones);
    // The next sweep logs t3 only, once; versions continue.
    store->Sweep();
    store->Sweep();
    ASSERT_EQ(store->revision(), revision + 1);
    ASSERT_TRUE(store->WaitVisible(store->revision()).ok());
    const std::vector<Logged> expired = ExpireRecords(fs);
    ASSERT_FALSE(expired.empty());
    EXPECT_EQ(expired.back().key, "t3");
    EXPECT_EQ(expired.back().lsn, revision + 1);
    if (!snapshot) {
      EXPECT_EQ(expired.size(), 3u);
    }
    EXPECT_EQ(Put(*store, "t2", "3").version, 3u);
    EXPECT_EQ(Put(*store, "t1", "2").version, 2u);
  }
}

using testing::SyncGate;

// A busy log refuses the expire record: the key stays as it was (absent
// for reads, depending on its acknowledged put), and the next sweep logs it.
TEST(ExpiryLog, ARefusedExpiryIsRetriedByALaterSweep) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  o.wal_max_pending_bytes = 4096;
  auto store = MustOpen(o);
  const WriteResult put = Put(*store, "k", "1", std::nullopt, 10);
  uint64_t last = 0;
  {
    SyncGate gate(fs);
    const std::string value = "\"" + std::string(200, 'x') + "\"";
    WriteResult w = store->Put(PutRequest{"ws", "fill", value, std::nullopt, 0, {}, nullptr});
    ASSERT_EQ(w.outcome, Outcome::kOk);
    last = w.visible_lsn;
    gate.WaitStalled();  // the writer is stuck: what follows stays pending
    for (int i = 0; i < 1000 && w.outcome == Outcome::kOk; ++i) {
      w = store->Put(PutRequest{"ws", "fill", value, std::nullopt, 0, {}, nullptr});
      if (w.outcome == Outcome::kOk) last = w.visible_lsn;
    }
    ASSERT_EQ(w.outcome, Outcome::kBusy);
    clock.Advance(10);
    store->Sweep();
    EXPECT_EQ(store->revision(), last) << "refused: nothing logged";
    GetResult g = store->Get("ws", "k");
    EXPECT_EQ(g.outcome, Outcome::kNotFound);
    EXPECT_EQ(g.visible_lsn, put.revision) << "the 404 depends on the acknowledged TTL put";
    EXPECT_TRUE(store->IsVisible(g.visible_lsn));
    EXPECT_EQ(store->counters().tombstones, 0u);
    gate.Open();
    ASSERT_TRUE(store->WaitVisible(last).ok());
  }
  store->Sweep();
  ASSERT_EQ(store->revision(), last + 1);
  ASSERT_TRUE(store->WaitVisible(last + 1).ok());
  const std::vector<Logged> expired = ExpireRecords(fs);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].key, "k");
  EXPECT_EQ(expired[0].lsn, last + 1);
  EXPECT_EQ(expired[0].version, 1u);
  EXPECT_EQ(store->Get("ws", "k").visible_lsn, last + 1);
  EXPECT_EQ(store->counters().tombstones, 1u);
}

// A failed log never logs again: the sweep expires nothing (and does not
// scan for it every time); after a restart the expiry is logged.
TEST(ExpiryLog, AFailedLogLeavesTheKeyExpiredForReadsUntilARestart) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  auto store = MustOpen(o);
  const WriteResult put = Put(*store, "k", "1", std::nullopt, 10);
  fs.FailSyncsAfter(1, ".wal");
  WriteResult w = store->Put(PutRequest{"ws", "other", "1", std::nullopt, 0, {}, nullptr});
  ASSERT_EQ(w.outcome, Outcome::kOk);
  ASSERT_FALSE(store->WaitVisible(w.visible_lsn).ok());
  const uint64_t revision = store->revision();
  clock.Advance(10);
  store->Sweep();
  EXPECT_EQ(store->revision(), revision);
  GetResult g = store->Get("ws", "k");
  EXPECT_EQ(g.outcome, Outcome::kNotFound);
  EXPECT_EQ(g.visible_lsn, put.revision);
  EXPECT_TRUE(store->IsVisible(g.visible_lsn)) << "reads go on answering it";
  const uint64_t scans = store->counters().sweep_scans;
  store->Sweep();
  store->Sweep();
  EXPECT_EQ(store->counters().sweep_scans, scans) << "no scan for what cannot be logged";
  fs.Freeze();
  store.reset();
  fs.PowerLoss();  // the failed put is gone
  store = MustOpen(o);
  EXPECT_EQ(store->revision(), put.revision);
  store->Sweep();
  ASSERT_EQ(store->revision(), put.revision + 1);
  ASSERT_TRUE(store->WaitVisible(store->revision()).ok());
  const std::vector<Logged> expired = ExpireRecords(fs);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].key, "k");
}

// Until its record is acknowledged, the expiry is not revealed by the key's
// 404 (which now depends on it); lost in a power loss, it is logged again.
TEST(ExpiryLog, AnUnacknowledgedExpiryIsLoggedAgainAfterAPowerLoss) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  auto store = MustOpen(o);
  const WriteResult put = Put(*store, "k", "1", std::nullopt, 10);
  clock.Advance(10);
  {
    SyncGate gate(fs);
    store->Sweep();
    ASSERT_EQ(store->revision(), put.revision + 1);
    GetResult g = store->Get("ws", "k");
    EXPECT_EQ(g.outcome, Outcome::kNotFound);
    EXPECT_EQ(g.visible_lsn, put.revision + 1);
    EXPECT_FALSE(store->IsVisible(g.visible_lsn));
    gate.WaitStalled();
    fs.Freeze();
  }
  store.reset();
  fs.PowerLoss();
  store = MustOpen(o);
  EXPECT_EQ(store->revision(), put.revision) << "the expire record was lost";
  EXPECT_EQ(store->Get("ws", "k").outcome, Outcome::kNotFound) << "still expired by its TTL";
  store->Sweep();
  ASSERT_EQ(store->revision(), put.revision + 1);
  ASSERT_TRUE(store->WaitVisible(store->revision()).ok());
  ASSERT_EQ(ExpireRecords(fs).size(), 1u);
}

TEST(ExpiryLog, AMemoryOnlyStoreGivesExpiryARevision) {
  ManualClock clock{kT0};
  auto store = MustOpen(MemoryOptions(&clock));
  Put(*store, "k", "1", std::nullopt, 10);
  Put(*store, "j", "1", std::nullopt, 10);
  const uint64_t revision = store->revision();
  clock.Advance(10);
  store->Sweep();
  EXPECT_EQ(store->revision(), revision + 2);
  const uint64_t k = store->Get("ws", "k").visible_lsn, j = store->Get("ws", "j").visible_lsn;
  EXPECT_GT(k, revision);
  EXPECT_GT(j, revision);
  EXPECT_NE(k, j);
}

}  // namespace
}  // namespace casmem
