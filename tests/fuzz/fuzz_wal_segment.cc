// Fuzz target: one segment read directly from bytes (wal::ReadSegment, as
// recovery and `casmem dump --log` use it) and the torn-tail evidence search
// (wal::FindValidDataAfter). Input: a mode byte (bits 0 and 2 as in
// fuzz_wal_scan: recompute checksums, renumber lsns and counts), then the
// segment bytes. Invariants:
// - batches come in file order, back to back from offset 32 to
//   end.offset; each holds `count` records with lsns first_lsn, +1, ...,
//   whose offsets and sizes tile the body;
// - end.data_end is the end of the last non-zero byte, and a clean end
//   (no damage) has no data after end.offset;
// - later data found after damage lies past end.offset, verifies, and is
//   from the same format;
// - zeroing everything from end.offset (what a cut does) reads back the
//   same batches with a clean end.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "wal/batch.h"
#include "wal/log_reader.h"

namespace {

using namespace casmem::wal;

struct Seen {
  uint64_t offset, size, first_lsn;
  uint32_t count;
  bool operator==(const Seen&) const = default;
};

casmem::Status Read(std::string_view bytes, std::vector<Seen>* seen, SegmentEnd* end) {
  return ReadSegment(bytes, "seg", [&](const BatchAt& b) {
    const uint64_t expect = seen->empty() ? kSegmentHeaderSize
                                          : seen->back().offset + seen->back().size;
    FUZZ_CHECK(b.offset == expect);
    FUZZ_CHECK(b.offset + b.size <= bytes.size());
    FUZZ_CHECK(b.records.size() == b.header.count && b.header.count > 0);
    uint64_t at = end->format == kSegmentFormatV1 ? b.offset : b.offset + kBatchHeaderSize;
    for (size_t i = 0; i < b.records.size(); ++i) {
      const RecordAt& r = b.records[i];
      FUZZ_CHECK(r.record.lsn == b.header.first_lsn + i);
      // Only a record that ends the file may lack its padding.
      FUZZ_CHECK(r.offset == at);
      FUZZ_CHECK(r.size % kRecordAlign == 0 || r.offset + r.size == bytes.size());
      at += r.size;
    }
    FUZZ_CHECK(at == b.offset + b.size);
    seen->push_back({b.offset, b.size, b.header.first_lsn, b.header.count});
    return casmem::Status::OK();
  }, end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty()) return 0;
  const unsigned mode = static_cast<unsigned char>(in[0]);
  std::string seg(in.substr(1));
  if (mode & 1) casmem::fuzz::FixSegmentChecksums(&seg, (mode & 4) != 0);

  std::vector<Seen> seen;
  SegmentEnd end;
  const casmem::Status s = Read(seg, &seen, &end);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsCorruption() && seen.empty());
    return 0;
  }
  const size_t nz = seg.find_last_not_of('\0');
  FUZZ_CHECK(end.data_end == (nz == std::string::npos ? 0 : nz + 1));
  FUZZ_CHECK(end.offset >= kSegmentHeaderSize);
  FUZZ_CHECK(end.offset == (seen.empty() ? kSegmentHeaderSize
                                         : seen.back().offset + seen.back().size));
  if (end.damage.empty()) {
    FUZZ_CHECK(end.data_end <= end.offset);
  } else {
    FUZZ_CHECK(end.offset < seg.size() && end.data_end > end.offset);
    const LaterData later = FindValidDataAfter(seg, end.format, end.offset, 0);
    if (later.found) {
      FUZZ_CHECK(later.offset > end.offset && later.offset % kRecordAlign == 0);
      const std::string_view rest = std::string_view(seg).substr(later.offset);
      size_t used = 0;
      if (end.format == kSegmentFormatV1) {
        Record r;
        FUZZ_CHECK(DecodeRecord(rest, &r, &used) == DecodeStatus::kOk);
      } else {
        BatchHeader h;
        std::vector<RecordAt> records;
        FUZZ_CHECK(DecodeBatch(rest, &h, &records, &used) == BatchStatus::kOk);
        FUZZ_CHECK(later.max_synced_lsn >= h.synced_lsn);
      }
    } else {
      FUZZ_CHECK(later.max_synced_lsn == 0);
    }
  }

  // What a cut leaves: the same batches, then a clean end at the same place.
  std::string cut = seg;
  if (end.offset < cut.size()) cut.replace(end.offset, std::string::npos, cut.size() - end.offset, '\0');
  std::vector<Seen> seen2;
  SegmentEnd end2;
  FUZZ_CHECK(Read(cut, &seen2, &end2).ok());
  FUZZ_CHECK(seen2 == seen);
  FUZZ_CHECK(end2.damage.empty() && end2.offset == end.offset && end2.format == end.format);
  return 0;
}
