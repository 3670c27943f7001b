// Recovery-side reading of the log: lists the segments, checks their
// headers and LSN continuity, hands every record after a given LSN to a
// replay callback, and classifies damage. A damaged tail of the LAST
// segment with no valid record after it is a torn write: its bytes are
// copied to "<segment>.<offset>.broken", zeroed in place and synced, once.
// Any other damage is an error naming file and offset; nothing is changed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "wal/file_ops.h"
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
  uint64_t tail_offset = 0;           // where the next record goes in the last segment
  uint64_t records_replayed = 0;
  uint64_t bytes_scanned = 0;
  uint64_t torn_bytes_cut = 0;
};

using ReplayFn = std::function<void(const Record&)>;

// Scans DATA/wal (`dir`). Records with lsn <= after_lsn (covered by a
// snapshot) are skipped; the first record after it must be after_lsn + 1.
Status ScanLog(FileSystem* fs, const std::string& dir, uint64_t after_lsn,
               const ReplayFn& replay, ScanResult* result);

}  // namespace casmem::wal
