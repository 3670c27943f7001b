// CheckLog: snapshots newest first (the first that verifies is recovery's
// base), then every segment with wal::ReadSegment (the reader recovery
// uses), with recovery's rules for lsn continuity and torn tails
// (wal/log_reader.cc ScanLog), but nothing cut and nothing written.
#include "tools/offline/log_check.h"

#include <algorithm>
#include <filesystem>

#include "engine/snapshot.h"
#include "tools/offline/data_dir.h"
#include "wal/log_reader.h"
#include "wal/segment.h"

namespace casmem::offline {
namespace {

std::string At(const std::string& path, uint64_t offset) {
  return path + " offset " + std::to_string(offset);
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(n);
}

Status CheckSnapshots(wal::FileSystem* fs, LogCheck* out) {
  const std::string dir = wal::JoinPath(out->data_dir, "snap");
  if (!fs->Exists(dir)) return Status::OK();
  std::vector<SnapshotFile> files;
  Status s = ListSnapshots(fs, dir, &files);
  if (!s.ok()) return s;
  bool found = false;
  for (const SnapshotFile& f : files) {
    SnapshotCheck c;
    c.path = f.path;
    c.start_lsn = f.start_lsn;
    c.bytes = FileSize(f.path);
    KeyTable table;
    uint64_t start = 0;
    s = ReadSnapshot(
        fs, f.path, [&](const wal::Record& r) { if (!found) table.Apply(r); }, &start, &c.records);
    if (s.ok()) {
      c.start_lsn = start;
      if (!found) {
        found = true;
        c.used = true;
        out->base_lsn = start;
        out->keys = std::move(table);
      }
    } else if (s.IsCorruption()) {
      c.damage = s.message();
      out->damage.push_back(c.damage);
    } else {
      return s;
    }
    out->snapshots.push_back(std::move(c));
  }
  return Status::OK();
}

// casmemd appends to the last segment (when it has the current format)
// with lsn recovery's last + 1, and its next start refuses a segment whose
// first record is not the lsn its name says, or a record that does not
// follow the one before. So the last segment must end just before that
// lsn: its last record, or, with none, its name. An empty segment named at
// or below the snapshot's lsn (what a cut can leave) opens once and then
// never again after a write. Damage then, cut at the segment's end (at 0
// when empty: it goes whole) so that repair moves it out.
// Records past the snapshot (lsn > base) that verify beyond damage at
// `from` in segment bytes `buf` (format `format`): what a cut there drops
// from this segment. Read as a segment of the batches from the first
// intact one after the damage (the header of a fresh segment of `seq`
// before them); it stops at the next damage, so a count is a floor.
void CountIntactBeyond(const std::string& buf, uint32_t format, uint64_t seq, uint64_t from,
                       uint64_t base, LogCheck* out) {
  if (format == 0) format = wal::kSegmentFormat;  // an unreadable header: today's format
  const wal::LaterData later = wal::FindValidDataAfter(buf, format, from, base);
  if (!later.found) return;
  std::string rest = wal::EncodeSegmentHeader(seq, format);
  rest.append(buf, later.offset, std::string::npos);
  wal::SegmentEnd end;
  (void)wal::ReadSegment(rest, "", [&](const wal::BatchAt& b) {
    for (const wal::RecordAt& r : b.records) {
      if (r.record.lsn <= base) continue;
      ++out->lost_records;
      out->lost_last_lsn = std::max(out->lost_last_lsn, r.record.lsn);
    }
    return Status::OK();
  }, &end);
}

void CheckTail(LogCheck* out) {
  if (out->cut || !out->fatal.empty() || out->segments.empty()) return;
  const size_t i = out->segments.size() - 1;
  SegmentCheck& c = out->segments[i];
  if (!c.header_missing && c.format != wal::kSegmentFormat) return;  // casmemd starts a new one
  const uint64_t tail_next = c.last_lsn ? c.last_lsn + 1 : c.name_first_lsn;
  if (tail_next == out->last_lsn + 1) return;
  const uint64_t offset = c.last_lsn ? c.data_bytes : 0;
  const std::string why =
      (c.last_lsn ? "the last segment ends at lsn " + std::to_string(c.last_lsn)
                  : "the last segment has no records and its name says lsn " +
                        std::to_string(c.name_first_lsn)) +
      " but recovery reaches lsn " + std::to_string(out->last_lsn) + ": casmemd would append lsn " +
      std::to_string(out->last_lsn + 1) + " there and refuse it on its next start";
  const std::string where = At(c.path, offset) + ": " + why;
  if (c.damage.empty()) {  // a torn tail keeps its own line
    c.damage = why;
    c.damage_offset = offset;
  }
  out->damage.push_back(where);
  out->cut = CutPoint{i, offset, where};
}

}  // namespace

Status CheckLog(const std::string& data_dir, LogCheck* out) {
  *out = LogCheck{};
  out->data_dir = data_dir;
  wal::FileSystem* fs = wal::PosixFileSystem();
  Status s = CheckSnapshots(fs, out);
  if (!s.ok()) return s;
  out->last_lsn = out->base_lsn;
  const uint64_t base = out->base_lsn;

  const std::string dir = wal::JoinPath(data_dir, "wal");
  std::vector<std::string> names;
  if (fs->Exists(dir)) {
    s = fs->List(dir, &names);
    if (!s.ok()) return s;
  }
  std::sort(names.begin(), names.end());
  auto& segs = out->segments;
  for (const std::string& name : names) {
    if (auto parsed = wal::ParseSegmentName(name)) {
      SegmentCheck c;
      c.path = wal::JoinPath(dir, name);
      c.seq = parsed->seq;
      c.name_first_lsn = parsed->first_lsn;
      segs.push_back(std::move(c));
    }
  }
  // As ScanLog: segments before `first` hold only lsns the snapshot covers.
  size_t first = 0;
  while (first + 1 < segs.size() && segs[first + 1].name_first_lsn <= base + 1) ++first;
  out->first_needed = first;
  for (size_t i = 0; i < first; ++i) segs[i].stale = true;
  if (!segs.empty() && segs[first].name_first_lsn > base + 1) {
    out->fatal = "log gap: the state is recovered up to lsn " + std::to_string(base) +
                 " (" + (base ? "snapshot" : "no snapshot") + ") but the oldest segment " +
                 segs[first].path + " starts at lsn " + std::to_string(segs[first].name_first_lsn);
    out->damage.push_back(out->fatal);
  }

  // A damage found in segment i at `offset` (0: the file as a whole).
  auto damaged = [&](size_t i, uint64_t offset, const std::string& why) {
    SegmentCheck& c = segs[i];
    if (c.damage.empty()) {
      c.damage = why;
      c.damage_offset = offset;
    }
    const std::string where = At(c.path, offset) + ": " + why;
    out->damage.push_back(where);
    if (i < first) {
      out->stale_remove_through = i;
    } else if (!out->cut) {
      out->cut = CutPoint{i, offset, where};
    }
  };

  uint64_t expected = 0;  // next lsn (0: unknown)
  std::string buf;
  for (size_t i = 0; i < segs.size(); ++i) {
    SegmentCheck& c = segs[i];
    const bool last = i + 1 == segs.size();
    if (i > 0 && c.seq != segs[i - 1].seq + 1) {
      const std::string why = "missing log segment between " + segs[i - 1].path + " and " + c.path;
      out->damage.push_back(why);
      if (i <= first) {
        out->stale_remove_through = i - 1;
      } else if (!out->cut) {
        out->cut = CutPoint{i, 0, why};
      }
      expected = 0;
    }
    s = ReadFile(c.path, &buf);
    if (!s.ok()) return s;
    c.bytes = buf.size();
    // Records recovery would apply: those before the cut, after the base.
    const bool replaying = !out->cut.has_value();
    bool first_batch = true;
    uint64_t bad_offset = 0;
    wal::SegmentEnd end;
    s = wal::ReadSegment(
        buf, c.path,
        [&](const wal::BatchAt& b) {
          const uint64_t lsn = b.header.first_lsn;
          if (first_batch && lsn != c.name_first_lsn && i == first && !out->cut &&
              c.name_first_lsn <= base && c.name_first_lsn < lsn && lsn <= base + 1) {
            // Acknowledged writes in a segment named below the snapshot
            // (a snapshot casmemd took later may cover some of them):
            // renaming it keeps them, where a cut would drop them.
            c.misnamed = true;
            out->rename = i;
            const std::string why = "first record has lsn " + std::to_string(lsn) +
                                    " but the segment name says " +
                                    std::to_string(c.name_first_lsn) +
                                    "; its records reach the snapshot: rename it";
            if (c.damage.empty()) {
              c.damage = why;
              c.damage_offset = b.offset;
            }
            out->damage.push_back(At(c.path, b.offset) + ": " + why);
            expected = lsn;
          } else if (first_batch && lsn != c.name_first_lsn) {
            bad_offset = b.offset;
            return Status::Corruption("first record has lsn " + std::to_string(lsn) +
                                      " but the segment name says " +
                                      std::to_string(c.name_first_lsn));
          }
          if (expected != 0 && lsn != expected) {
            bad_offset = b.offset;
            return Status::Corruption("record lsn " + std::to_string(lsn) + " where " +
                                      std::to_string(expected) + " was expected");
          }
          first_batch = false;
          expected = lsn + b.header.count;
          ++c.batches;
          c.records += b.records.size();
          if (c.first_lsn == 0) c.first_lsn = lsn;
          c.last_lsn = expected - 1;
          c.data_bytes = b.offset + b.size;
          for (const wal::RecordAt& r : b.records) {
            if (r.record.lsn <= base) continue;
            if (replaying && !out->cut) {
              out->keys.Apply(r.record);
              out->last_lsn = r.record.lsn;
            } else {
              ++out->lost_records;
              out->lost_last_lsn = std::max(out->lost_last_lsn, r.record.lsn);
            }
          }
          return Status::OK();
        },
        &end);
    c.format = end.format;
    c.header_missing = end.header_missing;
    c.data_end = end.data_end;
    if (c.data_bytes == 0) c.data_bytes = wal::kSegmentHeaderSize;
    if (!s.ok()) {
      if (bad_offset == 0) c.format = 0;  // the header itself
      // A header's message names the file (and offset 0) already.
      std::string why = s.message();
      for (const std::string& prefix : {c.path + " offset 0: ", c.path + ": "}) {
        if (why.rfind(prefix, 0) == 0) {
          why = why.substr(prefix.size());
          break;
        }
      }
      damaged(i, bad_offset, why);
      if (bad_offset > 0) CountIntactBeyond(buf, end.format, c.seq, bad_offset, base, out);
      expected = 0;
      continue;
    }
    if (!end.header_missing && end.seq != c.seq) {
      damaged(i, 0, "header says segment " + std::to_string(end.seq));
      expected = 0;
      continue;
    }
    if (end.header_missing && !last) {
      damaged(i, 0, "segment header is all zeros in a segment that is not the last");
      expected = 0;
      continue;
    }
    if (end.damage.empty()) continue;
    if (!last) {
      damaged(i, end.offset, end.damage + " in a segment that is not the last");
      CountIntactBeyond(buf, end.format, c.seq, end.offset, base, out);
      expected = 0;
      continue;
    }
    // The last segment: a torn write or damage, decided as ScanLog does.
    const uint64_t last_good = expected ? expected - 1 : c.name_first_lsn - 1;
    const wal::LaterData later = wal::FindValidDataAfter(buf, end.format, end.offset, last_good);
    const bool torn = !later.found ||
                      (end.format != wal::kSegmentFormatV1 && later.max_synced_lsn <= last_good);
    if (torn) {
      c.torn_tail = true;
      c.damage = end.damage;
      c.damage_offset = end.offset;
      out->torn_tail = true;
    } else {
      damaged(i, end.offset,
              end.damage + ", followed by a valid " +
                  (end.format == wal::kSegmentFormatV1 ? "record" : "batch") + " at offset " +
                  std::to_string(later.offset));
      CountIntactBeyond(buf, end.format, c.seq, end.offset, base, out);
    }
  }
  CheckTail(out);
  return Status::OK();
}

}  // namespace casmem::offline
