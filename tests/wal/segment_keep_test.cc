// Wal::RemoveSegmentsThrough with keep_bytes (issue 10, --watch-history):
// the newest segments holding keep_bytes stay even when a snapshot covers
// them, counting the segment being written by its bytes so far; 0 keeps
// today's behaviour; recovery skips the kept records a snapshot covers.
#include <algorithm>
#include <string>
#include <vector>

#include "tests/wal/wal_helpers.h"
#include "wal/segment.h"

namespace casmem::wal {
namespace {

std::vector<std::string> SegmentFiles(testing::MemFs& fs) {
  std::vector<std::string> out;
  for (const auto& n : fs.Files(kDir))
    if (ParseSegmentName(n)) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

// Bytes written so far in the segment being written (header included):
// records end 8-aligned and every value here ends with a non-zero byte.
uint64_t CurrentSegmentBytes(testing::MemFs& fs) {
  std::string data;
  EXPECT_TRUE(fs.ReadFile(std::string(kDir) + "/" + SegmentFiles(fs).back(), &data));
  return (data.find_last_not_of('\0') + 1 + kRecordAlign - 1) & ~(kRecordAlign - 1);
}

std::vector<std::string> Newest(const std::vector<std::string>& all, size_t n) {
  return std::vector<std::string>(all.end() - static_cast<long>(n), all.end());
}

// Fills `n` records of ~900 bytes on 64 KiB segments: 6+ segments.
uint64_t Fill(Wal* wal, int n, int from = 1) {
  uint64_t last = 0;
  for (int i = from; i < from + n; ++i) last = AppendKV(wal, "k", ValueOf(i, 900));
  EXPECT_TRUE(wal->WaitAcked(last).ok());
  return last;
}

TEST(SegmentKeep, ZeroKeepsOnlyWhatTheLsnDoesNotCover) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs, kMinSegmentBytes), &wal, &got).ok());
  const uint64_t last = Fill(wal.get(), 400);
  const std::vector<std::string> before = SegmentFiles(fs);
  ASSERT_GE(before.size(), 6u);
  ASSERT_TRUE(wal->RemoveSegmentsThrough(last, 0).ok());
  EXPECT_EQ(SegmentFiles(fs), Newest(before, 1)) << "every covered segment but the current one";
  EXPECT_EQ(wal->segment_count(), 1u);
}

TEST(SegmentKeep, TheNewestSegmentsHoldingKeepBytesStay) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs, kMinSegmentBytes), &wal, &got).ok());
  const uint64_t last = Fill(wal.get(), 400);
  const std::vector<std::string> before = SegmentFiles(fs);
  ASSERT_GE(before.size(), 6u);
  const uint64_t current = CurrentSegmentBytes(fs);
  ASSERT_GT(current, 1000u) << "the current segment holds records";
  // More than the whole log: nothing goes.
  ASSERT_TRUE(wal->RemoveSegmentsThrough(last, 100 * kMinSegmentBytes).ok());
  EXPECT_EQ(SegmentFiles(fs), before);
  // The current segment's bytes so far, then whole older segments, until
  // the sum reaches keep_bytes: one byte past current + 2 full = 4 segments.
  ASSERT_TRUE(wal->RemoveSegmentsThrough(last, current + 2 * kMinSegmentBytes + 1).ok());
  EXPECT_EQ(SegmentFiles(fs), Newest(before, 4));
  EXPECT_EQ(wal->segment_count(), 4u);
  ASSERT_TRUE(wal->RemoveSegmentsThrough(last, current + 2 * kMinSegmentBytes).ok());
  EXPECT_EQ(SegmentFiles(fs), Newest(before, 3)) << "exactly reached with 3";
  ASSERT_TRUE(wal->RemoveSegmentsThrough(last, current + 1).ok());
  EXPECT_EQ(SegmentFiles(fs), Newest(before, 2));
  // The current segment alone holds keep_bytes: the older ones go.
  ASSERT_TRUE(wal->RemoveSegmentsThrough(last, current - 8).ok());
  EXPECT_EQ(SegmentFiles(fs), Newest(before, 1));
}

TEST(SegmentKeep, KeepBytesNeverRemovesWhatTheLsnDoesNotCover) {
  testing::MemFs fs;
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(MemOptions(&fs, kMinSegmentBytes), &wal, &got).ok());
  Fill(wal.get(), 400);
  const std::vector<std::string> before = SegmentFiles(fs);
  ASSERT_GE(before.size(), 6u);
  // Covered: the first two segments only (every lsn below the third's first).
  const uint64_t through = ParseSegmentName(before[2])->first_lsn - 1;
  ASSERT_TRUE(wal->RemoveSegmentsThrough(through, 1).ok());
  EXPECT_EQ(SegmentFiles(fs), Newest(before, before.size() - 2));
}

// A snapshot at `snap` with kept segments wholly at or below it: recovery
// skips their records and replays every later record exactly once, also
// after more writes and a second removal.
TEST(SegmentKeep, RecoverySkipsKeptRecordsTheSnapshotCovers) {
  testing::MemFs fs;
  const WalOptions opts = MemOptions(&fs, kMinSegmentBytes);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  const uint64_t snap = Fill(wal.get(), 300);
  ASSERT_TRUE(wal->RemoveSegmentsThrough(snap, 3 * kMinSegmentBytes).ok());
  const std::vector<std::string> kept = SegmentFiles(fs);
  ASSERT_GE(kept.size(), 3u);
  ASSERT_LT(ParseSegmentName(kept[1])->first_lsn, snap) << "whole segments below the snapshot stay";
  const uint64_t last = Fill(wal.get(), 150, 301);
  wal.reset();
  std::vector<uint64_t> lsns;
  auto collect = [&](const Record& r) { lsns.push_back(r.lsn); };
  ASSERT_TRUE(Wal::Open(opts, snap, collect, &wal).ok());
  ASSERT_EQ(lsns.size(), last - snap);
  for (size_t i = 0; i < lsns.size(); ++i) ASSERT_EQ(lsns[i], snap + 1 + i);
  EXPECT_EQ(wal->last_lsn(), last);
  // The kept segments are still the log's: a later removal takes them.
  ASSERT_TRUE(wal->RemoveSegmentsThrough(last, 0).ok());
  EXPECT_EQ(SegmentFiles(fs).size(), 1u);
  wal.reset();
  lsns.clear();
  ASSERT_TRUE(Wal::Open(opts, last, collect, &wal).ok());
  EXPECT_TRUE(lsns.empty());
  EXPECT_EQ(wal->last_lsn(), last);
}

}  // namespace
}  // namespace casmem::wal
