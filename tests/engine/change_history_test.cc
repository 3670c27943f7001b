// ChangeHistory (memory-api.md §8): the changes of puts, deletes and
// transactions under their revisions, filters, page limits that never
// split a record, the read back from log segments once memory is trimmed
// or after a restart, and `compacted` once the segments are gone.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "engine/change_history.h"
#include "engine/store.h"
#include "tests/engine/change_helpers.h"
#include "tests/support/mem_fs.h"
#include "wal/record.h"

namespace casmem {
namespace {

using changes_test::Describe;
using changes_test::DiskStoreOptions;
using changes_test::Filter;
using changes_test::kNow;
using changes_test::MemoryStoreOptions;
using changes_test::OpenStore;
using changes_test::ReadAll;
using changes_test::TempDataDir;

// Writes through the store and records the changes each write must produce.
struct Writer {
  Store& store;
  std::vector<std::string> expected;  // workspace "w" only

  uint64_t Put(std::string_view key, std::string_view value, std::string_view ws = "w",
               int64_t ttl_ms = 0, std::string_view writer = {}) {
    PutRequest r;
    r.workspace = ws;
    r.key = key;
    r.value = value;
    r.ttl_ms = ttl_ms;
    r.writer = writer;
    WriteResult w = store.Put(r);
    EXPECT_EQ(w.outcome, Outcome::kOk) << w.error;
    EXPECT_TRUE(store.WaitVisible(w.visible_lsn).ok());
    if (ws == "w") {
      std::string s = std::to_string(w.revision) + " put w/" + std::string(key) + "=" +
                      std::string(value) + " v" + std::to_string(w.version);
      if (!writer.empty()) s += " w" + std::string(writer);
      if (ttl_ms != 0) s += " t" + std::to_string(kNow + ttl_ms);
      expected.push_back(s);
    }
    return w.revision;
  }
  uint64_t Delete(std::string_view key) {
    WriteResult w = store.Delete("w", key, std::nullopt);
    EXPECT_EQ(w.outcome, Outcome::kOk) << w.error;
    EXPECT_TRUE(store.WaitVisible(w.visible_lsn).ok());
    expected.push_back(std::to_string(w.revision) + " delete w/" + std::string(key) + " v" +
                       std::to_string(w.version));
    return w.revision;
  }
  // set a, delete b, set c: one revision, changes in op order.
  uint64_t Txn(std::string_view a, std::string_view b, std::string_view c) {
    std::vector<TxnOp> ops(3);
    ops[0].type = TxnOp::Type::kSet;
    ops[0].key = a;
    ops[0].value = "\"txn\"";
    ops[1].type = TxnOp::Type::kDelete;
    ops[1].key = b;
    ops[2].type = TxnOp::Type::kSet;
    ops[2].key = c;
    ops[2].value = "[1,2]";
    TxnRequest req;
    req.workspace = "w";
    req.ops = &ops;
    TxnResult t = store.Txn(req);
    EXPECT_EQ(t.outcome, Outcome::kOk) << t.error;
    EXPECT_TRUE(store.WaitVisible(t.visible_lsn).ok());
    const std::string rev = std::to_string(t.revision);
    expected.push_back(rev + " put w/" + std::string(a) + "=\"txn\" v" + std::to_string(*t.versions[0]));
    // A delete's version is the tombstone's: the last version of the key.
    const GetResult gone = store.Get("w", b);
    EXPECT_EQ(gone.outcome, Outcome::kNotFound);
    expected.push_back(rev + " delete w/" + std::string(b) + " v" + std::to_string(tomb_version));
    expected.push_back(rev + " put w/" + std::string(c) + "=[1,2] v" + std::to_string(*t.versions[2]));
    return t.revision;
  }
  uint64_t tomb_version = 1;  // the version `b` had before Txn deletes it
};

class HistoryStores : public ::testing::TestWithParam<bool> {
 protected:
  StoreOptions Options() {
    return GetParam() ? DiskStoreOptions(&clock_, dir_.path()) : MemoryStoreOptions(&clock_);
  }
  ManualClock clock_{kNow};
  TempDataDir dir_{"history"};
};

INSTANTIATE_TEST_SUITE_P(MemoryAndDisk, HistoryStores, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Disk" : "Memory"; });

TEST_P(HistoryStores, PutDeleteAndTxnChangesUnderTheirRevisionsInOpOrder) {
  auto store = OpenStore(Options());
  ChangeHistory* h = store->history();
  ASSERT_NE(h, nullptr);
  Writer w{*store, {}};
  const uint64_t r1 = w.Put("a", "1", "w", 0, "agent-1");
  w.Put("b", "{\"x\":2}", "w", 60'000);
  w.Put("a", "1", "other");  // another workspace
  w.Delete("a");
  w.tomb_version = 1;
  const uint64_t rt = w.Txn("c", "b", "a");
  EXPECT_EQ(h->head(), rt);
  EXPECT_EQ(h->compact_revision(), 0u);
  EXPECT_EQ(ReadAll(*h, Filter("w"), 0), w.expected);
  // A transaction's changes are consecutive and share its revision.
  const auto all = ReadAll(*h, Filter("w"), 0);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[3].substr(0, all[3].find(' ')), std::to_string(rt));
  EXPECT_EQ(all[5].substr(0, all[5].find(' ')), std::to_string(rt));
  // since excludes everything up to and including it.
  EXPECT_EQ(ReadAll(*h, Filter("w"), r1), std::vector<std::string>(all.begin() + 1, all.end()));
  EXPECT_EQ(ReadAll(*h, Filter("w"), rt).size(), 0u);
  EXPECT_EQ(ReadAll(*h, Filter("other"), 0).size(), 1u);
}

TEST_P(HistoryStores, PrefixAndExactKeyFilters) {
  auto store = OpenStore(Options());
  Writer w{*store, {}};
  w.Put("task/1", "1");
  w.Put("task/10", "10");
  w.Put("tas", "0");
  w.Put("note/1", "n");
  w.Put("task/1", "2");
  ChangeHistory* h = store->history();
  auto keys = [&](const ChangeFilter& f) {
    std::vector<std::string> out;
    for (const auto& s : ReadAll(*h, f, 0)) out.push_back(s.substr(s.find("w/") + 2));
    return out;
  };
  EXPECT_EQ(keys(Filter("w", "task/")),
            (std::vector<std::string>{"task/1=1 v1", "task/10=10 v1", "task/1=2 v2"}));
  EXPECT_EQ(keys(Filter("w", "task/1", true)),
            (std::vector<std::string>{"task/1=1 v1", "task/1=2 v2"}));
  EXPECT_EQ(keys(Filter("w", "task/1")),
            (std::vector<std::string>{"task/1=1 v1", "task/10=10 v1", "task/1=2 v2"}));
  EXPECT_EQ(keys(Filter("w", "")).size(), 5u);
  EXPECT_EQ(keys(Filter("x", "")).size(), 0u);
}

TEST_P(HistoryStores, AnIdempotencyAnswerAloneIsNoChangeButIsScannedPast) {
  auto store = OpenStore(Options());
  Writer w{*store, {}};
  w.Put("k", "1");
  const std::string fp(16, 'f');
  Idempotency<WriteResult> idem;
  idem.key = "req-1";
  idem.fingerprint = fp;
  idem.render = [](const WriteResult&) { return IdempotencyAnswer{409, "conflict"}; };
  PutRequest r;
  r.workspace = "w";
  r.key = "k";
  r.value = "2";
  r.if_match_version = 7;  // a conflict: the answer alone is logged
  r.idempotency = &idem;
  WriteResult c = store->Put(r);
  ASSERT_EQ(c.outcome, Outcome::kConflict);
  ASSERT_TRUE(store->WaitVisible(c.visible_lsn).ok());
  ChangeHistory* h = store->history();
  ASSERT_EQ(h->head(), 2u);  // the answer's own record
  EXPECT_EQ(ReadAll(*h, Filter("w"), 0), w.expected);
  ChangeHistory::Query q;
  q.filter = Filter("w");
  q.since = 1;
  ChangeHistory::Page page;
  ASSERT_TRUE(h->Read(q, &page).ok());
  EXPECT_TRUE(page.events.empty());
  EXPECT_EQ(page.next_since, 2u);
}

TEST_P(HistoryStores, LimitsNeverSplitARecordAndNextSinceCoversWhatWasLookedAt) {
  auto store = OpenStore(Options());
  Writer w{*store, {}};
  w.Put("b", "0");
  w.tomb_version = 1;
  const uint64_t rt = w.Txn("a", "b", "c");  // 3 changes
  const uint64_t p1 = w.Put("p1", "1");
  const uint64_t p2 = w.Put("p2", "2");
  const uint64_t p3 = w.Put("p3", "3");
  w.Put("x", "1", "other");
  ChangeHistory* h = store->history();
  ChangeHistory::Query q;
  q.filter = Filter("w");
  q.since = rt - 1;
  q.max_events = 2;
  ChangeHistory::Page page;
  // The first matching record is whole even past the limit.
  ASSERT_TRUE(h->Read(q, &page).ok());
  ASSERT_EQ(page.events.size(), 3u);
  EXPECT_EQ(page.next_since, rt);
  q.since = page.next_since;
  ASSERT_TRUE(h->Read(q, &page).ok());
  ASSERT_EQ(page.events.size(), 2u);
  EXPECT_EQ(page.events[1].revision, p2);
  EXPECT_EQ(page.next_since, p2);  // p3 would pass the limit: left for the next page
  q.since = page.next_since;
  ASSERT_TRUE(h->Read(q, &page).ok());
  ASSERT_EQ(page.events.size(), 1u);
  EXPECT_EQ(page.events[0].revision, p3);
  EXPECT_EQ(page.next_since, h->head());  // the scan reached the head (the last record is "other")
  // Bytes: one record per page when each passes the limit alone.
  q.since = rt;
  q.max_events = 1000;
  q.max_bytes = 1;
  ASSERT_TRUE(h->Read(q, &page).ok());
  ASSERT_EQ(page.events.size(), 1u);
  EXPECT_EQ(page.next_since, p1);
  // A filter that matches nothing still advances: to until, or to the head.
  q = ChangeHistory::Query{};
  q.filter = Filter("w", "nothing/");
  ASSERT_TRUE(h->Read(q, &page).ok());
  EXPECT_TRUE(page.events.empty());
  EXPECT_EQ(page.next_since, h->head());
  q.until = p2;
  ASSERT_TRUE(h->Read(q, &page).ok());
  EXPECT_EQ(page.next_since, p2);
  // max_scan bounds the records looked at.
  q.until = UINT64_MAX;
  q.max_scan = 2;
  ASSERT_TRUE(h->Read(q, &page).ok());
  EXPECT_EQ(page.next_since, 2u);
  // since at or past the head: nothing, next_since = since.
  q.since = h->head() + 5;
  ASSERT_TRUE(h->Read(q, &page).ok());
  EXPECT_TRUE(page.events.empty());
  EXPECT_EQ(page.next_since, h->head() + 5);
}

TEST(ChangeHistory, MemoryOnlyHistoryIsCompactedOnceTrimmed) {
  ManualClock clock{kNow};
  StoreOptions o = MemoryStoreOptions(&clock);
  o.watch_memory_bytes = 0;  // keeps the newest batch only
  auto store = OpenStore(o);
  Writer w{*store, {}};
  for (int i = 0; i < 10; ++i) w.Put("k" + std::to_string(i), std::to_string(i));
  ChangeHistory* h = store->history();
  EXPECT_EQ(h->compact_revision(), 9u);
  ChangeHistory::Query q;
  q.filter = Filter("w");
  ChangeHistory::Page page;
  ASSERT_TRUE(h->Read(q, &page).ok());
  EXPECT_TRUE(page.compacted);
  EXPECT_EQ(page.compact_revision, 9u);
  EXPECT_TRUE(page.events.empty());
  EXPECT_EQ(ReadAll(*h, Filter("w"), 9), std::vector<std::string>{w.expected.back()});
}

// Enough records for several 64 KiB segments.
void WriteMany(Writer& w, int n) {
  const std::string big = "\"" + std::string(300, 'x') + "\"";
  for (int i = 0; i < n; ++i) {
    if (i % 50 == 49) {
      w.tomb_version = 1;
      w.Put("t" + std::to_string(i), "0");
      w.Txn("a" + std::to_string(i), "t" + std::to_string(i), "c" + std::to_string(i % 7));
    } else {
      w.Put((i % 3 == 0 ? "p/" : "q/") + std::to_string(i % 40), big);
    }
  }
}

TEST(ChangeHistory, TrimmedMemoryFallsBackToTheSegmentsWithIdenticalResults) {
  ManualClock clock{kNow};
  TempDataDir dir("history-disk");
  StoreOptions o = DiskStoreOptions(&clock, dir.path());
  o.watch_memory_bytes = 0;
  o.snapshot_every_bytes = UINT64_MAX;
  auto store = OpenStore(o);
  Writer w{*store, {}};
  WriteMany(w, 800);
  ASSERT_GE(store->wal()->segment_count(), 3u);
  ChangeHistory* h = store->history();
  EXPECT_EQ(h->compact_revision(), 0u);
  EXPECT_EQ(ReadAll(*h, Filter("w"), 0), w.expected);
  EXPECT_EQ(ReadAll(*h, Filter("w"), 0, UINT64_MAX, 7), w.expected);  // small pages
  // From points in every segment, with a prefix.
  std::vector<std::string> p_only;
  for (const auto& s : w.expected) {
    if (s.find(" put w/p/") != std::string::npos || s.find(" delete w/p/") != std::string::npos) {
      p_only.push_back(s);
    }
  }
  EXPECT_EQ(ReadAll(*h, Filter("w", "p/"), 0, UINT64_MAX, 5), p_only);
  for (size_t i = 0; i < w.expected.size(); i += 97) {
    const uint64_t since = std::stoull(w.expected[i]);
    std::vector<std::string> tail;
    for (const auto& s : w.expected) {
      if (std::stoull(s) > since) tail.push_back(s);
    }
    EXPECT_EQ(ReadAll(*h, Filter("w"), since), tail) << "since " << since;
  }
  // The same as a store that kept everything in memory.
  TempDataDir dir2("history-mem");
  StoreOptions o2 = DiskStoreOptions(&clock, dir2.path());
  o2.watch_memory_bytes = 64ULL << 20;
  auto store2 = OpenStore(o2);
  Writer w2{*store2, {}};
  WriteMany(w2, 800);
  EXPECT_EQ(ReadAll(*store2->history(), Filter("w"), 0), ReadAll(*h, Filter("w"), 0));
}

TEST(ChangeHistory, ADiskReadSeesRecordsWrittenAfterItsSegmentWasCached) {
  ManualClock clock{kNow};
  TempDataDir dir("history-stale");
  StoreOptions o = DiskStoreOptions(&clock, dir.path());
  o.wal_segment_bytes = 4 << 20;  // one segment, being written all along
  o.watch_memory_bytes = 0;
  auto store = OpenStore(o);
  Writer w{*store, {}};
  for (int i = 0; i < 10; ++i) w.Put("a" + std::to_string(i), "1");
  EXPECT_EQ(ReadAll(*store->history(), Filter("w"), 0), w.expected);  // caches the segment
  for (int i = 0; i < 10; ++i) w.Put("b" + std::to_string(i), "2");
  EXPECT_EQ(ReadAll(*store->history(), Filter("w"), 0), w.expected);
  EXPECT_EQ(ReadAll(*store->history(), Filter("w"), 12), std::vector<std::string>(w.expected.begin() + 12, w.expected.end()));
}

TEST(ChangeHistory, ReadsAcrossACloseAndReopenComeFromTheLog) {
  ManualClock clock{kNow};
  TempDataDir dir("history-reopen");
  StoreOptions o = DiskStoreOptions(&clock, dir.path());
  o.wal_segment_bytes = 4 << 20;  // one segment: the snapshot at close deletes none
  std::vector<std::string> expected;
  {
    auto store = OpenStore(o);
    Writer w{*store, {}};
    WriteMany(w, 120);
    expected = w.expected;
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = OpenStore(o);
  ChangeHistory* h = store->history();
  EXPECT_EQ(h->head(), store->revision());
  EXPECT_EQ(h->compact_revision(), 0u);
  EXPECT_EQ(ReadAll(*h, Filter("w"), 0), expected);
  Writer w{*store, {}};
  w.Put("after", "1");
  expected.push_back(w.expected.back());
  EXPECT_EQ(ReadAll(*h, Filter("w"), 0, UINT64_MAX, 11), expected);
}

TEST(ChangeHistory, CompactedOnceASnapshotDeletedTheSegments) {
  ManualClock clock{kNow};
  TempDataDir dir("history-compacted");
  StoreOptions o = DiskStoreOptions(&clock, dir.path());
  o.watch_memory_bytes = 0;
  o.watch_history_bytes = 0;
  o.snapshot_every_bytes = UINT64_MAX;
  auto store = OpenStore(o);
  Writer w{*store, {}};
  WriteMany(w, 600);
  ChangeHistory* h = store->history();
  ASSERT_EQ(h->compact_revision(), 0u);
  ASSERT_TRUE(store->Snapshot().ok());
  const uint64_t c = h->compact_revision();
  ASSERT_GT(c, 0u);
  ChangeHistory::Query q;
  q.filter = Filter("w");
  q.since = c - 1;
  ChangeHistory::Page page;
  ASSERT_TRUE(h->Read(q, &page).ok());
  EXPECT_TRUE(page.compacted);
  EXPECT_EQ(page.compact_revision, c);
  std::vector<std::string> tail;
  for (const auto& s : w.expected) {
    if (std::stoull(s) > c) tail.push_back(s);
  }
  EXPECT_EQ(ReadAll(*h, Filter("w"), c), tail);
}

TEST(ChangeHistory, ExpiredTombstoneIsAnExpireChangeAndANormalOneADelete) {
  wal::Record r;
  r.type = wal::kRecordTombstone;
  r.lsn = 42;
  r.version = 3;
  r.workspace = "w";
  r.key = "k";
  r.writer = "sweeper";
  r.expired = true;
  std::vector<ChangeEvent> out;
  ASSERT_EQ(ChangesOfRecord(r, &out), 1u);
  EXPECT_EQ(out[0].kind, ChangeKind::kExpire);
  EXPECT_EQ(out[0].revision, 42u);
  EXPECT_EQ(out[0].version, 3u);
  EXPECT_TRUE(out[0].writer.empty());
  EXPECT_STREQ(ChangeKindName(out[0].kind), "expire");
  r.expired = false;
  out.clear();
  ASSERT_EQ(ChangesOfRecord(r, &out), 1u);
  EXPECT_EQ(out[0].kind, ChangeKind::kDelete);
  EXPECT_EQ(out[0].writer, "sweeper");
  // A commit with no op (a remembered answer alone) is no change.
  wal::Record c;
  c.type = wal::kRecordCommit;
  c.lsn = 43;
  c.workspace = "w";
  out.clear();
  EXPECT_EQ(ChangesOfRecord(c, &out), 0u);
}

// A record encoded as the log would, for histories fed by hand.
std::string Encoded(uint64_t lsn, std::string_view key) {
  wal::Record r;
  r.type = wal::kRecordPut;
  r.lsn = lsn;
  r.version = 1;
  r.workspace = "w";
  r.key = key;
  r.value = "1";
  std::string out;
  wal::AppendRecord(r, &out);
  return out;
}

TEST(ChangeHistory, ASegmentDeletedDuringTheReadIsCompactedNotAnError) {
  testing::MemFs fs;
  ASSERT_TRUE(fs.CreateDirs("/wal").ok());
  std::atomic<int> calls{0};
  std::atomic<bool> vanish{true};
  HistoryOptions o;
  o.fs = &fs;
  o.segments = [&] {
    std::vector<wal::SegmentInfo> segs;
    // The list says the first segment exists until the reader tried it.
    if (++calls <= 2 || !vanish) segs.push_back({1, 1, "/wal/gone.wal"});
    segs.push_back({2, 50, "/wal/current.wal"});
    return segs;
  };
  ChangeHistory h(o);
  h.Reset(59);
  h.Append(Encoded(60, "k"), 60, 60);
  vanish = false;
  EXPECT_EQ(h.compact_revision(), 0u);
  vanish = true;
  calls = 0;
  ChangeHistory::Query q;
  q.filter = Filter("w");
  ChangeHistory::Page page;
  ASSERT_TRUE(h.Read(q, &page).ok());
  EXPECT_TRUE(page.compacted);
  EXPECT_EQ(page.compact_revision, 49u);
  // A listed segment that cannot be read is an error naming it.
  vanish = false;
  calls = 0;
  Status s = h.Read(q, &page);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/wal/gone.wal"), std::string::npos) << s.ToString();
}

TEST(ChangeHistory, ARecordWhoseSyncFailedNeverEntersTheHistory) {
  testing::MemFs fs;
  ManualClock clock{kNow};
  StoreOptions o = MemoryStoreOptions(&clock);
  o.data_dir = "/data";
  o.fs = &fs;
  o.fsync = wal::FsyncMode::kAlways;
  auto store = OpenStore(o);
  Writer w{*store, {}};
  const uint64_t stable = w.Put("stable", "1");
  fs.FailSyncsAfter(1, ".wal");
  WriteResult doomed = store->Put(PutRequest{"w", "doomed", "2", std::nullopt, 0, {}, nullptr});
  ASSERT_EQ(doomed.outcome, Outcome::kOk);  // logged, not yet durable
  EXPECT_FALSE(store->WaitVisible(doomed.visible_lsn).ok());
  EXPECT_EQ(store->history()->head(), stable);
  EXPECT_EQ(ReadAll(*store->history(), Filter("w"), 0), w.expected);
}

class AckedModes : public ::testing::TestWithParam<wal::FsyncMode> {};
INSTANTIATE_TEST_SUITE_P(FsyncModes, AckedModes,
                         ::testing::Values(wal::FsyncMode::kAlways, wal::FsyncMode::kBatch,
                                           wal::FsyncMode::kNever),
                         [](const auto& info) { return wal::FsyncModeName(info.param); });

TEST_P(AckedModes, EveryAcknowledgedWriteIsInTheHistoryWhenItsAckRuns) {
  TempDataDir dir("history-acked");
  StoreOptions o = DiskStoreOptions(SystemClock(), dir.path());
  o.fsync = GetParam();
  auto store = OpenStore(o);
  std::atomic<int> missing{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        PutRequest r;
        r.workspace = "w";
        const std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
        r.key = key;
        r.value = "1";
        WriteResult res = store->Put(r);
        ASSERT_EQ(res.outcome, Outcome::kOk);
        std::promise<void> acked;
        store->WhenVisible(res.visible_lsn, [&, lsn = res.visible_lsn](const Status& s) {
          if (!s.ok() || store->history()->head() < lsn) ++missing;
          acked.set_value();
        });
        acked.get_future().wait();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(missing.load(), 0);
  EXPECT_EQ(ReadAll(*store->history(), Filter("w"), 0).size(), 160u);
}

}  // namespace
}  // namespace casmem
