// Transactions (memory-api.md §6) in the engine: all or nothing, one
// revision, the shape rules, and recovery of a commit record whole or not
// at all, torn at every byte.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "engine/store.h"
#include "tests/engine/engine_helpers.h"
#include "wal/format.h"
#include "wal/segment.h"

namespace casmem {
namespace {

TxnOp Set(std::string_view key, std::string_view value,
          std::optional<uint64_t> guard = std::nullopt) {
  TxnOp op;
  op.type = TxnOp::Type::kSet;
  op.key = key;
  op.value = value;
  op.if_match_version = guard;
  return op;
}
TxnOp Check(std::string_view key, uint64_t version) {
  TxnOp op;
  op.type = TxnOp::Type::kCheck;
  op.key = key;
  op.if_match_version = version;
  return op;
}
TxnOp Del(std::string_view key, std::optional<uint64_t> guard = std::nullopt) {
  TxnOp op;
  op.type = TxnOp::Type::kDelete;
  op.key = key;
  op.if_match_version = guard;
  return op;
}

TxnResult RunTxn(Store& s, const std::vector<TxnOp>& ops, std::string_view writer = {}) {
  TxnRequest req;
  req.workspace = "ws";
  req.ops = &ops;
  req.writer = writer;
  TxnResult r = s.Txn(req);
  if (r.outcome == Outcome::kOk) {
    EXPECT_TRUE(s.WaitVisible(r.visible_lsn).ok());
  }
  return r;
}

class Txn : public ::testing::Test {
 protected:
  ManualClock clock{kT0};
  std::unique_ptr<Store> store = MustOpen(MemoryOptions(&clock));
};

TEST_F(Txn, AllWritesShareOneRevisionAndEachKeyGetsItsVersion) {
  Put(*store, "a", "1");
  Put(*store, "a", "2");
  const TxnResult r = RunTxn(*store, {Check("a", 2), Set("a", "3", 2), Set("b", "[1]", 0), Del("c")},
                          "dev-lead");
  ASSERT_EQ(r.outcome, Outcome::kOk) << r.error;
  ASSERT_EQ(r.versions.size(), 4u);
  EXPECT_EQ(r.versions[0], 2u);  // what the check saw
  EXPECT_EQ(r.versions[1], 3u);
  EXPECT_EQ(r.versions[2], 1u);
  EXPECT_EQ(r.versions[3], std::nullopt);  // delete of an absent key
  const GetResult a = store->Get("ws", "a"), b = store->Get("ws", "b");
  EXPECT_EQ(a.entry.value, "3");
  EXPECT_EQ(b.entry.value, "[1]");
  EXPECT_EQ(a.entry.revision, r.revision);
  EXPECT_EQ(b.entry.revision, r.revision);
  EXPECT_EQ(a.entry.writer, "dev-lead");
  EXPECT_GT(r.revision, store->Get("ws", "a").entry.revision - 1);
  EXPECT_EQ(store->revision(), r.revision);
}

TEST_F(Txn, AFailureAtAnyOpIndexWritesNothing) {
  Put(*store, "a", "1");
  Put(*store, "b", "1");
  // Each list fails at its last op; every op before it would have written.
  const std::vector<std::vector<TxnOp>> cases = {
      {Check("a", 5)},
      {Set("x", "1"), Check("a", 5)},
      {Set("x", "1"), Set("y", "2"), Set("a", "9", 7)},
      {Set("x", "1"), Del("b"), Set("y", "2"), Del("a", 4)},
      {Set("x", "1"), Set("b", "2", 0)},  // create-only on a live key
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    const uint64_t before = store->revision();
    const TxnResult r = RunTxn(*store, cases[c]);
    EXPECT_EQ(r.outcome, Outcome::kConflict) << "case " << c;
    EXPECT_EQ(r.op_index, static_cast<int>(cases[c].size() - 1)) << "case " << c;
    EXPECT_EQ(store->revision(), before) << "case " << c << ": something was logged";
    EXPECT_EQ(store->Get("ws", "x").outcome, Outcome::kNotFound);
    EXPECT_EQ(store->Get("ws", "y").outcome, Outcome::kNotFound);
    EXPECT_EQ(store->Get("ws", "a").entry.version, 1u);
    EXPECT_EQ(store->Get("ws", "b").entry.version, 1u);
  }
  // The failing op's state comes with the refusal.
  const TxnResult r = RunTxn(*store, {Check("a", 5)});
  EXPECT_EQ(r.expected_version, 5u);
  EXPECT_EQ(r.failure.current_version, 1u);
  EXPECT_EQ(r.failure.current_value, "1");
}

TEST_F(Txn, MalformedTransactionsAreRefusedBeforeAnything) {
  std::vector<TxnOp> many;
  for (int i = 0; i < 129; ++i) many.push_back(Check("k", 0));
  const std::vector<std::vector<TxnOp>> bad = {
      {},
      many,
      {Set("a", "1"), Set("a", "2")},
      {Set("a", "1"), Check("a", 1)},  // a check after the write of its key
      {Set("", "1")},
      {Set("a", "")},
  };
  for (size_t c = 0; c < bad.size(); ++c) {
    EXPECT_EQ(RunTxn(*store, bad[c]).outcome, Outcome::kInvalid) << "case " << c;
  }
  EXPECT_EQ(store->revision(), 0u);
  EXPECT_EQ(RunTxn(*store, {Check("a", 0), Set("a", "1", 0)}).outcome, Outcome::kOk)
      << "a check before the write is allowed";
}

TEST_F(Txn, OnlyChecksWriteNothingAndReportTheCurrentRevision) {
  Put(*store, "a", "1");
  const uint64_t rev = store->revision();
  const TxnResult r = RunTxn(*store, {Check("a", 1), Check("b", 0)});
  ASSERT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.revision, rev);
  EXPECT_EQ(r.versions[1], std::nullopt);
  EXPECT_EQ(store->revision(), rev);
}

TEST_F(Txn, PatchOpsApplyToTheCurrentValue) {
  Put(*store, "q", R"({"n":1,"items":[1,2]})");
  PatchError err;
  auto patch = JsonPatch::Parse(R"([{"op":"remove","path":"/items/0"},{"op":"increment","path":"/n","value":2}])", &err);
  ASSERT_TRUE(patch) << err.message;
  TxnOp op;
  op.type = TxnOp::Type::kPatch;
  op.key = "q";
  op.json_patch = patch.get();
  const TxnResult r = RunTxn(*store, {op, Set("claim", "true", 0)});
  ASSERT_EQ(r.outcome, Outcome::kOk) << r.error;
  EXPECT_EQ(store->Get("ws", "q").entry.value, R"({"n":3,"items":[2]})");
  // A failing patch op refuses everything, with its own index inside.
  auto bad = JsonPatch::Parse(R"([{"op":"test","path":"/n","value":3},{"op":"remove","path":"/zz"}])", &err);
  ASSERT_TRUE(bad);
  op.json_patch = bad.get();
  const TxnResult f = RunTxn(*store, {Set("other", "1"), op});
  EXPECT_EQ(f.outcome, Outcome::kPatchFailed);
  EXPECT_EQ(f.op_index, 1);
  EXPECT_EQ(f.failure.patch_error.op_index, 1);
  EXPECT_EQ(f.failure.current_version, 2u);
  EXPECT_EQ(store->Get("ws", "other").outcome, Outcome::kNotFound);
}

TEST_F(Txn, ConcurrentTransfersConserveTheTotal) {
  // Two keys, many threads moving one unit between them in both
  // directions with checks and sets: the sum never changes, and every
  // acknowledged transfer is there.
  Put(*store, "x", "1000");
  Put(*store, "y", "1000");
  std::atomic<int> committed{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const GetResult x = store->Get("ws", "x"), y = store->Get("ws", "y");
        const int d = (t % 2) ? 1 : -1;
        const std::string nx = std::to_string(std::stol(x.entry.value) + d);
        const std::string ny = std::to_string(std::stol(y.entry.value) - d);
        if (RunTxn(*store, {Set("x", nx, x.entry.version), Set("y", ny, y.entry.version)}).outcome ==
            Outcome::kOk) {
          ++committed;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  const long x = std::stol(store->Get("ws", "x").entry.value);
  const long y = std::stol(store->Get("ws", "y").entry.value);
  EXPECT_EQ(x + y, 2000);
  EXPECT_EQ(store->Get("ws", "x").entry.version, 1u + committed.load());
  EXPECT_EQ(store->Get("ws", "y").entry.version, 1u + committed.load());
}

// A refused transaction's answer reveals op i's state and that every op
// before it passed: it must wait for all of those to be durable. So must a
// patch refused as too large, measured on an unacknowledged value.
TEST(TxnVisibility, RefusalsWaitForTheStateTheyReveal) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions opts = DurableOptions(&fs, &clock);
  opts.max_value_bytes = 64;
  auto store = MustOpen(opts);
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  fs.SetSyncHook([&] {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return release; });
  });
  PutRequest p{"ws", "a", "\"0123456789012345678901234567890123456789012345678901\"",
               std::nullopt, 0, {}, nullptr};
  const WriteResult a = store->Put(p);  // its fsync is held
  ASSERT_EQ(a.outcome, Outcome::kOk);
  ASSERT_FALSE(store->IsVisible(a.visible_lsn));
  TxnRequest req;
  req.workspace = "ws";
  const std::vector<TxnOp> ops = {Check("a", 1), Check("b", 5)};
  req.ops = &ops;
  const TxnResult r = store->Txn(req);
  EXPECT_EQ(r.outcome, Outcome::kConflict);
  EXPECT_EQ(r.op_index, 1);
  EXPECT_GE(r.visible_lsn, a.visible_lsn) << "op 0 passed on an unacknowledged version";
  // A patch refused as too large, on top of the unacknowledged value.
  PatchError err;
  auto doubled = MergePatch::Parse(
      R"({"k":"0123456789012345678901234567890123456789012345678901234567890123456789"})", &err);
  ASSERT_TRUE(doubled) << err.message;
  PatchRequest pr;
  pr.workspace = "ws";
  pr.key = "a";
  pr.merge_patch = doubled.get();
  const WriteResult w = store->Patch(pr);
  EXPECT_EQ(w.outcome, Outcome::kTooLarge);
  EXPECT_GE(w.visible_lsn, a.visible_lsn) << "measured on an unacknowledged value";
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  fs.SetSyncHook(nullptr);
}

// A crash anywhere inside the commit record: recovery applies all of its
// writes or none, never some.
TEST(TxnRecovery, ATornCommitRecordRecoversToAllOrNothing) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions opts = DurableOptions(&fs, &clock);
  std::string segment, name;
  size_t record_start = 0;
  {
    auto store = MustOpen(opts);
    Put(*store, "a", "0");
    Put(*store, "b", "0");
    ASSERT_TRUE(store->WaitVisible(store->revision()).ok());
    for (const auto& n : fs.Files("/data/wal"))
      if (wal::ParseSegmentName(n)) name = "/data/wal/" + n;
    std::string before;
    ASSERT_TRUE(fs.ReadFile(name, &before));
    record_start = before.find_last_not_of('\0');  // end of the data so far
    record_start = (record_start + 8) & ~size_t{7};
    const TxnResult r = RunTxn(*store, {Set("a", "\"A\""), Set("b", "\"B\""), Set("c", "\"C\"")},
                            "w");
    ASSERT_EQ(r.outcome, Outcome::kOk);
    ASSERT_TRUE(fs.ReadFile(name, &segment));
    fs.Freeze();
  }
  fs.ProcessCrash();
  const size_t end = segment.find_last_not_of('\0') + 1;
  ASSERT_GT(end, record_start);
  for (size_t cut = record_start; cut <= end; ++cut) {
    std::string torn = segment.substr(0, cut);
    torn.resize(segment.size(), '\0');
    fs.WriteFile(name, torn);
    // Remove what earlier iterations' recoveries wrote (new segments, snapshots).
    for (const auto& n : fs.Files("/data/wal"))
      if ("/data/wal/" + n != name) (void)fs.Remove("/data/wal/" + n);
    for (const auto& n : fs.Files("/data/snap")) (void)fs.Remove("/data/snap/" + n);
    std::unique_ptr<Store> store;
    Status s = Store::Open(opts, &store);
    ASSERT_TRUE(s.ok()) << "cut at " << cut << ": " << s.ToString();
    const bool a = store->Get("ws", "a").entry.value == "\"A\"";
    const bool b = store->Get("ws", "b").entry.value == "\"B\"";
    const bool c = store->Get("ws", "c").outcome == Outcome::kOk;
    ASSERT_TRUE((a && b && c) || (!a && !b && !c)) << "cut at " << cut << ": partly applied";
    if (cut == end) {
      ASSERT_TRUE(a) << "the whole record recovers";
      EXPECT_EQ(store->Get("ws", "c").entry.writer, "w");
    }
    fs.Freeze();
    store.reset();
    fs.ProcessCrash();
  }
}

}  // namespace
}  // namespace casmem

namespace casmem {
namespace {

// Revisions are never handed out twice: not after a clean restart (which
// writes a snapshot and drops covered segments), not after a crash.
TEST(Revision, NeverReusedAcrossRestarts) {
  testing::MemFs fs;
  ManualClock clock{kT0};
  StoreOptions opts = DurableOptions(&fs, &clock);
  uint64_t last = 0;
  for (int round = 0; round < 4; ++round) {
    auto store = MustOpen(opts);
    for (int i = 0; i < 50; ++i) {
      const WriteResult w = Put(*store, "k" + std::to_string(i % 7), std::to_string(i));
      ASSERT_GT(w.revision, last) << "round " << round;
      last = w.revision;
    }
    EXPECT_EQ(store->Get("ws", "k0").entry.revision <= last, true);
    if (round % 2 == 0) {
      ASSERT_TRUE(store->Snapshot().ok());
      store.reset();  // clean close
    } else {
      fs.Freeze();
      store.reset();
      fs.ProcessCrash();
    }
  }
}

// Process crashes in the middle of concurrent increments and transfers:
// recovery keeps every acknowledged update and applies none twice (each
// increment adds exactly one to the value and to the version).
TEST(TxnRecovery, CrashUnderConcurrentPatchesAndTransactions) {
  for (int round = 0; round < 6; ++round) {
    testing::MemFs fs;
    ManualClock clock{kT0};
    StoreOptions opts = DurableOptions(&fs, &clock);
    auto store = MustOpen(opts);
    Put(*store, "n", R"({"n":0})");
    Put(*store, "x", "500");
    Put(*store, "y", "500");
    PatchError err;
    auto inc = JsonPatch::Parse(R"([{"op":"increment","path":"/n","value":1}])", &err);
    std::atomic<uint64_t> acked_n{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < 3; ++t) {
      pool.emplace_back([&] {
        while (!stop) {
          PatchRequest r;
          r.workspace = "ws";
          r.key = "n";
          r.json_patch = inc.get();
          const WriteResult w = store->Patch(r);
          if (w.outcome != Outcome::kOk || !store->WaitVisible(w.visible_lsn).ok()) return;
          // Versions of one key are acknowledged in order: keep the highest.
          uint64_t seen = acked_n.load();
          while (w.version > seen && !acked_n.compare_exchange_weak(seen, w.version)) {
          }
        }
      });
    }
    pool.emplace_back([&] {
      while (!stop) {
        const GetResult x = store->Get("ws", "x"), y = store->Get("ws", "y");
        if (x.outcome != Outcome::kOk || y.outcome != Outcome::kOk) return;
        const std::string nx = std::to_string(std::stol(x.entry.value) - 1);
        const std::string ny = std::to_string(std::stol(y.entry.value) + 1);
        const std::vector<TxnOp> ops = {Set("x", nx, x.entry.version),
                                        Set("y", ny, y.entry.version)};
        TxnRequest req;
        req.workspace = "ws";
        req.ops = &ops;
        const TxnResult r = store->Txn(req);
        if (r.outcome == Outcome::kStorageFailed) return;
        if (r.outcome == Outcome::kOk && !store->WaitVisible(r.visible_lsn).ok()) return;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 15 * round));
    fs.Freeze();  // the process dies here: nothing more reaches the files
    stop = true;
    for (auto& th : pool) th.join();
    store.reset();
    fs.ProcessCrash();
    store = MustOpen(opts);
    const GetResult n = store->Get("ws", "n");
    ASSERT_EQ(n.outcome, Outcome::kOk);
    EXPECT_GE(n.entry.version, acked_n.load()) << "an acknowledged increment was lost";
    EXPECT_EQ(n.entry.value, R"({"n":)" + std::to_string(n.entry.version - 1) + "}")
        << "an increment applied twice or torn";
    const GetResult x = store->Get("ws", "x"), y = store->Get("ws", "y");
    EXPECT_EQ(std::stol(x.entry.value) + std::stol(y.entry.value), 1000);
    EXPECT_EQ(x.entry.version, y.entry.version) << "half a transfer recovered";
  }
}

}  // namespace
}  // namespace casmem
