// Idempotency-Key in the engine (memory-api.md §7): the first answer is
// remembered with its write and replayed; a different request is refused;
// a repeat before the write is durable is "in progress"; answers survive
// a crash, a snapshot, and expire; memory stays bounded.
#include <gtest/gtest.h>

#include <thread>

#include "engine/store.h"
#include "tests/engine/engine_helpers.h"

namespace casmem {
namespace {

const std::string kFp1(16, '1'), kFp2(16, '2');

Idempotency<WriteResult> Key(std::string_view key, const std::string& fp) {
  Idempotency<WriteResult> i;
  i.key = key;
  i.fingerprint = fp;
  i.render = [](const WriteResult& w) {
    IdempotencyAnswer a;
    a.status = w.outcome == Outcome::kOk ? 200 : 409;
    a.body = "v" + std::to_string(w.version) + " r" + std::to_string(w.revision) + " c" +
             (w.current_version ? std::to_string(*w.current_version) : "null");
    return a;
  };
  return i;
}

WriteResult PutIdem(Store& s, std::string_view key, std::string_view value,
                    const Idempotency<WriteResult>& idem,
                    std::optional<uint64_t> guard = std::nullopt) {
  PutRequest r;
  r.workspace = "ws";
  r.key = key;
  r.value = value;
  r.if_match_version = guard;
  r.idempotency = &idem;
  WriteResult w = s.Put(r);
  if (w.outcome == Outcome::kOk || w.outcome == Outcome::kConflict ||
      w.outcome == Outcome::kReplay) {
    EXPECT_TRUE(s.WaitVisible(w.visible_lsn).ok());
  }
  return w;
}

TEST(Idempotency, ARepeatIsAnsweredFromTheFirstAndWritesNothing) {
  ManualClock clock{kT0};
  auto store = MustOpen(MemoryOptions(&clock));
  const auto idem = Key("req-1", kFp1);
  const WriteResult first = PutIdem(*store, "k", "1", idem);
  ASSERT_EQ(first.outcome, Outcome::kOk);
  const uint64_t rev = store->revision();
  const WriteResult again = PutIdem(*store, "k", "1", idem);
  ASSERT_EQ(again.outcome, Outcome::kReplay);
  EXPECT_EQ(again.replay.status, 200);
  EXPECT_EQ(again.replay.body, "v1 r" + std::to_string(first.revision) + " cnull");
  EXPECT_EQ(store->Get("ws", "k").entry.version, 1u);
  EXPECT_EQ(store->revision(), rev);
  // The same key with a different request.
  EXPECT_EQ(PutIdem(*store, "k", "2", Key("req-1", kFp2)).outcome, Outcome::kIdempotencyReused);
  // Keys are per workspace.
  PutRequest other{"ws2", "k", "5", std::nullopt, 0, {}, &idem};
  EXPECT_EQ(store->Put(other).outcome, Outcome::kOk);
}

TEST(Idempotency, ConflictsAndDeletesOfAbsentKeysAreRemembered) {
  ManualClock clock{kT0};
  auto store = MustOpen(MemoryOptions(&clock));
  Put(*store, "k", "1");
  const auto idem = Key("c", kFp1);
  ASSERT_EQ(PutIdem(*store, "k", "2", idem, 7).outcome, Outcome::kConflict);
  Put(*store, "k", "3");  // the key moves on
  const WriteResult again = PutIdem(*store, "k", "2", idem, 7);
  ASSERT_EQ(again.outcome, Outcome::kReplay);
  EXPECT_EQ(again.replay.status, 409);
  EXPECT_EQ(again.replay.body, "v0 r0 c1") << "the first answer, not today's state";

  const auto del = Key("d", kFp1);
  DeleteRequest d{"ws", "absent", std::nullopt, {}, &del};
  ASSERT_EQ(store->Delete(d).outcome, Outcome::kOk);
  EXPECT_EQ(store->Delete(d).outcome, Outcome::kReplay);
}

TEST(Idempotency, RefusedRequestsAreNotRemembered) {
  ManualClock clock{kT0};
  auto store = MustOpen(MemoryOptions(&clock));
  const auto idem = Key("r", kFp1);
  PutRequest bad{"ws", "k", "", std::nullopt, 0, {}, &idem};
  EXPECT_EQ(store->Put(bad).outcome, Outcome::kInvalid);
  EXPECT_EQ(PutIdem(*store, "k", "1", Key("r", kFp2)).outcome, Outcome::kOk)
      << "a 400 leaves the key free";
  const std::string too_long(256, 'k');
  for (std::string_view bad : {std::string_view("tab\there"), std::string_view(""),
                               std::string_view(too_long)}) {
    EXPECT_EQ(PutIdem(*store, "k", "1", Key(bad, kFp1)).outcome, Outcome::kInvalid) << bad;
  }
  EXPECT_EQ(PutIdem(*store, "k", "1", Key("job 42", kFp1)).outcome, Outcome::kOk)
      << "printable ASCII includes the space";
  EXPECT_EQ(store->counters().idempotency_entries, 2u);
}

TEST(Idempotency, ARepeatBeforeTheFirstIsDurableIsInProgress) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  // Hold the next fsync until the repeat has been answered.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, syncing = false;
  fs.SetSyncHook([&] {
    std::unique_lock lk(mu);
    syncing = true;
    cv.notify_all();
    cv.wait(lk, [&] { return release; });
  });
  const auto idem = Key("slow", kFp1);
  PutRequest r{"ws", "k", "1", std::nullopt, 0, {}, &idem};
  const WriteResult first = store->Put(r);
  ASSERT_EQ(first.outcome, Outcome::kOk);
  {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return syncing; });
  }
  EXPECT_EQ(store->Put(r).outcome, Outcome::kInProgress);
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(store->WaitVisible(first.visible_lsn).ok());
  fs.SetSyncHook(nullptr);
  EXPECT_EQ(store->Put(r).outcome, Outcome::kReplay);
}

TEST(Idempotency, AnswersSurviveACrashAndASnapshotAndThenExpire) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions opts = DurableOptions(&fs, &clock);
  opts.idempotency_retention = std::chrono::hours(1);
  const auto a = Key("a", kFp1), b = Key("b", kFp1);
  std::string body_a;
  {
    auto store = MustOpen(opts);
    const WriteResult w = PutIdem(*store, "k", "1", a);
    ASSERT_EQ(w.outcome, Outcome::kOk);
    body_a = "v1 r" + std::to_string(w.revision) + " cnull";
    fs.Freeze();  // crash: no snapshot at close, recovery reads the log
  }
  fs.ProcessCrash();
  {
    auto store = MustOpen(opts);
    const WriteResult again = PutIdem(*store, "k", "1", a);
    ASSERT_EQ(again.outcome, Outcome::kReplay) << "after a crash";
    EXPECT_EQ(again.replay.body, body_a);
    ASSERT_EQ(PutIdem(*store, "k2", "1", b).outcome, Outcome::kOk);
    ASSERT_TRUE(store->Snapshot().ok());  // drops the log segments it covers
  }  // a clean close writes another snapshot
  clock.Advance(30 * 60 * 1000);
  {
    auto store = MustOpen(opts);
    EXPECT_EQ(PutIdem(*store, "k", "1", a).outcome, Outcome::kReplay) << "after a snapshot";
    EXPECT_EQ(PutIdem(*store, "k2", "1", b).outcome, Outcome::kReplay);
    clock.Advance(31 * 60 * 1000);
    store->Sweep();
    EXPECT_EQ(store->counters().idempotency_entries, 0u) << "expired after an hour";
    EXPECT_EQ(PutIdem(*store, "k", "1", a).outcome, Outcome::kOk) << "a new request now";
  }
  clock.Advance(61 * 60 * 1000);
  auto store = MustOpen(opts);
  EXPECT_EQ(store->counters().idempotency_entries, 0u) << "expired answers are not restored";
}

TEST(Idempotency, MemoryIsBoundedByDroppingTheOldest) {
  ManualClock clock{kT0};
  StoreOptions opts = MemoryOptions(&clock);
  opts.idempotency_max_bytes = 64 * 1024;
  auto store = MustOpen(opts);
  std::vector<std::string> names;
  for (int i = 0; i < 2000; ++i) names.push_back("key-" + std::to_string(i));
  for (const auto& n : names) {
    ASSERT_EQ(PutIdem(*store, n, "1", Key(n, kFp1)).outcome, Outcome::kOk);
    // Held as each answer is added, not only by the sweep.
    ASSERT_LE(store->counters().idempotency_bytes, opts.idempotency_max_bytes);
  }
  const StoreCounters c = store->counters();
  EXPECT_LE(c.idempotency_bytes, opts.idempotency_max_bytes);
  EXPECT_GT(c.idempotency_evicted, 0u);
  EXPECT_EQ(c.idempotency_entries + c.idempotency_evicted, names.size());
  EXPECT_EQ(PutIdem(*store, names.back(), "1", Key(names.back(), kFp1)).outcome, Outcome::kReplay)
      << "the newest is kept";
  EXPECT_EQ(PutIdem(*store, names.front(), "1", Key(names.front(), kFp1)).outcome, Outcome::kOk)
      << "the oldest was dropped";
}

TEST(Idempotency, AfterAStorageFailureARepeatGetsTheFailureNotInProgress) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  auto store = MustOpen(DurableOptions(&fs, &clock));
  fs.FailSyncsAfter(0);
  const auto idem = Key("f", kFp1);
  PutRequest r{"ws", "k", "1", std::nullopt, 0, {}, &idem};
  const WriteResult first = store->Put(r);
  if (first.outcome == Outcome::kOk) {
    EXPECT_FALSE(store->WaitVisible(first.visible_lsn).ok());
  }
  EXPECT_EQ(store->Put(r).outcome, Outcome::kStorageFailed);
}

// Patches and transactions: the replayed answer is the first one, across a
// crash (answers read back from the log) and a snapshot.
TEST(Idempotency, PatchAndTransactionAnswersReplayAcrossCrashAndSnapshot) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions opts = DurableOptions(&fs, &clock);
  PatchError err;
  auto inc = JsonPatch::Parse(R"([{"op":"increment","path":"/n","value":1}])", &err);
  Idempotency<WriteResult> pidem;
  pidem.key = "p";
  pidem.fingerprint = kFp1;
  pidem.render = [](const WriteResult& w) {
    return IdempotencyAnswer{w.outcome == Outcome::kOk ? 200 : 409, w.value};
  };
  Idempotency<TxnResult> tidem;
  tidem.key = "t";
  tidem.fingerprint = kFp1;
  tidem.render = [](const TxnResult& t) {
    return IdempotencyAnswer{t.outcome == Outcome::kOk ? 200 : 409,
                             "op " + std::to_string(t.op_index)};
  };
  std::vector<TxnOp> ops(2);
  ops[0].type = TxnOp::Type::kSet;
  ops[0].key = "x";
  ops[0].value = "1";
  ops[1].type = TxnOp::Type::kCheck;
  ops[1].key = "n";
  ops[1].if_match_version = 9;  // fails: a remembered 409
  PatchRequest pr;
  pr.workspace = "ws";
  pr.key = "n";
  pr.json_patch = inc.get();
  pr.idempotency = &pidem;
  TxnRequest tr;
  tr.workspace = "ws";
  tr.ops = &ops;
  tr.idempotency = &tidem;
  auto check = [&](Store& s, const char* when) {
    const WriteResult p = s.Patch(pr);
    ASSERT_EQ(p.outcome, Outcome::kReplay) << when;
    EXPECT_EQ(p.replay.body, R"({"n":1})") << when;
    const TxnResult t = s.Txn(tr);
    ASSERT_EQ(t.outcome, Outcome::kReplay) << when;
    EXPECT_EQ(t.replay.status, 409) << when;
    EXPECT_EQ(t.replay.body, "op 1") << when;
    EXPECT_EQ(s.Get("ws", "n").entry.version, 2u) << when << ": applied twice";
  };
  {
    auto store = MustOpen(opts);
    Put(*store, "n", R"({"n":0})");
    const WriteResult p = store->Patch(pr);
    ASSERT_EQ(p.outcome, Outcome::kOk);
    ASSERT_TRUE(store->WaitVisible(p.visible_lsn).ok());
    const TxnResult t = store->Txn(tr);
    ASSERT_EQ(t.outcome, Outcome::kConflict);
    ASSERT_TRUE(store->WaitVisible(t.visible_lsn).ok());
    check(*store, "at once");
    fs.Freeze();
  }
  fs.ProcessCrash();
  {
    auto store = MustOpen(opts);
    check(*store, "after a crash");
    ASSERT_TRUE(store->Snapshot().ok());
    fs.Freeze();
  }
  fs.ProcessCrash();
  auto store = MustOpen(opts);
  check(*store, "after a snapshot and a crash");
}

}  // namespace
}  // namespace casmem
