// Fuzz target: recovery's log scan (wal::ScanLog) over MemFs, repair
// included. Input: a mode byte, then the bytes of the last segment,
// "/fz/wal/0000000000000001-0000000000000001.wal" (with bit 3: of two
// segments, see below). Mode bits: 0 recompute the checksums (segment
// header; format 2: per batch the records, the body, the header; format
// 1: the records), 1 replay after lsn 1 instead of 0, 2 with bit 0 also
// make each batch's count and its records' lsns agree with the batch's
// first_lsn, 3 the input holds an older segment (seq 1) and, from the
// first 8-aligned segment magic after its start, the last one (seq 2).
// Invariants:
// - ScanLog returns; an error is a Corruption naming a segment, and
//   leaves the fs exactly as it was (no cut, no copy); the older segment
//   is never changed;
// - on OK the replayed lsns are consecutive from after_lsn + 1 and the
//   result's counters agree with what was replayed;
// - a cut zeroes exactly [tail_offset, tail_offset + torn_bytes_cut) and
//   keeps those bytes in the .broken copy; without a cut the segment is
//   unchanged (but for a restored header);
// - recovery is idempotent: a second scan of the repaired fs succeeds,
//   cuts nothing, changes nothing and replays the same records;
// - the writer can continue: a batch appended where the scan says the
//   tail is (or in a new segment after a format-1 tail) replays after them.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "tests/support/mem_fs.h"
#include "wal/batch.h"
#include "wal/endian.h"
#include "wal/log_reader.h"
#include "common/logger.h"
#include "wal/repair.h"
#include "wal/segment.h"

namespace {

using namespace casmem::wal;

// A replayed record, copied (the scan's views die with its buffer).
struct Replayed {
  uint8_t type;
  uint64_t lsn, version;
  int64_t updated_at_ms, expires_at_ms;
  std::string workspace, key, value;
  bool operator==(const Replayed&) const = default;
};

struct Scan {
  casmem::Status status;
  ScanResult result;
  std::vector<Replayed> records;
};

Scan RunScan(casmem::testing::MemFs* fs, uint64_t after) {
  Scan out;
  out.status = ScanLog(fs, "/fz/wal", after, [&](const Record& r) {
    out.records.push_back({r.type, r.lsn, r.version, r.updated_at_ms, r.expires_at_ms,
                           std::string(r.workspace), std::string(r.key), std::string(r.value)});
  }, &out.result);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  casmem::SetLogLevel(casmem::LogLevel::kError);  // torn-tail notes are expected
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return 0;
  const unsigned mode = static_cast<unsigned char>(in[0]);
  in.remove_prefix(1);
  // Mode bit 3: two segments, the second from the first 8-aligned segment
  // magic after offset 0 on; it is named, as a rotation names it, for the
  // lsn after the last one the first segment holds.
  std::string older;
  if (mode & 8) {
    size_t at = kSegmentHeaderSize;
    while (at + 8 <= in.size() && GetU64(in.data() + at) != kSegmentMagic) at += 8;
    if (at + 8 > in.size()) return 0;
    older = std::string(in.substr(0, at));
    in.remove_prefix(at);
  }
  std::string seg(in);
  if (mode & 1) {
    casmem::fuzz::FixSegmentChecksums(&seg, (mode & 4) != 0);
    casmem::fuzz::FixSegmentChecksums(&older, (mode & 4) != 0);
  }
  const uint64_t after = (mode & 2) ? 1 : 0;

  casmem::testing::MemFs fs;
  FUZZ_CHECK(fs.CreateDirs("/fz/wal").ok());
  uint64_t seq = 1, first_lsn = 1;
  std::string older_path;
  if (mode & 8) {
    older_path = "/fz/wal/" + FormatSegmentName(1, 1);
    fs.WriteFile(older_path, older);
    seq = 2;
    SegmentEnd end;
    (void)ReadSegment(older, older_path, [&](const BatchAt& b) {
      first_lsn = b.header.first_lsn + b.header.count;
      return casmem::Status::OK();
    }, &end);
  }
  const std::string path = "/fz/wal/" + FormatSegmentName(seq, first_lsn);
  fs.WriteFile(path, seg);
  const size_t files = fs.Files("/fz/wal").size();
  // Recovery changes only the last segment.
  auto older_unchanged = [&] {
    std::string now;
    return older_path.empty() || (fs.ReadFile(older_path, &now) && now == older);
  };

  const Scan first = RunScan(&fs, after);
  FUZZ_CHECK(older_unchanged());
  std::string now;
  FUZZ_CHECK(fs.ReadFile(path, &now));
  if (!first.status.ok()) {
    FUZZ_CHECK(first.status.IsCorruption());
    FUZZ_CHECK(first.status.message().find(path) != std::string::npos ||
               (!older_path.empty() && first.status.message().find(older_path) != std::string::npos));
    FUZZ_CHECK(now == seg);
    FUZZ_CHECK(fs.Files("/fz/wal").size() == files);
    return 0;
  }
  const ScanResult& r = first.result;
  uint64_t next = after + 1;
  for (const Replayed& rec : first.records) {
    FUZZ_CHECK(rec.lsn == next);
    ++next;
  }
  FUZZ_CHECK(r.records_replayed == first.records.size());
  FUZZ_CHECK(r.last_lsn == next - 1);
  FUZZ_CHECK(r.segments.size() == files);
  // Counts the data of every segment read: the older one may be skipped.
  FUZZ_CHECK(older_path.empty() ? r.bytes_scanned == r.tail_offset
                                : r.bytes_scanned >= r.tail_offset);

  // What the repair did, byte by byte. A restored header (the original's
  // was all zeros; a file shorter than a header grows to one) is the only
  // change allowed outside the cut range.
  const bool header_restored = now.compare(0, kSegmentHeaderSize, seg, 0, kSegmentHeaderSize) != 0;
  if (header_restored) {
    FUZZ_CHECK(seg.find_first_not_of('\0') >= kSegmentHeaderSize);
    FUZZ_CHECK(now.compare(0, kSegmentHeaderSize, EncodeSegmentHeader(seq)) == 0);
  }
  FUZZ_CHECK(now.size() == (header_restored ? std::max(seg.size(), kSegmentHeaderSize) : seg.size()));
  std::string orig = seg;  // as long as the file now is (zeros added)
  orig.resize(now.size(), '\0');
  FUZZ_CHECK(r.tail_offset >= kSegmentHeaderSize && r.tail_offset <= now.size());
  const uint64_t cut = r.torn_bytes_cut;
  FUZZ_CHECK(cut <= now.size() - r.tail_offset);
  FUZZ_CHECK(now.compare(kSegmentHeaderSize, r.tail_offset - kSegmentHeaderSize, orig,
                         kSegmentHeaderSize, r.tail_offset - kSegmentHeaderSize) == 0);
  if (cut) {
    FUZZ_CHECK(now.find_first_not_of('\0', r.tail_offset) == std::string::npos);
  } else {
    FUZZ_CHECK(now.compare(r.tail_offset, std::string::npos, orig, r.tail_offset) == 0);
  }
  if (cut) {
    std::string copy;
    FUZZ_CHECK(fs.ReadFile(BrokenCopyPath(path, r.tail_offset), &copy));
    FUZZ_CHECK(copy == orig.substr(r.tail_offset, cut));
    FUZZ_CHECK(orig.find_first_not_of('\0', r.tail_offset + cut) == std::string::npos);
    FUZZ_CHECK(fs.Files("/fz/wal").size() == files + 1);
  } else {
    FUZZ_CHECK(fs.Files("/fz/wal").size() == files);
  }

  // Idempotent recovery: the repaired log scans clean to the same state.
  const Scan second = RunScan(&fs, after);
  FUZZ_CHECK(second.status.ok());
  FUZZ_CHECK(second.result.torn_bytes_cut == 0);
  FUZZ_CHECK(second.records == first.records);
  FUZZ_CHECK(second.result.last_lsn == r.last_lsn);
  FUZZ_CHECK(second.result.tail_offset == r.tail_offset);
  FUZZ_CHECK(second.result.tail_format == r.tail_format);
  std::string again;
  FUZZ_CHECK(fs.ReadFile(path, &again) && again == now);
  FUZZ_CHECK(older_unchanged());

  // The writer can go on where recovery left it (wal/wal.cc): a batch of
  // lsn last_lsn + 1 at tail_offset of a format-2 tail, else in a new
  // segment, is replayed after the same records. (Skipped for an empty
  // log that replayed nothing after a snapshot at lsn 1: its segment may
  // be named for lsns it never held, which no writer leaves.)
  if (after != 0 && first.records.empty()) return 0;
  const uint64_t lsn = r.last_lsn + 1;
  Record rec;
  rec.lsn = lsn;
  rec.version = 1;
  rec.workspace = "w";
  rec.key = "appended";
  rec.value = "true";
  std::string body, batch;
  AppendRecord(rec, &body);
  AppendBatchHeader(1, lsn, r.last_lsn, body, &batch);
  batch += body;
  if (r.tail_format == kSegmentFormat) {
    FUZZ_CHECK(r.tail_offset % kRecordAlign == 0);
    std::unique_ptr<File> f;
    FUZZ_CHECK(fs.Open(path, OpenMode::kReadWrite, &f).ok());
    FUZZ_CHECK(f->WriteAt(r.tail_offset, batch).ok());
  } else {
    fs.WriteFile("/fz/wal/" + FormatSegmentName(seq + 1, lsn), EncodeSegmentHeader(seq + 1) + batch);
  }
  const Scan third = RunScan(&fs, after);
  FUZZ_CHECK(third.status.ok());
  FUZZ_CHECK(third.result.torn_bytes_cut == 0 && third.result.last_lsn == lsn);
  FUZZ_CHECK(third.records.size() == first.records.size() + 1);
  FUZZ_CHECK(std::equal(first.records.begin(), first.records.end(), third.records.begin()));
  FUZZ_CHECK(third.records.back().key == "appended");
  return 0;
}
