// Recovery from damaged logs: a torn tail of the last segment is cut once
// (and kept beside it); any other damage refuses to open, naming file and
// offset, and changes nothing. One harness, many kinds of damage.
#include <random>

#include "tests/wal/wal_helpers.h"
#include "wal/endian.h"
#include "wal/segment.h"

namespace casmem::wal {
namespace {

struct Span {
  size_t offset;
  size_t size;  // header + payload, without padding
};

std::vector<Span> RecordSpans(const std::string& seg) {
  std::vector<Span> out;
  size_t pos = kSegmentHeaderSize;
  for (;;) {
    Record r;
    size_t used;
    if (DecodeRecord(std::string_view(seg).substr(pos), &r, &used) != DecodeStatus::kOk) break;
    out.push_back({pos, kRecordHeaderSize + GetU32(seg.data() + pos + 8)});
    pos += used;
  }
  return out;
}

std::vector<std::string> SegmentPaths(testing::MemFs& fs) {
  std::vector<std::string> out;
  for (const auto& name : fs.Files(kDir)) {
    if (ParseSegmentName(name)) out.push_back(JoinPath(kDir, name));
  }
  return out;
}

// Writes `n` records and closes the log.
void WriteRecords(const WalOptions& opts, int n, size_t value_size = 40) {
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  uint64_t last = 0;
  for (int i = 1; i <= n; ++i) last = AppendKV(wal.get(), "k" + std::to_string(i), ValueOf(i, value_size));
  ASSERT_TRUE(wal->WaitAcked(last).ok());
}

// The torn write left the first `kept` bytes of the last record; the rest
// is zeros (preallocated space) or garbage (a partly written page).
void TearLastRecord(testing::MemFs& fs, size_t kept, bool garbage) {
  const std::string path = SegmentPaths(fs).back();
  std::string seg;
  ASSERT_TRUE(fs.ReadFile(path, &seg));
  const Span last = RecordSpans(seg).back();
  std::mt19937 rng(static_cast<unsigned>(kept));
  for (size_t i = kept; i < last.size; ++i) {
    seg[last.offset + i] = garbage ? static_cast<char>(rng() | 1) : '\0';
  }
  fs.WriteFile(path, seg);
}

TEST(WalDamage, TornTailOfEveryLengthIsCutAndLaterRecordsAppend) {
  for (bool garbage : {false, true}) {
    // Measure the record size once.
    size_t record_size;
    {
      testing::MemFs fs;
      WriteRecords(MemOptions(&fs), 5);
      std::string seg;
      fs.ReadFile(SegmentPaths(fs).back(), &seg);
      record_size = RecordSpans(seg).back().size;
    }
    for (size_t torn = 1; torn <= record_size; ++torn) {
      SCOPED_TRACE("torn bytes " + std::to_string(torn) + (garbage ? " garbage" : " zeros"));
      testing::MemFs fs;
      const auto opts = MemOptions(&fs);
      WriteRecords(opts, 5);
      TearLastRecord(fs, record_size - torn, garbage);
      std::unique_ptr<Wal> wal;
      std::vector<Replayed> got;
      ScanResult scan;
      Status s = OpenCollect(opts, &wal, &got, &scan);
      ASSERT_TRUE(s.ok()) << s.ToString();
      // Zeroing only bytes that were zero anyway (reserved fields) leaves
      // the record whole; otherwise exactly the last record is gone.
      ASSERT_TRUE(got.size() == 4 || got.size() == 5) << got.size();
      for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].value, ValueOf(static_cast<int>(i + 1), 40));
      if (got.size() == 4 && torn < record_size) {
        EXPECT_GT(scan.torn_bytes_cut, 0u);
        bool broken_kept = false;
        for (const auto& name : fs.Files(kDir)) broken_kept |= name.ends_with(kBrokenSuffix);
        EXPECT_TRUE(broken_kept);
      }
      const size_t before = got.size();
      ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "new", "\"after the cut\"")).ok());
      wal.reset();
      ASSERT_TRUE(OpenCollect(opts, &wal, &got, &scan).ok());
      ASSERT_EQ(got.size(), before + 1);
      EXPECT_EQ(got.back().value, "\"after the cut\"");
      EXPECT_EQ(got.back().lsn, before + 1);
      EXPECT_EQ(scan.torn_bytes_cut, 0u);  // cut once, not again
    }
  }
}

TEST(WalDamage, FlippedByteFollowedByValidRecordsIsRefused) {
  testing::MemFs fs;
  const auto opts = MemOptions(&fs);
  WriteRecords(opts, 10);
  const std::string path = SegmentPaths(fs).back();
  std::string seg;
  fs.ReadFile(path, &seg);
  const Span third = RecordSpans(seg)[2];
  seg[third.offset + 30] ^= 0x01;
  fs.WriteFile(path, seg);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  Status s = OpenCollect(opts, &wal, &got);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("offset " + std::to_string(third.offset)), std::string::npos)
      << s.message();
  std::string after;
  fs.ReadFile(path, &after);
  EXPECT_EQ(after, seg) << "a refused log must not be modified";
}

TEST(WalDamage, DamagedEarlierSegmentIsRefused) {
  testing::MemFs fs;
  const auto opts = MemOptions(&fs, kMinSegmentBytes);
  WriteRecords(opts, 300, 900);
  const auto paths = SegmentPaths(fs);
  ASSERT_GE(paths.size(), 3u);
  std::string seg;
  fs.ReadFile(paths[1], &seg);
  const Span last = RecordSpans(seg).back();
  seg[last.offset + last.size - 1] ^= 0x10;  // the last record of segment 2
  fs.WriteFile(paths[1], seg);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  Status s = OpenCollect(opts, &wal, &got);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(paths[1]), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("not the last"), std::string::npos) << s.message();
}

TEST(WalDamage, MissingMiddleSegmentIsRefused) {
  testing::MemFs fs;
  const auto opts = MemOptions(&fs, kMinSegmentBytes);
  WriteRecords(opts, 300, 900);
  const auto paths = SegmentPaths(fs);
  ASSERT_TRUE(fs.Remove(paths[1]).ok());
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  Status s = OpenCollect(opts, &wal, &got);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("missing log segment"), std::string::npos) << s.message();
}

TEST(WalDamage, BadSegmentHeaderIsRefused) {
  testing::MemFs fs;
  const auto opts = MemOptions(&fs);
  WriteRecords(opts, 3);
  const std::string path = SegmentPaths(fs).back();
  std::string seg;
  fs.ReadFile(path, &seg);
  seg[3] ^= 0x7f;
  fs.WriteFile(path, seg);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  Status s = OpenCollect(opts, &wal, &got);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("offset 0"), std::string::npos);
}

TEST(WalDamage, EmptyLastSegmentFromACrashedRotationIsAccepted) {
  testing::MemFs fs;
  const auto opts = MemOptions(&fs);
  WriteRecords(opts, 3);
  // A rotation renamed a zeroed spare into place, then the process died.
  const std::string next = JoinPath(kDir, FormatSegmentName(2, 4));
  fs.WriteFile(next, std::string(kMinSegmentBytes, '\0'));
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(AppendKV(wal.get(), "k4", "4"), 4u);
  ASSERT_TRUE(wal->WaitAcked(4).ok());
  wal.reset();
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  EXPECT_EQ(got.size(), 4u);
}

TEST(WalDamage, LeftoverSpareSegmentIsRemoved) {
  testing::MemFs fs;
  const auto opts = MemOptions(&fs);
  WriteRecords(opts, 2);
  fs.WriteFile(JoinPath(kDir, std::string("spare-9") + kSpareSegmentSuffix), "junk");
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  EXPECT_EQ(got.size(), 2u);
  EXPECT_FALSE(fs.Exists(JoinPath(kDir, "spare-9.wal.tmp")));
}

}  // namespace
}  // namespace casmem::wal
