// ScanLog and ReadSegment: segment listing, the per-segment batch walk,
// and the decision between "torn tail" (cut, by wal/repair.cc) and damage.
#include "wal/log_reader.h"

#include <algorithm>
#include <chrono>

#include "wal/endian.h"
#include "common/logger.h"
#include "wal/repair.h"
#include "wal/segment.h"

namespace casmem::wal {
namespace {

size_t LastNonZeroEnd(std::string_view buf) {
  size_t i = buf.size();
  while (i > 0 && buf[i - 1] == 0) --i;
  return i;
}

bool AllZero(std::string_view buf) { return LastNonZeroEnd(buf) == 0; }

uint64_t AlignUp(uint64_t n) { return (n + kRecordAlign - 1) & ~uint64_t{kRecordAlign - 1}; }

std::string At(const std::string& path, uint64_t offset) {
  return path + " offset " + std::to_string(offset);
}

// Format 1: bare records, each its own batch.
Status ReadRecordsV1(std::string_view bytes, const BatchFn& fn, SegmentEnd* end) {
  size_t pos = kSegmentHeaderSize;
  BatchAt b;
  for (;;) {
    RecordAt r;
    size_t used = 0;
    const DecodeStatus ds = DecodeRecord(bytes.substr(pos), &r.record, &used);
    if (ds != DecodeStatus::kOk) {
      end->offset = pos;
      if (ds != DecodeStatus::kEndOfData || end->data_end > pos) end->damage = DecodeStatusName(ds);
      return Status::OK();
    }
    r.offset = pos;
    r.size = used;
    b.offset = pos;
    b.size = used;
    b.header = BatchHeader{1, r.record.lsn, used, 0, 0};
    b.records.assign(1, r);
    Status s = fn(b);
    if (!s.ok()) return s;
    pos += used;
  }
}

Status ReadBatches(std::string_view bytes, const BatchFn& fn, SegmentEnd* end) {
  size_t pos = kSegmentHeaderSize;
  BatchAt b;
  for (;;) {
    size_t used = 0;
    const BatchStatus bs = DecodeBatch(bytes.substr(pos), &b.header, &b.records, &used);
    if (bs != BatchStatus::kOk) {
      end->offset = pos;
      if (bs != BatchStatus::kEndOfData) {
        end->damage = BatchStatusName(bs);
      } else if (end->data_end > pos) {
        end->damage = "zero batch header before data that ends at offset " +
                      std::to_string(end->data_end);
      }
      return Status::OK();
    }
    b.offset = pos;
    b.size = used;
    for (RecordAt& r : b.records) r.offset += pos;
    Status s = fn(b);
    if (!s.ok()) return s;
    pos += used;
  }
}

class ProgressReporter {
 public:
  explicit ProgressReporter(size_t segments) : segments_(segments) {}
  // `done` counts segments, fractions included.
  void Update(double done, uint64_t records) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double pct = segments_ ? 100.0 * done / static_cast<double>(segments_) : 100;
    char line[160];
    std::snprintf(line, sizeof line, "recovery: replayed %.1f%% of the log, %llu records, %.0f records/s",
                  pct, static_cast<unsigned long long>(records), records / std::max(secs, 1e-9));
    LogInfo(line);
  }

 private:
  size_t segments_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = start_;
};

}  // namespace

Status ReadWholeFile(FileSystem* fs, const std::string& path, std::string* out) {
  std::unique_ptr<File> f;
  Status s = fs->Open(path, OpenMode::kRead, &f);
  if (!s.ok()) return s;
  uint64_t size = 0;
  s = f->Size(&size);
  if (!s.ok()) return s;
  out->resize(size);
  size_t got = 0;
  s = f->ReadAt(0, size, out->data(), &got);
  if (!s.ok()) return s;
  out->resize(got);
  return Status::OK();
}

Status ReadSegment(std::string_view bytes, const std::string& path, const BatchFn& fn,
                   SegmentEnd* end) {
  *end = SegmentEnd{};
  end->data_end = LastNonZeroEnd(bytes);
  if (AllZero(bytes.substr(0, kSegmentHeaderSize))) {
    // A rotation renames a zeroed spare into place and writes the header
    // with its first batch: a crash before that batch was synced leaves
    // no header. What follows, if anything, is read as the current format.
    end->header_missing = true;
    end->offset = kSegmentHeaderSize;
    if (end->data_end == 0) return Status::OK();
  } else {
    Status s = VerifySegmentHeader(bytes, path, &end->seq, &end->format);
    if (!s.ok()) return s;
  }
  return end->format == kSegmentFormatV1 ? ReadRecordsV1(bytes, fn, end)
                                         : ReadBatches(bytes, fn, end);
}

LaterData FindValidDataAfter(std::string_view bytes, uint32_t format, uint64_t from,
                             uint64_t after_lsn) {
  LaterData out;
  uint64_t pos = AlignUp(from + 1);
  BatchHeader h;
  std::vector<RecordAt> records;
  while (pos + kRecordHeaderSize <= bytes.size()) {
    size_t used = 0;
    uint64_t lsn = 0, synced = 0;
    bool valid = false;
    if (format == kSegmentFormatV1) {
      Record r;
      valid = DecodeRecord(bytes.substr(pos), &r, &used) == DecodeStatus::kOk;
      lsn = r.lsn;
    } else if (pos + kBatchHeaderSize <= bytes.size() && GetU32(bytes.data() + pos + 8) == kBatchKind) {
      valid = DecodeBatch(bytes.substr(pos), &h, &records, &used) == BatchStatus::kOk;
      lsn = h.first_lsn;
      synced = h.synced_lsn;
    }
    if (valid && lsn > after_lsn) {
      if (!out.found) out.offset = pos;
      out.found = true;
      out.max_synced_lsn = std::max(out.max_synced_lsn, synced);
      pos += AlignUp(used);  // a valid batch's values are not searched
    } else {
      pos += kRecordAlign;
    }
  }
  return out;
}

Status ScanLog(FileSystem* fs, const std::string& dir, uint64_t after_lsn,
               const ReplayFn& replay, ScanResult* result) {
  *result = ScanResult{};
  result->last_lsn = after_lsn;
  std::vector<std::string> names;
  Status s = fs->List(dir, &names);
  if (!s.ok()) return s;
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (auto parsed = ParseSegmentName(name)) {
      result->segments.push_back({parsed->seq, parsed->first_lsn, JoinPath(dir, name)});
    }
  }
  const auto& segs = result->segments;
  // Segments wholly before the snapshot may linger if a crash interrupted
  // their removal: skip every segment whose successor starts at or before
  // after_lsn + 1. Only the segments from there on must be consecutive.
  size_t first = 0;
  while (first + 1 < segs.size() && segs[first + 1].first_lsn <= after_lsn + 1) ++first;
  for (size_t i = first + 1; i < segs.size(); ++i) {
    if (segs[i].seq != segs[i - 1].seq + 1) {
      return Status::Corruption("missing log segment between " + segs[i - 1].path + " and " +
                                segs[i].path);
    }
  }
  if (!segs.empty() && segs[first].first_lsn > after_lsn + 1) {
    return Status::Corruption("log gap: state is recovered up to lsn " + std::to_string(after_lsn) +
                              " but the oldest segment " + segs[first].path + " starts at lsn " +
                              std::to_string(segs[first].first_lsn));
  }

  ProgressReporter progress(segs.size() - first);
  uint64_t expected = 0;  // next lsn expected (0: not yet known)
  std::string buf;
  for (size_t i = first; i < segs.size(); ++i) {
    const SegmentInfo& seg = segs[i];
    const bool last = i + 1 == segs.size();
    s = ReadWholeFile(fs, seg.path, &buf);
    if (!s.ok()) return s;
    bool first_batch = true;
    SegmentEnd end;
    s = ReadSegment(
        buf, seg.path,
        [&](const BatchAt& b) {
          const uint64_t lsn = b.header.first_lsn;
          if (first_batch && lsn != seg.first_lsn) {
            return Status::Corruption(At(seg.path, b.offset) + ": first record has lsn " +
                                      std::to_string(lsn) + " but the segment name says " +
                                      std::to_string(seg.first_lsn));
          }
          if (expected != 0 && lsn != expected) {
            return Status::Corruption(At(seg.path, b.offset) + ": record lsn " +
                                      std::to_string(lsn) + " where " + std::to_string(expected) +
                                      " was expected");
          }
          first_batch = false;
          expected = lsn + b.header.count;
          for (const RecordAt& r : b.records) {
            if (r.record.lsn <= after_lsn) continue;
            replay(r.record);
            result->last_lsn = r.record.lsn;
            if ((++result->records_replayed & 0xfff) == 0) {
              progress.Update(static_cast<double>(i - first) +
                                  static_cast<double>(r.offset) / static_cast<double>(buf.size()),
                              result->records_replayed);
            }
          }
          return Status::OK();
        },
        &end);
    if (!s.ok()) return s;
    if (!end.header_missing && end.seq != seg.seq) {
      return Status::Corruption(seg.path + " offset 16: header says segment " +
                                std::to_string(end.seq));
    }
    if (end.header_missing && !last) {
      return Status::Corruption(seg.path + " offset 0: segment header is all zeros in a segment "
                                "that is not the last");
    }
    if (end.damage.empty()) {
      if (end.header_missing) {
        s = RestoreSegmentHeader(fs, seg.path, seg.seq);
        if (!s.ok()) return s;
      }
    } else {
      if (!last) {
        return Status::Corruption(At(seg.path, end.offset) + ": " + end.damage +
                                  " in a segment that is not the last");
      }
      // Torn or damaged? Unsynced bytes may persist page by page in any
      // order, so a torn batch can hold holes and later valid pages. What
      // tells it from damage is a later batch that verifies and was
      // written after the damaged bytes were durable (its synced_lsn
      // reaches them): then those bytes had been acknowledged.
      const uint64_t last_good = expected ? expected - 1 : seg.first_lsn - 1;
      const LaterData later = FindValidDataAfter(buf, end.format, end.offset, last_good);
      const bool torn = !later.found ||
                        (end.format != kSegmentFormatV1 && later.max_synced_lsn <= last_good);
      if (!torn) {
        return Status::Corruption(At(seg.path, end.offset) + ": " + end.damage +
                                  ", followed by a valid " +
                                  (end.format == kSegmentFormatV1 ? "record" : "batch") +
                                  " at offset " + std::to_string(later.offset));
      }
      const uint64_t cut = end.data_end - end.offset;
      s = CutTornTail(fs, dir, seg.path, buf, end.offset, end.data_end,
                      end.header_missing ? std::optional<uint64_t>(seg.seq) : std::nullopt);
      if (!s.ok()) return s;
      result->torn_bytes_cut = cut;
      LogWarn("wal: cut a torn tail of " + std::to_string(cut) + " bytes from " + seg.path +
              " at offset " + std::to_string(end.offset) + " (" + end.damage + "; copy kept in " +
              BrokenCopyPath(seg.path, end.offset) + ")");
    }
    result->tail_offset = end.offset;
    result->tail_format = end.header_missing ? kSegmentFormat : end.format;
    result->bytes_scanned += end.offset;
  }
  return Status::OK();
}

}  // namespace casmem::wal
