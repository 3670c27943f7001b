// Reading the log: one segment at a time (ReadSegment, shared by recovery
// and `casmem dump --log`) and the whole log for recovery (ScanLog), which
// lists the segments, checks their headers and LSN continuity, hands
// every record after a given LSN to a replay callback, and classifies
// damage. Damage in the LAST segment that no later durable data follows
// is a torn write: ScanLog has it cut (wal/repair.h). Any other damage is
// an error naming file and offset; nothing is changed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "wal/batch.h"
#include "wal/file_ops.h"
#include "wal/format.h"
#include "wal/record.h"

namespace casmem::wal {

struct SegmentInfo {
  uint64_t seq = 0;
  uint64_t first_lsn = 0;  // lsn of its first record (from its name)
  std::string path;
};

struct ScanResult {
  std::vector<SegmentInfo> segments;  // in log order
  uint64_t last_lsn = 0;              // last valid record, or after_lsn if none later
  uint64_t tail_offset = 0;           // where the next batch goes in the last segment
  uint32_t tail_format = kSegmentFormat;  // format of the last segment
  uint64_t records_replayed = 0;
  uint64_t bytes_scanned = 0;
  uint64_t torn_bytes_cut = 0;
};

using ReplayFn = std::function<void(const Record&)>;

// Scans DATA/wal (`dir`). Records with lsn <= after_lsn (covered by a
// snapshot) are skipped; the first record after it must be after_lsn + 1.
// Every batch is verified whole before any of its records is replayed.
Status ScanLog(FileSystem* fs, const std::string& dir, uint64_t after_lsn,
               const ReplayFn& replay, ScanResult* result);

// ---- One segment -----------------------------------------------------

// A verified batch. In a format-1 segment every record is a batch of one
// with no header (header.count 1, header.synced_lsn 0).
struct BatchAt {
  uint64_t offset = 0;  // of the batch header (format 1: of the record)
  uint64_t size = 0;    // header and body
  BatchHeader header;
  std::vector<RecordAt> records;  // offsets relative to the segment
};

// How a segment's data ends.
struct SegmentEnd {
  uint32_t format = kSegmentFormat;
  uint64_t seq = 0;
  bool header_missing = false;  // the 32-byte header is all zeros
  uint64_t offset = 0;    // end of the last whole batch: where data ends or damage starts
  uint64_t data_end = 0;  // end of the last non-zero byte of the file
  std::string damage;     // why the bytes at `offset` are unusable; empty: a clean end
};

using BatchFn = std::function<Status(const BatchAt&)>;

// Decodes the segment `bytes` (the whole file) read from `path`: checks
// the header (a bad one is a Corruption; an all-zero one is reported in
// end->header_missing and the rest read as the current format), hands
// each verified batch to `fn` in order, and stops at the clean end of the
// data, at the first damage (end->damage) or at fn's first error, which
// it returns. Reads only.
Status ReadSegment(std::string_view bytes, const std::string& path, const BatchFn& fn,
                   SegmentEnd* end);

// Evidence that damage at `from` is not a torn tail: a batch (format 1: a
// record) after `from` that verifies and carries lsns above `after_lsn`.
struct LaterData {
  bool found = false;
  uint64_t offset = 0;          // of the first such batch
  uint64_t max_synced_lsn = 0;  // largest synced_lsn among all of them
};
LaterData FindValidDataAfter(std::string_view bytes, uint32_t format, uint64_t from,
                             uint64_t after_lsn);

// Reads a whole file into *out.
Status ReadWholeFile(FileSystem* fs, const std::string& path, std::string* out);

}  // namespace casmem::wal
