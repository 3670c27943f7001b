// Recovery from damaged logs: a torn tail of the last segment is cut once
// (and kept beside it), also when a power loss kept later pages of the
// torn batch after a hole; any other damage refuses to open, naming file
// and offset, and changes nothing. Format-1 segments stay readable.
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "tests/wal/wal_helpers.h"
#include "wal/endian.h"
#include "wal/segment.h"

namespace casmem::wal {
namespace {

struct Span {
  size_t offset;
  size_t size;  // without the final record's padding
};

// The batches of a segment, as the reader sees them.
std::vector<Span> BatchSpans(const std::string& seg) {
  std::vector<Span> out;
  SegmentEnd end;
  Status s = ReadSegment(seg, "segment", [&](const BatchAt& b) {
    const RecordAt& last = b.records.back();
    out.push_back({b.offset, last.offset + kRecordHeaderSize +
                                 GetU32(seg.data() + last.offset + 8) - b.offset});
    return Status::OK();
  }, &end);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<std::string> SegmentPaths(testing::MemFs& fs) {
  std::vector<std::string> out;
  for (const auto& name : fs.Files(kDir)) {
    if (ParseSegmentName(name)) out.push_back(JoinPath(kDir, name));
  }
  return out;
}

// Writes `n` records, each acknowledged before the next (one batch each),
// and closes the log.
void WriteRecords(const WalOptions& opts, int n, size_t value_size = 40) {
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  for (int i = 1; i <= n; ++i) {
    ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "k" + std::to_string(i), ValueOf(i, value_size)))
                    .ok());
  }
}

// The torn write left the first `kept` bytes of the last batch; the rest
// is zeros (preallocated space) or garbage (a partly written page).
void TearLastBatch(testing::MemFs& fs, size_t kept, bool garbage) {
  const std::string path = SegmentPaths(fs).back();
  std::string seg;
  ASSERT_TRUE(fs.ReadFile(path, &seg));
  const Span last = BatchSpans(seg).back();
  std::mt19937 rng(static_cast<unsigned>(kept));
  for (size_t i = kept; i < last.size; ++i) {
    seg[last.offset + i] = garbage ? static_cast<char>(rng() | 1) : '\0';
  }
  fs.WriteFile(path, seg);
}

TEST(WalDamage, TornTailOfEveryLengthIsCutAndLaterRecordsAppend) {
  for (bool garbage : {false, true}) {
    // Measure the batch size once.
    size_t record_size;
    {
      testing::MemFs fs;
      WriteRecords(MemOptions(&fs), 5);
      std::string seg;
      fs.ReadFile(SegmentPaths(fs).back(), &seg);
      record_size = BatchSpans(seg).back().size;
    }
    for (size_t torn = 1; torn <= record_size; ++torn) {
      SCOPED_TRACE("torn bytes " + std::to_string(torn) + (garbage ? " garbage" : " zeros"));
      testing::MemFs fs;
      const auto opts = MemOptions(&fs);
      WriteRecords(opts, 5);
      TearLastBatch(fs, record_size - torn, garbage);
      std::unique_ptr<Wal> wal;
      std::vector<Replayed> got;
      ScanResult scan;
      Status s = OpenCollect(opts, &wal, &got, &scan);
      ASSERT_TRUE(s.ok()) << s.ToString();
      // Zeroing only bytes that were zero anyway (reserved fields) leaves
      // the batch whole; otherwise exactly the last batch (record) is gone.
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
  const Span third = BatchSpans(seg)[2];
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
  const Span last = BatchSpans(seg).back();
  seg[last.offset + last.size - 1] ^= 0x10;  // the last batch of segment 2
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

// Leaves the log with `durable` records synced, each its own batch, then
// one batch of `torn` records written but never synced: the machine
// stops in that batch's fsync.
void StopInTheLastBatchSync(testing::MemFs& fs, const WalOptions& opts, int durable, int torn,
                            size_t value_size) {
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  for (int i = 1; i < durable; ++i) {
    ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "d" + std::to_string(i), ValueOf(i))).ok());
  }
  std::mutex gate;
  gate.lock();
  std::atomic<int> segment_syncs{0};
  fs.SetSyncPathHook([&](const std::string& path) {
    if (!ParseSegmentName(path.substr(path.rfind('/') + 1))) return;  // spares, directories
    if (++segment_syncs == 1) {
      std::lock_guard lk(gate);  // the last durable batch waits here...
    } else {
      fs.Freeze();  // ...and the batch after it never gets synced
    }
  });
  const uint64_t last_durable =
      AppendKV(wal.get(), "d" + std::to_string(durable), ValueOf(durable));
  while (segment_syncs.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  uint64_t last = 0;
  for (int i = 1; i <= torn; ++i) {
    last = AppendKV(wal.get(), "t" + std::to_string(i), ValueOf(i, value_size));
  }
  gate.unlock();
  ASSERT_TRUE(wal->WaitAcked(last_durable).ok());
  ASSERT_FALSE(wal->WaitAcked(last).ok());
  wal.reset();
  fs.SetSyncHook(nullptr);
}

// A power loss kept some pages of the unsynced last batch and lost others,
// a later page surviving an earlier hole: the batch is torn, never
// acknowledged; it is cut whole and the log opens.
TEST(WalDamage, TornLastBatchWithALaterPagePersistedIsCut) {
  const int kDurable = 5;
  for (size_t lost = 0;; ++lost) {
    SCOPED_TRACE("lost page " + std::to_string(lost) + " of the torn batch");
    testing::MemFs fs;
    const auto opts = MemOptions(&fs);
    StopInTheLastBatchSync(fs, opts, kDurable, 40, 300);
    const std::string path = SegmentPaths(fs).back();
    const std::vector<size_t> pages = fs.DirtyPages(path);
    ASSERT_GE(pages.size(), 3u) << "the torn batch should span several pages";
    if (lost == pages.size()) break;
    fs.PowerLoss([&](const std::string& p, size_t page) { return p != path || page != pages[lost]; });

    std::unique_ptr<Wal> wal;
    std::vector<Replayed> got;
    ScanResult scan;
    Status s = OpenCollect(opts, &wal, &got, &scan);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(got.size(), static_cast<size_t>(kDurable)) << "none of the torn batch is applied";
    for (int i = 0; i < kDurable; ++i) EXPECT_EQ(got[i].value, ValueOf(i + 1));
    EXPECT_GT(scan.torn_bytes_cut, 0u);
    bool broken_kept = false;
    for (const auto& name : fs.Files(kDir)) broken_kept |= name.ends_with(kBrokenSuffix);
    EXPECT_TRUE(broken_kept);
    ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "after", "\"cut\"")).ok());
    wal.reset();
    ASSERT_TRUE(OpenCollect(opts, &wal, &got, &scan).ok());
    ASSERT_EQ(got.size(), static_cast<size_t>(kDurable + 1));
    EXPECT_EQ(got.back().lsn, static_cast<uint64_t>(kDurable + 1));
    EXPECT_EQ(scan.torn_bytes_cut, 0u);
  }
}

// The same torn last batch, but an earlier, synced batch is damaged too:
// that is not a torn write; the log refuses to open and changes nothing.
TEST(WalDamage, DamageBeforeATornLastBatchIsRefused) {
  testing::MemFs fs;
  const auto opts = MemOptions(&fs);
  StopInTheLastBatchSync(fs, opts, 5, 40, 300);
  const std::string path = SegmentPaths(fs).back();
  const std::vector<size_t> pages = fs.DirtyPages(path);
  ASSERT_GE(pages.size(), 3u);
  fs.PowerLoss([&](const std::string& p, size_t page) { return p != path || page != pages[1]; });
  std::string seg;
  ASSERT_TRUE(fs.ReadFile(path, &seg));
  const std::vector<Span> batches = BatchSpans(seg);
  ASSERT_EQ(batches.size(), 5u);  // the torn one does not verify
  seg[batches[2].offset + batches[2].size - 3] ^= 0x04;
  fs.WriteFile(path, seg);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  Status s = OpenCollect(opts, &wal, &got);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(path + " offset " + std::to_string(batches[2].offset)),
            std::string::npos)
      << s.message();
  std::string after;
  fs.ReadFile(path, &after);
  EXPECT_EQ(after, seg) << "a refused log must not be modified";
}

// fsync `never`: several written batches were never synced, and a power
// loss kept some of their pages. Every batch after the hole was written
// before the hole's bytes were durable (their synced_lsn says so): a torn
// tail, cut, though valid batches follow the hole.
TEST(WalDamage, UnsyncedBatchesAfterAHoleAreATornTailInNeverMode) {
  testing::MemFs fs;
  auto opts = MemOptions(&fs);
  opts.fsync = FsyncMode::kNever;
  {
    std::unique_ptr<Wal> wal;
    std::vector<Replayed> got;
    ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
    for (int i = 1; i <= 5; ++i) AppendKV(wal.get(), "d" + std::to_string(i), ValueOf(i));
    ASSERT_TRUE(wal->SyncAll().ok());
    for (int i = 1; i <= 30; ++i) {
      ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "t" + std::to_string(i), ValueOf(i, 500))).ok());
    }
    fs.Freeze();
  }
  const std::string path = SegmentPaths(fs).back();
  const std::vector<size_t> pages = fs.DirtyPages(path);
  ASSERT_GE(pages.size(), 3u);
  fs.PowerLoss([&](const std::string& p, size_t page) { return p != path || page != pages[0]; });
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ScanResult scan;
  Status s = OpenCollect(opts, &wal, &got, &scan);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GE(got.size(), 5u);
  EXPECT_GT(scan.torn_bytes_cut, 0u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].lsn, i + 1);
}

// Segments written before batch framing (format 1: bare records) are
// still read with the old rules; appends go to a new format-2 segment.
TEST(WalDamage, Format1SegmentsStayReadable) {
  testing::MemFs fs;
  const auto opts = MemOptions(&fs);
  ASSERT_TRUE(fs.CreateDirs(kDir).ok());
  std::string seg = EncodeSegmentHeader(1, kSegmentFormatV1);
  std::vector<std::string> values;
  for (int i = 1; i <= 3; ++i) values.push_back(ValueOf(i));
  for (int i = 1; i <= 3; ++i) {
    Record r;
    r.workspace = "ws";
    r.key = "old";
    r.value = values[i - 1];
    r.version = static_cast<uint64_t>(i);
    r.lsn = static_cast<uint64_t>(i);
    AppendRecord(r, &seg);
  }
  seg.resize(kMinSegmentBytes, '\0');
  fs.WriteFile(JoinPath(kDir, FormatSegmentName(1, 1)), seg);
  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].value, values[2]);
  ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "new", "4")).ok());
  wal.reset();
  const auto paths = SegmentPaths(fs);
  ASSERT_EQ(paths.size(), 2u) << "a new segment in the current format";
  std::string first, second;
  fs.ReadFile(paths[0], &first);
  fs.ReadFile(paths[1], &second);
  EXPECT_EQ(first, seg) << "the old segment is not rewritten";
  uint64_t seq = 0;
  uint32_t format = 0;
  ASSERT_TRUE(VerifySegmentHeader(second, paths[1], &seq, &format).ok());
  EXPECT_EQ(format, kSegmentFormat);
  ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3].lsn, 4u);
  EXPECT_EQ(got[3].key, "new");
}

// Cutting a torn tail is itself crash safe: the machine stops at every
// step of the cut (copy, its sync, the directory sync, the zeroing, its
// sync, the final directory sync), and after any power loss the log still
// opens with every acknowledged record and cuts what is left.
TEST(WalDamage, ACrashDuringTheCutLeavesALogThatStillOpens) {
  const int kDurable = 5;
  bool completed = false;
  for (int step = 1; step < 50 && !completed; ++step) {
    for (uint64_t seed : {0, 1, 2, 3}) {
      SCOPED_TRACE("crash at step " + std::to_string(step) + ", seed " + std::to_string(seed));
      testing::MemFs fs;
      const auto opts = MemOptions(&fs);
      StopInTheLastBatchSync(fs, opts, kDurable, 40, 300);
      const std::string path = SegmentPaths(fs).back();
      const std::vector<size_t> pages = fs.DirtyPages(path);
      ASSERT_GE(pages.size(), 3u);
      fs.PowerLoss([&](const std::string& p, size_t page) { return p != path || page != pages[1]; });
      // Spares are prepared on their own thread; their steps are not counted.
      fs.CrashAtStep(step, [](std::string_view op, const std::string& p) {
        return op == "rename" || p.find("spare-") == std::string::npos;
      });
      std::unique_ptr<Wal> wal;
      std::vector<Replayed> got;
      Status s = OpenCollect(opts, &wal, &got);
      const bool crashed = fs.frozen();
      if (!crashed) {
        ASSERT_TRUE(s.ok()) << s.ToString();
        completed = true;
      }
      fs.Freeze();
      wal.reset();
      if (seed == 0) {
        fs.PowerLoss();
      } else {
        fs.PowerLoss(seed);
      }
      // Once the torn bytes are zeroed on disk, their copy is there too.
      std::string seg;
      ASSERT_TRUE(fs.ReadFile(path, &seg));
      if (BatchSpans(seg).size() == static_cast<size_t>(kDurable)) {
        const Span last = BatchSpans(seg).back();
        if (seg.find_first_not_of('\0', last.offset + last.size + 8) == std::string::npos) {
          bool broken_kept = false;
          for (const auto& name : fs.Files(kDir)) broken_kept |= name.ends_with(kBrokenSuffix);
          EXPECT_TRUE(broken_kept) << "the cut reached the disk but its copy did not";
        }
      }
      ScanResult scan;
      s = OpenCollect(opts, &wal, &got, &scan);
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_EQ(got.size(), static_cast<size_t>(kDurable));
      for (int i = 0; i < kDurable; ++i) EXPECT_EQ(got[i].value, ValueOf(i + 1));
      ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "after", "1")).ok());
      wal.reset();
      ASSERT_TRUE(OpenCollect(opts, &wal, &got, &scan).ok());
      EXPECT_EQ(got.size(), static_cast<size_t>(kDurable + 1));
      EXPECT_EQ(scan.torn_bytes_cut, 0u);
    }
  }
  EXPECT_TRUE(completed);
}

// A rotation's new segment lost its first page (its header and the start
// of its first batch) while a later page of that unsynced batch survived:
// the segment gets its header back and the rest is cut as a torn tail.
TEST(WalDamage, ANewSegmentThatLostItsHeaderPageIsCut) {
  testing::MemFs fs;
  const auto opts = MemOptions(&fs, kMinSegmentBytes);
  const std::string first_segment = FormatSegmentName(1, 1);
  {
    std::unique_ptr<Wal> wal;
    std::vector<Replayed> got;
    ASSERT_TRUE(OpenCollect(opts, &wal, &got).ok());
    for (int i = 1; i < 4; ++i) {
      ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "big" + std::to_string(i), ValueOf(i, 16000)))
                      .ok());
    }
    // The fourth record's fsync waits at a gate while 40 more pile up
    // behind it: one group commit, which fills segment 1 and goes on in
    // segment 2, where the machine stops in the first fsync.
    std::mutex gate;
    gate.lock();
    std::atomic<int> first_syncs{0};
    fs.SetSyncPathHook([&](const std::string& p) {
      const std::string name = p.substr(p.rfind('/') + 1);
      if (!ParseSegmentName(name)) return;
      if (name != first_segment) {
        fs.Freeze();
      } else if (++first_syncs == 1) {
        std::lock_guard lk(gate);
      }
    });
    const uint64_t fourth = AppendKV(wal.get(), "big4", ValueOf(4, 16000));
    while (first_syncs.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    uint64_t last = 0;
    for (int i = 1; i <= 40; ++i) last = AppendKV(wal.get(), "t" + std::to_string(i), ValueOf(i, 300));
    gate.unlock();
    ASSERT_TRUE(wal->WaitAcked(fourth).ok());
    ASSERT_FALSE(wal->WaitAcked(last).ok());
  }
  fs.SetSyncHook(nullptr);
  const auto paths = SegmentPaths(fs);
  ASSERT_EQ(paths.size(), 2u);
  const std::vector<size_t> pages = fs.DirtyPages(paths[1]);
  ASSERT_GE(pages.size(), 2u);
  ASSERT_EQ(pages[0], 0u);
  fs.PowerLoss([&](const std::string& p, size_t page) { return p != paths[1] || page != 0; });
  std::string seg;
  ASSERT_TRUE(fs.ReadFile(paths[1], &seg));
  ASSERT_EQ(seg.substr(0, kSegmentHeaderSize), std::string(kSegmentHeaderSize, '\0'));

  std::unique_ptr<Wal> wal;
  std::vector<Replayed> got;
  ScanResult scan;
  Status s = OpenCollect(opts, &wal, &got, &scan);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_GE(got.size(), 4u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].lsn, i + 1);
  EXPECT_GT(scan.torn_bytes_cut, 0u);
  const size_t before = got.size();
  ASSERT_TRUE(wal->WaitAcked(AppendKV(wal.get(), "after", "1")).ok());
  wal.reset();
  ASSERT_TRUE(OpenCollect(opts, &wal, &got, &scan).ok());
  ASSERT_EQ(got.size(), before + 1);
  EXPECT_EQ(got.back().key, "after");
  EXPECT_EQ(scan.torn_bytes_cut, 0u);
}

}  // namespace
}  // namespace casmem::wal
