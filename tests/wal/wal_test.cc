// Wal: round trip, rotation, group commit, fsync modes, sticky failure,
// segment removal.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <chrono>
#include <mutex>
#include <thread>

#include "tests/wal/wal_helpers.h"
#include "wal/segment.h"

namespace casmem::wal {
namespace {

TEST(Wal, RecordsSurviveCloseAndReopenInOrder) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  EXPECT_TRUE(got.empty());
  uint64_t last = 0;
  for (int i = 1; i <= 500; ++i) {
    last = AppendKV(wal.get(), "k" + std::to_string(i), ValueOf(i));
    EXPECT_EQ(last, static_cast<uint64_t>(i));
  }
  ASSERT_TRUE(wal->WaitAcked(last).ok());
  wal.reset();
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  ASSERT_EQ(got.size(), 500u);
  for (int i = 1; i <= 500; ++i) {
    EXPECT_EQ(got[i - 1].lsn, static_cast<uint64_t>(i));
    EXPECT_EQ(got[i - 1].key, "k" + std::to_string(i));
    EXPECT_EQ(got[i - 1].value, ValueOf(i));
  }
  // Appending continues the lsn sequence.
  EXPECT_EQ(AppendKV(wal.get(), "next", "1"), 501u);
}

TEST(Wal, RotatesAcrossSegmentsWhoseNamesSortInLogOrder) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  const auto opts = MemOptions(&fs, kMinSegmentBytes);
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  uint64_t last = 0;
  for (int i = 1; i <= 400; ++i) last = AppendKV(wal.get(), "k" + std::to_string(i), ValueOf(i, 900));
  ASSERT_TRUE(wal->WaitAcked(last).ok());
  EXPECT_GE(wal->stats().segments_created.load(), 4u);
  wal.reset();
  std::vector<std::string> segs;
  for (const auto& name : fs.Files(kDir)) {
    if (ParseSegmentName(name)) segs.push_back(name);
  }
  ASSERT_GE(segs.size(), 5u);
  uint64_t prev_seq = 0, prev_lsn = 0;
  for (const auto& name : segs) {  // Files() is sorted bytewise
    auto parsed = ParseSegmentName(name);
    EXPECT_EQ(parsed->seq, prev_seq + 1);
    EXPECT_GT(parsed->first_lsn, prev_lsn);
    prev_seq = parsed->seq;
    prev_lsn = parsed->first_lsn;
  }
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  ASSERT_EQ(got.size(), 400u);
  for (int i = 1; i <= 400; ++i) ASSERT_EQ(got[i - 1].value, ValueOf(i, 900));
}

TEST(Wal, RecordLargerThanASegmentGetsASegmentOfItsOwn) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  const auto opts = MemOptions(&fs, kMinSegmentBytes);
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  AppendKV(wal.get(), "small", "1");
  const std::string big = ValueOf(1, 200'000);
  AppendKV(wal.get(), "big", big);
  ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "after", "2")).ok());
  wal.reset();
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].value, big);
  EXPECT_EQ(got[2].key, "after");
}

TEST(Wal, GroupCommitSharesOneFsyncAmongManyWriters) {
  testing::MemFs fs;
  // A slow disk: each fdatasync takes 2 ms, so writers pile up behind it.
  fs.SetSyncHook([] { std::this_thread::sleep_for(std::chrono::milliseconds(2)); });
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  const uint64_t fsyncs_before = wal->stats().fsyncs.load();
  constexpr int kThreads = 32, kEach = 20;
  std::vector<std::thread> threads;
  std::atomic<int> acked{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        uint64_t lsn = AppendKV(wal.get(), "t" + std::to_string(t), ValueOf(i));
        if (wal->WaitAcked(lsn).ok()) acked.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(acked.load(), kThreads * kEach);
  const uint64_t fsyncs = wal->stats().fsyncs.load() - fsyncs_before;
  // Without batching there would be one fsync per record (640).
  EXPECT_LT(fsyncs * 4, static_cast<uint64_t>(kThreads * kEach)) << fsyncs << " fsyncs";
  EXPECT_EQ(wal->durable_lsn(), static_cast<uint64_t>(kThreads * kEach));
}

TEST(Wal, AlwaysModeAcknowledgesOnlyAfterFsync) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  std::mutex gate;
  gate.lock();  // holds every fsync until released
  fs.SetSyncHook([&] { std::lock_guard lk(gate); });
  std::atomic<bool> acked{false};
  const uint64_t lsn = AppendKV(wal.get(), "k", "1");
  wal->WhenAcked(lsn, [&](const Status& s) { acked = s.ok(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(acked.load());
  EXPECT_LT(wal->acked_lsn(), lsn);
  gate.unlock();
  ASSERT_TRUE(wal->WaitAcked(lsn).ok());
  EXPECT_TRUE(acked.load());
  EXPECT_GE(wal->durable_lsn(), lsn);
  fs.SetSyncHook(nullptr);
}

// Back-pressure: a stalled disk lets at most max_pending_bytes pile up;
// later appends are refused with Busy (no lsn used, nothing queued) while
// the log stays healthy, and accepted again once the writer catches up.
TEST(Wal, AStalledDiskRefusesAppendsWithBusyAndRecovers) {
  testing::MemFs fs;
  auto opts = MemOptions(&fs);
  opts.max_pending_bytes = 4096;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  std::mutex gate;
  gate.lock();  // the disk stalls in every fsync until released
  fs.SetSyncHook([&] { std::lock_guard lk(gate); });
  const uint64_t batches = wal->stats().batches.load();
  const uint64_t first = AppendKV(wal.get(), "first", ValueOf(0, 100));
  ASSERT_NE(first, 0u);
  // The writer has taken the first record and now sits in its fsync.
  for (int i = 0; i < 2000 && wal->stats().batches.load() == batches; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT(wal->stats().batches.load(), batches);
  uint64_t last = first;
  Status why;
  int accepted = 0;
  for (int i = 1; i < 1000; ++i) {
    Record r;  // its fields are views: the strings must outlive the Append
    const std::string key = "k" + std::to_string(i);
    r.workspace = "ws";
    r.key = key;
    const std::string value = ValueOf(i, 100);
    r.value = value;
    r.version = 1;
    const uint64_t lsn = wal->Append(&r, &why);
    if (lsn == 0) break;
    EXPECT_EQ(lsn, last + 1);
    last = lsn;
    ++accepted;
  }
  ASSERT_TRUE(why.IsBusy()) << why.ToString();
  EXPECT_GT(accepted, 10);    // ~4 KiB of ~150-byte records
  EXPECT_LT(accepted, 100);   // ...and no more
  EXPECT_TRUE(wal->health().ok());
  EXPECT_EQ(wal->stats().appends_refused_busy.load(), 1u);
  EXPECT_EQ(wal->last_lsn(), last);  // the refused append used no lsn
  gate.unlock();
  ASSERT_TRUE(wal->WaitAcked(last).ok());
  const uint64_t after = AppendKV(wal.get(), "after", "1");
  EXPECT_EQ(after, last + 1);
  ASSERT_TRUE(wal->WaitAcked(after).ok());
  fs.SetSyncHook(nullptr);
  wal.reset();
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  ASSERT_EQ(got.size(), static_cast<size_t>(accepted) + 2);
  EXPECT_EQ(got.back().key, "after");
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].lsn, first + i);
}

TEST(Wal, BatchModeAcknowledgesOnWriteAndSyncsWithinTheInterval) {
  testing::MemFs fs;
  auto opts = MemOptions(&fs);
  opts.fsync = FsyncMode::kBatch;
  opts.fsync_interval = std::chrono::milliseconds(5);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  std::mutex gate;
  gate.lock();
  fs.SetSyncHook([&] { std::lock_guard lk(gate); });
  const uint64_t lsn = AppendKV(wal.get(), "k", "1");
  ASSERT_TRUE(wal->WaitAcked(lsn).ok());  // no fsync has completed
  EXPECT_LT(wal->durable_lsn(), lsn);
  gate.unlock();
  fs.SetSyncHook(nullptr);
  for (int i = 0; i < 200 && wal->durable_lsn() < lsn; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(wal->durable_lsn(), lsn);
}

TEST(Wal, NeverModeSyncsOnlyWhenAskedOrClosing) {
  testing::MemFs fs;
  auto opts = MemOptions(&fs);
  opts.fsync = FsyncMode::kNever;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  const uint64_t lsn = AppendKV(wal.get(), "k", "1");
  ASSERT_TRUE(wal->WaitAcked(lsn).ok());
  EXPECT_LT(wal->durable_lsn(), lsn);
  ASSERT_TRUE(wal->SyncAll().ok());
  EXPECT_GE(wal->durable_lsn(), lsn);
}

TEST(Wal, FailedFsyncIsStickyAndNeverAcknowledged) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "a", "1")).ok());
  fs.FailSyncsAfter(1, ".wal");
  const uint64_t lsn = AppendKV(wal.get(), "b", "2");
  ASSERT_GT(lsn, 0u);
  Status s = wal->WaitAcked(lsn);
  EXPECT_TRUE(s.IsStorageFailed()) << s.ToString();
  EXPECT_LT(wal->acked_lsn(), lsn);
  // The disk "recovers": the log must still refuse, not retry the fsync.
  fs.FailSyncsAfter(-1);
  EXPECT_EQ(AppendKV(wal.get(), "c", "3"), 0u);
  EXPECT_TRUE(wal->health().IsStorageFailed());
  EXPECT_TRUE(wal->failed());
  EXPECT_FALSE(wal->SyncAll().ok());
  EXPECT_LT(wal->acked_lsn(), lsn);
}

// After a process crash the tail can hold a batch that was written but
// never synced. Recovery acknowledges every record it reads (a read may
// reveal them at once), so it must make them durable before it does: a
// power loss after the restart may not take back what was revealed.
TEST(Wal, RecoveryMakesTheUnsyncedTailDurableBeforeAcknowledgingIt) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "a", "1")).ok());
  fs.FailSyncsAfter(1, ".wal");  // "b" reaches the page cache, not the disk
  const uint64_t lsn = AppendKV(wal.get(), "b", "2");
  EXPECT_FALSE(wal->WaitAcked(lsn).ok());
  wal.reset();
  fs.ProcessCrash();  // kill -9: the kernel still holds "b"
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GE(wal->acked_lsn(), lsn);  // recovery acknowledges "b"...
  wal.reset();
  fs.PowerLoss();  // ...so a power loss now must keep it
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].key, "b");
}

TEST(Wal, FailedWriteIsSticky) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs), &wal, &got).ok());
  fs.FailWritesAfter(1, ".wal");
  std::atomic<int> failures{0};
  const uint64_t lsn = AppendKV(wal.get(), "a", "1");
  wal->WhenAcked(lsn, [&](const Status& s) { failures += !s.ok(); });
  EXPECT_FALSE(wal->WaitAcked(lsn).ok());
  EXPECT_EQ(failures.load(), 1);
  fs.FailWritesAfter(-1);
  EXPECT_EQ(AppendKV(wal.get(), "b", "2"), 0u);
}

TEST(Wal, RemovesOnlySegmentsWhollyCovered) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  const auto opts = MemOptions(&fs, kMinSegmentBytes);
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  uint64_t last = 0;
  for (int i = 1; i <= 300; ++i) last = AppendKV(wal.get(), "k", ValueOf(i, 900));
  ASSERT_TRUE(wal->WaitAcked(last).ok());
  const size_t before = wal->segment_count();
  ASSERT_GE(before, 4u);
  ASSERT_TRUE(wal->RemoveSegmentsThrough(150).ok());
  EXPECT_LT(wal->segment_count(), before);
  wal.reset();
  // Recovery from "a snapshot at 150": every record after 150 is still there.
  std::vector<Replayed> after;
  ASSERT_TRUE(Wal::Open(opts, 150,
                        [&](const Record& r) { after.push_back({r.lsn, "", ""}); }, &wal)
                  .ok());
  ASSERT_EQ(after.size(), 150u);
  EXPECT_EQ(after.front().lsn, 151u);
  wal.reset();
  // ...but a recovery base older than the oldest remaining segment is a gap.
  Status s = Wal::Open(opts, 10, [](const Record&) {}, &wal);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("log gap"), std::string::npos);
}

TEST(FileOps, ParentDirAndPosixCreateDirs) {
  EXPECT_EQ(ParentDir("a/b"), "a");
  EXPECT_EQ(ParentDir("/a"), "/");
  EXPECT_EQ(ParentDir("a"), ".");
  EXPECT_EQ(ParentDir("/a/b/"), "/a");
  const std::string root = ::testing::TempDir() + "casmem-dirs-" + std::to_string(::getpid());
  FileSystem* fs = PosixFileSystem();
  ASSERT_TRUE(fs->CreateDirs(root + "/x/y/z").ok());
  EXPECT_TRUE(fs->Exists(root + "/x/y/z"));
  ASSERT_TRUE(fs->CreateDirs(root + "/x/y/z").ok()) << "an existing directory is fine";
  std::unique_ptr<File> f;
  ASSERT_TRUE(fs->Open(root + "/file", OpenMode::kCreateTrunc, &f).ok());
  EXPECT_FALSE(fs->CreateDirs(root + "/file/sub").ok()) << "a file is in the way";
  f.reset();
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace casmem::wal
