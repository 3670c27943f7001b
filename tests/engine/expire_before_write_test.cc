// A write that reaches a key whose TTL ran out before the sweep logged its
// expiry (issue 10): the key's expire record is logged first, under the
// same shard lock, then the write; so watchers see put v1, expire v1, put
// v2, in revision order. A refused guard, a failed patch, a delete and a
// read log nothing; a refused expire record fails the write and applies
// nothing; the sweep does not log the expiry again; recovery agrees.
// sweep_interval is 0 in every store here: only writes (and explicit
// Sweep() calls) can log an expiry.
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/json_patch.h"
#include "tests/engine/engine_helpers.h"

namespace casmem {
namespace {

// One change of the history, copied out.
struct Change {
  ChangeKind kind;
  uint64_t revision, version;
  std::string key, value, writer;
  int64_t updated_at_ms;
  bool operator==(const Change&) const = default;
};

// Every change of workspace "ws" the history holds, in revision order
// (waits for the log to acknowledge everything first).
std::vector<Change> History(Store& s) {
  EXPECT_TRUE(s.WaitVisible(s.revision()).ok());
  ChangeHistory::Query q;
  q.filter.workspace = "ws";
  ChangeHistory::Page page;
  Status st = s.history()->Read(q, &page);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(page.compacted);
  std::vector<Change> out;
  for (const ChangeEvent& e : page.events) {
    out.push_back({e.kind, e.revision, e.version, std::string(e.key), std::string(e.value),
                   std::string(e.writer), e.updated_at_ms});
  }
  return out;
}

std::vector<Change> ChangesOf(const std::vector<Change>& all, std::string_view key) {
  std::vector<Change> out;
  for (const Change& c : all)
    if (c.key == key) out.push_back(c);
  return out;
}

size_t Expires(const std::vector<Change>& all) {
  size_t n = 0;
  for (const Change& c : all) n += c.kind == ChangeKind::kExpire;
  return n;
}

// Checks that `changes` (one key's) are: put v1 at `put1`, its expire
// (version 1, dead since `expired_at`, no writer), then put v2 with
// `value2`, the write's revision `rev2`, each revision above the last.
void ExpectPutExpirePut(const std::vector<Change>& changes, uint64_t put1, int64_t expired_at,
                        uint64_t rev2, std::string_view value2) {
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].kind, ChangeKind::kPut);
  EXPECT_EQ(changes[0].revision, put1);
  EXPECT_EQ(changes[0].version, 1u);
  EXPECT_EQ(changes[1].kind, ChangeKind::kExpire) << "the expiry is logged before the write";
  EXPECT_GT(changes[1].revision, put1);
  EXPECT_EQ(changes[1].version, 1u) << "the expired version";
  EXPECT_EQ(changes[1].updated_at_ms, expired_at) << "dead since its expiry";
  EXPECT_TRUE(changes[1].writer.empty()) << "expiry has no writer";
  EXPECT_EQ(changes[2].kind, ChangeKind::kPut);
  EXPECT_EQ(changes[2].revision, rev2);
  EXPECT_GT(changes[2].revision, changes[1].revision);
  EXPECT_EQ(changes[2].version, 2u) << "continues at the tombstone's version + 1";
  EXPECT_EQ(changes[2].value, value2);
}

TxnOp SetOp(std::string_view key, std::string_view value,
            std::optional<uint64_t> guard = std::nullopt) {
  TxnOp op;
  op.type = TxnOp::Type::kSet;
  op.key = key;
  op.value = value;
  op.if_match_version = guard;
  return op;
}

TxnResult RunTxn(Store& s, const std::vector<TxnOp>& ops) {
  TxnRequest req;
  req.workspace = "ws";
  req.ops = &ops;
  TxnResult r = s.Txn(req);
  if (r.outcome == Outcome::kOk) {
    EXPECT_TRUE(s.WaitVisible(r.visible_lsn).ok());
  }
  return r;
}

WriteResult MergeInto(Store& s, std::string_view key, const MergePatch& patch,
                      std::optional<uint64_t> guard = std::nullopt) {
  PatchRequest req;
  req.workspace = "ws";
  req.key = key;
  req.merge_patch = &patch;
  req.if_match_version = guard;
  WriteResult w = s.Patch(req);
  if (w.outcome == Outcome::kOk) {
    EXPECT_TRUE(s.WaitVisible(w.visible_lsn).ok());
  }
  return w;
}

std::unique_ptr<MergePatch> Merge(std::string_view text) {
  PatchError err;
  auto p = MergePatch::Parse(text, &err);
  EXPECT_NE(p, nullptr) << err.message;
  return p;
}

TEST(ExpireBeforeWrite, APutOverAnExpiredKeyLogsTheExpiryFirst) {
  for (bool durable : {true, false}) {
    SCOPED_TRACE(durable ? "durable store" : "memory-only store");
    testing::MemFs fs;
    ManualClock clock{kT0};
    auto store = MustOpen(durable ? DurableOptions(&fs, &clock) : MemoryOptions(&clock));
    const WriteResult v1 = Put(*store, "lease", R"({"holder":"a"})", std::nullopt, 10);
    clock.Advance(10);
    // A read logs nothing.
    EXPECT_EQ(store->Get("ws", "lease").outcome, Outcome::kNotFound);
    EXPECT_EQ(store->revision(), v1.revision);
    const WriteResult v2 = Put(*store, "lease", R"({"holder":"b"})");
    ASSERT_EQ(v2.outcome, Outcome::kOk);
    EXPECT_EQ(v2.revision, v1.revision + 2) << "one expire record, then the put";
    EXPECT_EQ(v2.visible_lsn, v2.revision);
    ExpectPutExpirePut(History(*store), v1.revision, kT0 + 10, v2.revision, R"({"holder":"b"})");
    // The sweep has nothing left to log for the key.
    store->Sweep();
    EXPECT_EQ(store->revision(), v2.revision);
    EXPECT_EQ(store->counters().tombstones, 0u);
    EXPECT_EQ(store->counters().live_keys, 1u);
    GetResult g = store->Get("ws", "lease");
    ASSERT_EQ(g.outcome, Outcome::kOk);
    EXPECT_EQ(g.entry.version, 2u);
    EXPECT_EQ(g.entry.revision, v2.revision);
  }
}

TEST(ExpireBeforeWrite, AMergePatchOverAnExpiredKeyLogsTheExpiryFirst) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  const WriteResult v1 = Put(*store, "doc", R"({"a":1})", std::nullopt, 10);
  clock.Advance(15);
  auto patch = Merge(R"({"b":2})");
  const WriteResult v2 = MergeInto(*store, "doc", *patch);
  ASSERT_EQ(v2.outcome, Outcome::kOk);
  EXPECT_EQ(v2.value, R"({"b":2})") << "the expired value is not patched";
  ExpectPutExpirePut(History(*store), v1.revision, kT0 + 10, v2.revision, R"({"b":2})");
  store->Sweep();
  EXPECT_EQ(store->revision(), v2.revision);
}

TEST(ExpireBeforeWrite, ATransactionLogsEachExpiredKeysExpiryBeforeItsCommit) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  const WriteResult a = Put(*store, "a", "1", std::nullopt, 10);
  const WriteResult b = Put(*store, "b", "1", std::nullopt, 20);
  Put(*store, "c", "1", std::nullopt, 10);
  Put(*store, "live", "1");
  clock.Advance(20);
  // The delete of expired c answers as for an absent key: no expire for c.
  TxnOp del;
  del.type = TxnOp::Type::kDelete;
  del.key = "c";
  const std::vector<TxnOp> ops = {SetOp("b", "2", 0), SetOp("live", "2"), del, SetOp("a", "2")};
  const TxnResult t = RunTxn(*store, ops);
  ASSERT_EQ(t.outcome, Outcome::kOk) << t.error;
  ASSERT_EQ(t.versions.size(), 4u);
  EXPECT_EQ(t.versions[0], 2u);
  EXPECT_EQ(t.versions[3], 2u);
  EXPECT_EQ(t.versions[2], std::nullopt);
  const std::vector<Change> all = History(*store);
  EXPECT_EQ(Expires(all), 2u) << "b and a, not c";
  ExpectPutExpirePut(ChangesOf(all, "b"), b.revision, kT0 + 20, t.revision, "2");
  ExpectPutExpirePut(ChangesOf(all, "a"), a.revision, kT0 + 10, t.revision, "2");
  // In op order, both before the commit.
  EXPECT_LT(ChangesOf(all, "b")[1].revision, ChangesOf(all, "a")[1].revision);
  EXPECT_EQ(ChangesOf(all, "c").size(), 1u);
  // The sweep then logs c's expiry only.
  store->Sweep();
  const std::vector<Change> after = History(*store);
  ASSERT_EQ(after.size(), all.size() + 1);
  EXPECT_EQ(after.back().kind, ChangeKind::kExpire);
  EXPECT_EQ(after.back().key, "c");
}

// What fails or changes nothing logs nothing; the write that then applies
// logs the expiry, once.
TEST(ExpireBeforeWrite, ARefusedGuardAFailedPatchAndADeleteLogNothing) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  const WriteResult v1 = Put(*store, "k", "1", std::nullopt, 10);
  clock.Advance(10);
  const uint64_t rev = store->revision();
  // A guard naming the expired version: 409 (the key is absent).
  WriteResult w = Put(*store, "k", "2", 1);
  EXPECT_EQ(w.outcome, Outcome::kConflict);
  EXPECT_FALSE(w.current_version.has_value());
  auto patch = Merge(R"({"x":1})");
  EXPECT_EQ(MergeInto(*store, "k", *patch, 1).outcome, Outcome::kConflict);
  // A JSON Patch whose test fails on the absent document.
  PatchError perr;
  auto jp = JsonPatch::Parse(R"([{"op":"test","path":"/a","value":1}])", &perr);
  ASSERT_NE(jp, nullptr) << perr.message;
  PatchRequest preq;
  preq.workspace = "ws";
  preq.key = "k";
  preq.json_patch = jp.get();
  EXPECT_EQ(store->Patch(preq).outcome, Outcome::kPatchFailed);
  const std::vector<TxnOp> bad = {SetOp("other", "1"), SetOp("k", "2", 1)};
  EXPECT_EQ(RunTxn(*store, bad).outcome, Outcome::kConflict);
  WriteResult d = store->Delete("ws", "k", std::nullopt);
  EXPECT_EQ(d.outcome, Outcome::kOk);
  EXPECT_FALSE(d.applied);
  EXPECT_EQ(store->revision(), rev) << "nothing logged";
  EXPECT_EQ(store->counters().tombstones, 0u);
  // A create-only put matches the absent key: expiry, then the put.
  const WriteResult v2 = Put(*store, "k", "2", 0);
  ASSERT_EQ(v2.outcome, Outcome::kOk);
  ExpectPutExpirePut(History(*store), v1.revision, kT0 + 10, v2.revision, "2");
}

using testing::SyncGate;

Idempotency<WriteResult> IdemKey(std::string_view key, const std::string& fp) {
  Idempotency<WriteResult> i;
  i.key = key;
  i.fingerprint = fp;
  i.render = [](const WriteResult& w) {
    return IdempotencyAnswer{200, "v" + std::to_string(w.version) + " r" +
                                      std::to_string(w.revision)};
  };
  return i;
}

// A busy log refuses the expire record: the write fails busy, nothing is
// applied (the key is still expired-not-swept, its Idempotency-Key free
// again); once the log drains, the retry logs the expiry and the write.
TEST(ExpireBeforeWrite, ARefusedExpireRecordFailsTheWriteAndAppliesNothing) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  o.wal_max_pending_bytes = 4096;
  auto store = MustOpen(o);
  const WriteResult v1 = Put(*store, "k", "1", std::nullopt, 10);
  Put(*store, "t", "1", std::nullopt, 10);
  const std::string fp(16, 'f');
  const auto idem = IdemKey("req-1", fp);
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
    ASSERT_EQ(store->revision(), last);
    PutRequest req{"ws", "k", "2", std::nullopt, 0, {}, &idem};
    w = store->Put(req);
    EXPECT_EQ(w.outcome, Outcome::kBusy);
    EXPECT_FALSE(w.applied);
    auto patch = Merge(R"({"b":2})");
    PatchRequest preq;
    preq.workspace = "ws";
    preq.key = "k";
    preq.merge_patch = patch.get();
    const WriteResult p = store->Patch(preq);
    EXPECT_EQ(p.outcome, Outcome::kBusy);
    EXPECT_TRUE(p.value.empty());
    const std::vector<TxnOp> ops = {SetOp("t", "2"), SetOp("k", "2")};
    EXPECT_EQ(RunTxn(*store, ops).outcome, Outcome::kBusy);
    EXPECT_EQ(store->revision(), last) << "refused: nothing logged";
    GetResult g = store->Get("ws", "k");
    EXPECT_EQ(g.outcome, Outcome::kNotFound);
    EXPECT_EQ(g.visible_lsn, v1.revision) << "still expired-not-swept, as before";
    EXPECT_EQ(store->counters().tombstones, 0u);
    gate.Open();
    ASSERT_TRUE(store->WaitVisible(last).ok());
  }
  // The refused attempt left its Idempotency-Key unclaimed: the retry runs.
  const WriteResult v2 = store->Put(PutRequest{"ws", "k", "2", std::nullopt, 0, {}, &idem});
  ASSERT_EQ(v2.outcome, Outcome::kOk);
  EXPECT_EQ(v2.revision, last + 2);
  const std::vector<Change> all = History(*store);
  EXPECT_EQ(Expires(all), 1u);
  ExpectPutExpirePut(ChangesOf(all, "k"), v1.revision, kT0 + 10, v2.revision, "2");
  // The answer was remembered with the write.
  const WriteResult again = store->Put(PutRequest{"ws", "k", "2", std::nullopt, 0, {}, &idem});
  EXPECT_EQ(again.outcome, Outcome::kReplay);
  EXPECT_EQ(again.replay.body, "v2 r" + std::to_string(v2.revision));
}

// The log takes a transaction's first expire record and then answers busy:
// the transaction fails and applies nothing of its own, but the expiry it
// logged stands (it is true), and the sweep logs the other one later.
TEST(ExpireBeforeWrite, ExpireRecordsOfAFailedTransactionStand) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions o = DurableOptions(&fs, &clock);
  o.shards = 1;
  o.wal_max_pending_bytes = 4096;
  auto store = MustOpen(o);
  const WriteResult a = Put(*store, "a", "1", std::nullopt, 10);
  const WriteResult b = Put(*store, "b", "1", std::nullopt, 10);
  clock.Advance(10);
  uint64_t last = 0;
  {
    SyncGate gate(fs);
    WriteResult w = store->Put(PutRequest{"ws", "fill", "0", std::nullopt, 0, {}, nullptr});
    ASSERT_EQ(w.outcome, Outcome::kOk);
    gate.WaitStalled();  // the writer holds that record: the rest stays pending
    const uint64_t base = store->wal()->bytes_appended();
    // Fill the pending bytes to 8 below the limit, where the log still
    // takes one more record (it refuses once pending >= the limit) and an
    // expire record (64 bytes) passes it. docs/wal_format.md: a put of key
    // "fill" in "ws" is a 16-byte header, 48 bytes of fixed fields and
    // names, the value, padded to 8 bytes; 62 + L is a multiple of 8 for
    // every L used here, so each filler is exactly 62 + L bytes.
    constexpr uint64_t kFixed = 62;
    const uint64_t target = o.wal_max_pending_bytes - 8;
    for (uint64_t pending = 0; pending < target; pending = store->wal()->bytes_appended() - base) {
      const uint64_t room = target - pending;
      ASSERT_EQ(room % 8, 0u);
      const uint64_t len = room <= kFixed + 1002 ? room - kFixed : 1002;
      w = store->Put(
          PutRequest{"ws", "fill", std::string(len, '7'), std::nullopt, 0, {}, nullptr});
      ASSERT_EQ(w.outcome, Outcome::kOk);
    }
    ASSERT_EQ(store->wal()->bytes_appended() - base, target);
    last = store->revision();
    const std::vector<TxnOp> ops = {SetOp("a", "2"), SetOp("b", "2")};
    TxnRequest req;
    req.workspace = "ws";
    req.ops = &ops;
    const TxnResult t = store->Txn(req);  // no wait: the disk is held
    EXPECT_EQ(t.outcome, Outcome::kBusy);
    EXPECT_TRUE(t.versions.empty());
    EXPECT_EQ(store->revision(), last + 1) << "a's expire record only";
    gate.Open();
    ASSERT_TRUE(store->WaitVisible(last + 1).ok());
  }
  GetResult ga = store->Get("ws", "a"), gb = store->Get("ws", "b");
  EXPECT_EQ(ga.outcome, Outcome::kNotFound);
  EXPECT_EQ(ga.visible_lsn, last + 1) << "a is the tombstone its expire record made";
  EXPECT_EQ(gb.outcome, Outcome::kNotFound);
  EXPECT_EQ(gb.visible_lsn, b.revision) << "b is untouched: expired, not swept";
  EXPECT_EQ(store->counters().tombstones, 1u);
  store->Sweep();
  ASSERT_EQ(store->revision(), last + 2);
  std::vector<Change> all = History(*store);
  ASSERT_EQ(Expires(all), 2u);
  const std::vector<Change> ca = ChangesOf(all, "a"), cb = ChangesOf(all, "b");
  ASSERT_EQ(ca.size(), 2u);
  EXPECT_EQ(ca[0].revision, a.revision);
  EXPECT_EQ(ca[1].kind, ChangeKind::kExpire);
  EXPECT_EQ(ca[1].revision, last + 1);
  ASSERT_EQ(cb.size(), 2u);
  EXPECT_EQ(cb[1].kind, ChangeKind::kExpire);
  EXPECT_EQ(cb[1].revision, last + 2);
  // Versions continue from the tombstones.
  EXPECT_EQ(RunTxn(*store, {SetOp("a", "2"), SetOp("b", "2")}).versions,
            (std::vector<std::optional<uint64_t>>{2, 2}));
  EXPECT_EQ(store->revision(), last + 3) << "nothing left to expire";
}

// A crash (log only) and a clean restart (snapshot) give back the state the
// writes left, and no further expiry is logged.
TEST(ExpireBeforeWrite, RecoveryGivesTheSameState) {
  for (bool snapshot : {false, true}) {
    SCOPED_TRACE(snapshot ? "clean restart" : "process crash");
    testing::MemFs fs;
    ManualClock clock{kT0};
    const StoreOptions o = DurableOptions(&fs, &clock);
    auto store = MustOpen(o);
    Put(*store, "k", "1", std::nullopt, 10);
    Put(*store, "j", "1", std::nullopt, 10);
    clock.Advance(10);
    const std::vector<TxnOp> ops = {SetOp("j", "2")};
    ASSERT_EQ(Put(*store, "k", "2").outcome, Outcome::kOk);
    ASSERT_EQ(RunTxn(*store, ops).outcome, Outcome::kOk);
    const std::vector<Change> before = History(*store);
    ASSERT_EQ(Expires(before), 2u);
    const uint64_t revision = store->revision();
    const GetResult k = store->Get("ws", "k"), j = store->Get("ws", "j");
    if (snapshot) {
      ASSERT_TRUE(store->Snapshot().ok());
      store.reset();
    } else {
      fs.Freeze();
      store.reset();
      fs.ProcessCrash();
    }
    store = MustOpen(o);
    EXPECT_EQ(store->revision(), revision);
    for (const auto& [key, was] : {std::pair{"k", k}, std::pair{"j", j}}) {
      GetResult g = store->Get("ws", key);
      ASSERT_EQ(g.outcome, Outcome::kOk) << key;
      EXPECT_EQ(g.entry.version, 2u) << key;
      EXPECT_EQ(g.entry.revision, was.entry.revision) << key;
      EXPECT_EQ(g.entry.value, "2") << key;
    }
    EXPECT_EQ(store->counters().tombstones, 0u);
    if (!snapshot) {
      EXPECT_EQ(History(*store), before) << "the history reads back from the log";
    }
    store->Sweep();
    EXPECT_EQ(store->revision(), revision) << "nothing more to expire";
    EXPECT_EQ(Put(*store, "k", "3").version, 3u);
  }
}

}  // namespace
}  // namespace casmem
