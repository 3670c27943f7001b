// SegmentReader: reading committed records back from log segments for the
// change history, from any revision, with bounded reads (a sparse batch
// index, positioned reads), a segment that grows, and damage reported.
#include "engine/segment_reader.h"

#include "engine/change_history.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>

#include "tests/engine/change_helpers.h"
#include "tests/support/mem_fs.h"
#include "wal/batch.h"
#include "wal/file_ops.h"
#include "wal/format.h"
#include "wal/segment.h"

namespace casmem {
namespace {

using changes_test::DiskStoreOptions;
using changes_test::kNow;
using changes_test::OpenStore;
using changes_test::TempDataDir;

// The POSIX file system, counting the bytes files read.
class CountingFs final : public wal::FileSystem {
 public:
  class CountingFile final : public wal::File {
   public:
    CountingFile(std::unique_ptr<wal::File> f, std::atomic<uint64_t>* n) : f_(std::move(f)), n_(n) {}
    Status WriteAt(uint64_t offset, std::string_view data) override { return f_->WriteAt(offset, data); }
    Status ReadAt(uint64_t offset, size_t n, char* buf, size_t* got) override {
      Status s = f_->ReadAt(offset, n, buf, got);
      n_->fetch_add(*got);
      return s;
    }
    Status Sync() override { return f_->Sync(); }
    Status Allocate(uint64_t length) override { return f_->Allocate(length); }
    Status Size(uint64_t* size) override { return f_->Size(size); }

   private:
    std::unique_ptr<wal::File> f_;
    std::atomic<uint64_t>* n_;
  };
  Status Open(const std::string& path, wal::OpenMode mode, std::unique_ptr<wal::File>* out) override {
    std::unique_ptr<wal::File> f;
    Status s = fs_->Open(path, mode, &f);
    if (s.ok()) *out = std::make_unique<CountingFile>(std::move(f), &bytes_read);
    return s;
  }
  Status Rename(const std::string& from, const std::string& to) override { return fs_->Rename(from, to); }
  Status Remove(const std::string& path) override { return fs_->Remove(path); }
  Status CreateDir(const std::string& path, bool* created) override { return fs_->CreateDir(path, created); }
  Status SyncDir(const std::string& path) override { return fs_->SyncDir(path); }
  Status List(const std::string& dir, std::vector<std::string>* names) override { return fs_->List(dir, names); }
  bool Exists(const std::string& path) override { return fs_->Exists(path); }
  Status Lock(const std::string& path, std::unique_ptr<wal::FileLock>* out) override {
    return fs_->Lock(path, out);
  }
  std::atomic<uint64_t> bytes_read{0};

 private:
  wal::FileSystem* fs_ = wal::PosixFileSystem();
};

// The log's segments, oldest first.
std::vector<wal::SegmentInfo> Segments(Store& store) { return store.wal()->segments(); }

// Writes `n` small puts one at a time (one batch each with --fsync never).
void Fill(Store& store, int n, int start = 0) {
  for (int i = start; i < start + n; ++i) {
    const std::string key = "k" + std::to_string(i % 97);
    PutRequest p;
    p.workspace = "w";
    p.key = key;
    const std::string value = std::to_string(i);
    p.value = value;
    ASSERT_EQ(store.Put(p).outcome, Outcome::kOk);
  }
  ASSERT_TRUE(store.WaitVisible(store.revision()).ok());
}

// The lsns Read hands over from `from` through `to` in segment `path`.
std::vector<uint64_t> LsnsOf(SegmentReader& reader, const std::string& path, uint64_t from, uint64_t to,
                             size_t max = SIZE_MAX) {
  std::vector<uint64_t> lsns;
  uint64_t last = 0;
  Status s = reader.Read(path, from, to,
                         [&](const wal::Record& r, const std::shared_ptr<const std::string>& keep) {
                           EXPECT_NE(keep, nullptr);
                           lsns.push_back(r.lsn);
                           return lsns.size() < max;
                         },
                         &last);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!lsns.empty()) {
    EXPECT_EQ(last, lsns.back());
  }
  return lsns;
}

// A put of key "k<lsn>" at revision `lsn`, encoded as the log writes it.
std::string RecordBytes(uint64_t lsn) {
  wal::Record r;
  r.type = wal::kRecordPut;
  r.workspace = "w";
  const std::string key = "k" + std::to_string(lsn);
  r.key = key;
  r.value = "1";
  r.version = 1;
  r.lsn = lsn;
  std::string out;
  wal::AppendRecord(r, &out);
  return out;
}

// A batch holding the put of revision `lsn` alone.
std::string BatchBytes(uint64_t lsn) {
  const std::string body = RecordBytes(lsn);
  std::string out;
  wal::AppendBatchHeader(1, lsn, lsn, body, &out);
  return out + body;
}

// Writes `data` to `path` as a preallocated segment of 64 KiB (zeros after).
void WriteSegment(testing::MemFs& fs, const std::string& path, std::string data) {
  data.resize(64 * 1024, '\0');
  fs.WriteFile(path, data);
}

TEST(SegmentReader, ReadsFromAnyRevisionOfASegmentOfManyBatches) {
  TempDataDir dir("segreader-any");
  ManualClock clock(kNow);
  StoreOptions o = DiskStoreOptions(&clock, dir.path());
  o.wal_segment_bytes = 4 << 20;
  auto store = OpenStore(o);
  Fill(*store, 6000);  // ~6000 single-record batches: many marks
  const auto segs = Segments(*store);
  ASSERT_EQ(segs.size(), 1u);
  const uint64_t head = store->revision();
  SegmentReader reader(wal::PosixFileSystem());
  for (uint64_t from : {uint64_t{1}, uint64_t{2}, uint64_t{1000}, uint64_t{2999}, head - 1, head}) {
    const auto lsns = LsnsOf(reader, segs[0].path, from, head);
    ASSERT_EQ(lsns.size(), head - from + 1) << from;
    EXPECT_EQ(lsns.front(), from);
    EXPECT_TRUE(std::is_sorted(lsns.begin(), lsns.end()));
    EXPECT_EQ(lsns.back(), head);
  }
  // `to` and the callback bound the read.
  EXPECT_EQ(LsnsOf(reader, segs[0].path, 10, 20).size(), 11u);
  EXPECT_EQ(LsnsOf(reader, segs[0].path, 10, head, 3), (std::vector<uint64_t>{10, 11, 12}));
  // Past the segment's end: nothing, not an error.
  EXPECT_TRUE(LsnsOf(reader, segs[0].path, head + 1, head + 5).empty());
}

TEST(SegmentReader, HistoryReadsAlternatingAcrossSegmentsReadAFewBlocksNotWholeFiles) {
  // A client alternating resume points across more segments than any
  // cache of whole files holds: each page reads a few blocks.
  TempDataDir dir("segreader-bounded");
  ManualClock clock(kNow);
  CountingFs fs;
  StoreOptions o = DiskStoreOptions(&clock, dir.path());
  o.fs = &fs;
  o.wal_segment_bytes = 1 << 20;
  o.watch_memory_bytes = 0;  // every page from the segments
  auto store = OpenStore(o);
  const std::string value = "\"" + std::string(2000, 'x') + "\"";
  std::vector<uint64_t> revs;
  for (int i = 0; i < 2500; ++i) {  // ~5 MiB of log: 5 segments
    PutRequest p;
    p.workspace = "w";
    const std::string key = "k" + std::to_string(i);
    p.key = key;
    p.value = value;
    const WriteResult w = store->Put(p);
    ASSERT_EQ(w.outcome, Outcome::kOk);
    // One write per batch: a read verifies whole batches, so a page's
    // read is a few blocks plus its largest batch.
    ASSERT_TRUE(store->WaitVisible(w.revision).ok());
    revs.push_back(w.revision);
  }
  ASSERT_GE(store->wal()->segments().size(), 4u);
  ChangeHistory* h = store->history();
  auto page_at = [&](uint64_t since) {
    ChangeHistory::Query q;
    q.filter.workspace = "w";
    q.since = since;
    q.max_events = 1;
    ChangeHistory::Page page;
    EXPECT_TRUE(h->Read(q, &page).ok());
    EXPECT_EQ(page.events.size(), 1u);
    if (!page.events.empty()) {
      EXPECT_EQ(page.events[0].revision, since + 1);
    }
  };
  const std::vector<uint64_t> points = {revs[100], revs[700], revs[1300], revs[1900], revs[2400]};
  for (uint64_t since : points) page_at(since);  // each segment indexed once
  for (int round = 0; round < 3; ++round) {
    for (uint64_t since : points) {
      fs.bytes_read = 0;
      page_at(since + round);
      EXPECT_LE(fs.bytes_read.load(), 2u * 256 * 1024) << since;
    }
  }
}

TEST(SegmentReader, ASegmentThatGrowsIsIndexedFurtherWhenLaterRevisionsAreWanted) {
  TempDataDir dir("segreader-grow");
  ManualClock clock(kNow);
  StoreOptions o = DiskStoreOptions(&clock, dir.path());
  o.wal_segment_bytes = 4 << 20;
  auto store = OpenStore(o);
  Fill(*store, 100);
  SegmentReader reader(wal::PosixFileSystem());
  const std::string path = Segments(*store).back().path;
  const uint64_t first_head = store->revision();
  EXPECT_EQ(LsnsOf(reader, path, 1, first_head).size(), first_head);
  Fill(*store, 300, 100);
  const uint64_t head = store->revision();
  const auto more = LsnsOf(reader, path, first_head + 1, head);
  ASSERT_EQ(more.size(), head - first_head);
  EXPECT_EQ(more.front(), first_head + 1);
}

TEST(SegmentReader, BadBytesWhereIndexingStoppedAreLookedAtAgainWhenTheSegmentGrows) {
  // The segment being written may show a batch half written to a reader
  // asked for more than is whole (a list of segments taken before a
  // write): that is damage for that read, not for later ones.
  testing::MemFs fs;
  ASSERT_TRUE(fs.CreateDirs("/d").ok());
  const std::string path = "/d/" + wal::FormatSegmentName(1, 1);
  const std::string whole = wal::EncodeSegmentHeader(1) + BatchBytes(1) + BatchBytes(2);
  const std::string third = BatchBytes(3);
  WriteSegment(fs, path, whole + third.substr(0, wal::kBatchHeaderSize / 2));
  SegmentReader reader(&fs);
  uint64_t last = 0;
  std::vector<uint64_t> lsns;
  auto collect = [&](const wal::Record& r, const std::shared_ptr<const std::string>&) {
    lsns.push_back(r.lsn);
    return true;
  };
  Status s = reader.Read(path, 1, 3, collect, &last);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find(path + " offset " + std::to_string(whole.size())), std::string::npos)
      << s.ToString();
  EXPECT_EQ(last, 2u);
  WriteSegment(fs, path, whole + third);
  lsns.clear();
  s = reader.Read(path, 3, 3, collect, &last);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(lsns, std::vector<uint64_t>{3});
}

TEST(SegmentReader, AFormatOneSegmentThatGrowsIsReadAgain) {
  // A log opened on a segment written before batches keeps appending
  // records to it: what was read of it whole is not the end.
  testing::MemFs fs;
  ASSERT_TRUE(fs.CreateDirs("/d").ok());
  const std::string path = "/d/" + wal::FormatSegmentName(1, 1);
  const std::string first = wal::EncodeSegmentHeader(1, wal::kSegmentFormatV1) + RecordBytes(1) + RecordBytes(2);
  WriteSegment(fs, path, first);
  SegmentReader reader(&fs);
  EXPECT_EQ(LsnsOf(reader, path, 1, 2), (std::vector<uint64_t>{1, 2}));
  WriteSegment(fs, path, first + RecordBytes(3) + RecordBytes(4));
  EXPECT_EQ(LsnsOf(reader, path, 3, 4), (std::vector<uint64_t>{3, 4}));
}

TEST(SegmentReader, DamageInsideTheSegmentIsACorruptionNamingTheFile) {
  TempDataDir dir("segreader-damage");
  ManualClock clock(kNow);
  StoreOptions o = DiskStoreOptions(&clock, dir.path());
  o.wal_segment_bytes = 4 << 20;
  std::string path;
  uint64_t head = 0;
  {
    auto store = OpenStore(o);
    Fill(*store, 3000);
    path = Segments(*store).back().path;
    head = store->revision();
  }
  // Flip a byte of the data (a record of the last batch).
  const auto size = std::filesystem::file_size(path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes(size, '\0');
  f.read(bytes.data(), static_cast<std::streamsize>(size));
  uint64_t data_end = size;
  while (data_end > 0 && bytes[data_end - 1] == '\0') --data_end;
  const uint64_t at = data_end - 1;  // inside the last batch's body (its checksum covers it)
  f.seekp(static_cast<std::streamoff>(at));
  const char flipped = static_cast<char>(bytes[at] ^ 0x40);
  f.write(&flipped, 1);
  f.close();
  SegmentReader reader(wal::PosixFileSystem());
  uint64_t last = 0;
  Status s = reader.Read(path, 1, head, [](const wal::Record&, const std::shared_ptr<const std::string>&) { return true; },
                         &last);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find(path), std::string::npos) << s.ToString();
  EXPECT_LT(last, head);
}

}  // namespace
}  // namespace casmem
