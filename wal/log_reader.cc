// ScanLog: segment listing, per-segment record walk, torn-tail repair.
#include "wal/log_reader.h"

#include <algorithm>
#include <chrono>

#include "wal/format.h"
#include "wal/logger.h"
#include "wal/segment.h"

namespace casmem::wal {
namespace {

Status ReadWhole(FileSystem* fs, const std::string& path, std::string* out) {
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

// First offset >= from holding a non-zero byte, or npos.
size_t FirstNonZero(std::string_view buf, size_t from) {
  for (size_t i = from; i < buf.size(); ++i)
    if (buf[i] != 0) return i;
  return std::string_view::npos;
}

size_t LastNonZeroEnd(std::string_view buf) {
  size_t i = buf.size();
  while (i > 0 && buf[i - 1] == 0) --i;
  return i;
}

// Looks for a record after `from` that decodes cleanly and continues the
// log (lsn > last_lsn): evidence that the damage is not a torn tail.
bool ValidRecordAfter(std::string_view buf, size_t from, uint64_t last_lsn, size_t* where) {
  size_t pos = (from + kRecordAlign) & ~(kRecordAlign - 1);
  for (; pos + kRecordHeaderSize <= buf.size(); pos += kRecordAlign) {
    Record r;
    size_t used = 0;
    if (DecodeRecord(buf.substr(pos), &r, &used) == DecodeStatus::kOk && r.lsn > last_lsn) {
      *where = pos;
      return true;
    }
  }
  return false;
}

std::string At(const std::string& path, uint64_t offset) {
  return path + " offset " + std::to_string(offset);
}

// Copies [from, to) of the segment beside it, then zeroes and syncs it.
Status CutTornTail(FileSystem* fs, const std::string& dir, const std::string& path,
                   std::string_view buf, size_t from, size_t to) {
  const std::string broken = path + "." + std::to_string(from) + kBrokenSuffix;
  std::unique_ptr<File> copy;
  Status s = fs->Open(broken, OpenMode::kCreateTrunc, &copy);
  if (s.ok()) s = copy->WriteAt(0, buf.substr(from, to - from));
  if (s.ok()) s = copy->Sync();
  if (!s.ok()) return s;
  std::unique_ptr<File> seg;
  s = fs->Open(path, OpenMode::kReadWrite, &seg);
  if (s.ok()) s = seg->WriteAt(from, std::string(to - from, '\0'));
  if (s.ok()) s = seg->Sync();
  if (s.ok()) s = fs->SyncDir(dir);
  return s;
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
  for (size_t i = 1; i < segs.size(); ++i) {
    if (segs[i].seq != segs[i - 1].seq + 1) {
      return Status::Corruption("missing log segment between " + segs[i - 1].path + " and " +
                                segs[i].path);
    }
  }
  // Segments wholly before the snapshot may linger if a crash interrupted
  // their removal: skip every segment whose successor starts at or before
  // after_lsn + 1.
  size_t first = 0;
  while (first + 1 < segs.size() && segs[first + 1].first_lsn <= after_lsn + 1) ++first;
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
    s = ReadWhole(fs, seg.path, &buf);
    if (!s.ok()) return s;
    if (last && FirstNonZero(buf, 0) == std::string::npos) {
      // A rotation renames a preallocated (all-zero) spare into place, then
      // writes its header with the first records: a crash in between
      // leaves an empty last segment. Give it its header; not damage.
      std::unique_ptr<File> f;
      s = fs->Open(seg.path, OpenMode::kReadWrite, &f);
      if (s.ok()) s = f->WriteAt(0, EncodeSegmentHeader(seg.seq));
      if (s.ok()) s = f->Sync();
      if (!s.ok()) return s;
      result->tail_offset = kSegmentHeaderSize;
      break;
    }
    uint64_t seq = 0;
    s = VerifySegmentHeader(buf, seg.path, &seq);
    if (!s.ok()) return s;
    if (seq != seg.seq) {
      return Status::Corruption(seg.path + " offset 16: header says segment " +
                                std::to_string(seq));
    }
    std::string_view view(buf);
    size_t pos = kSegmentHeaderSize;
    bool first_record = true;
    for (;;) {
      Record r;
      size_t used = 0;
      DecodeStatus ds = DecodeRecord(view.substr(pos), &r, &used);
      if (ds == DecodeStatus::kOk) {
        const uint64_t want = expected ? expected : r.lsn;
        if (first_record && r.lsn != seg.first_lsn) {
          return Status::Corruption(At(seg.path, pos) + ": first record has lsn " +
                                    std::to_string(r.lsn) + " but the segment name says " +
                                    std::to_string(seg.first_lsn));
        }
        if (r.lsn != want) {
          return Status::Corruption(At(seg.path, pos) + ": record lsn " + std::to_string(r.lsn) +
                                    " where " + std::to_string(want) + " was expected");
        }
        first_record = false;
        expected = r.lsn + 1;
        if (r.lsn > after_lsn) {
          replay(r);
          ++result->records_replayed;
          result->last_lsn = r.lsn;
        }
        pos += used;
        if ((result->records_replayed & 0xfff) == 0) {
          progress.Update(static_cast<double>(i - first) + static_cast<double>(pos) / view.size(),
                          result->records_replayed);
        }
        continue;
      }
      // End of data, or a record that cannot be used.
      const size_t tail_end = LastNonZeroEnd(view);
      if (ds == DecodeStatus::kEndOfData && tail_end <= pos) break;  // clean end
      size_t later = 0;
      const uint64_t last_good = expected ? expected - 1 : 0;
      if (!last) {
        return Status::Corruption(At(seg.path, pos) + ": " + DecodeStatusName(ds) +
                                  " in a segment that is not the last");
      }
      if (ValidRecordAfter(view, pos, last_good, &later)) {
        return Status::Corruption(At(seg.path, pos) + ": " + DecodeStatusName(ds) +
                                  ", followed by a valid record at offset " +
                                  std::to_string(later));
      }
      s = CutTornTail(fs, dir, seg.path, view, pos, tail_end);
      if (!s.ok()) return s;
      result->torn_bytes_cut = tail_end - pos;
      LogWarn("wal: cut a torn tail of " + std::to_string(tail_end - pos) + " bytes from " +
              seg.path + " at offset " + std::to_string(pos) + " (" + DecodeStatusName(ds) +
              "; copy kept in " + seg.path + "." + std::to_string(pos) + kBrokenSuffix + ")");
      break;
    }
    result->tail_offset = pos;
    result->bytes_scanned += pos;
  }
  return Status::OK();
}

}  // namespace casmem::wal
