// LogCheck: reads a stopped server's data directory the way recovery
// would (engine/store_lifecycle.cc, wal::ScanLog) but changes nothing, and
// says what it found: every snapshot and segment verified (checksums, lsn
// order, segment continuity), the key states recovery would rebuild, a
// torn tail of the last segment (what casmemd cuts on its next start),
// and the first damage, which is where `repair` cuts.
//
// The state recovery starts from is the newest snapshot that verifies
// (casmemd falls back the same way); `base_lsn` is its lsn (0 without
// one). Segments wholly covered by it ("stale", which recovery does not
// read) are verified too: damage there is reported, and repair removes
// them rather than cutting the log recovery needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/offline/key_table.h"

namespace casmem::offline {

struct SnapshotCheck {
  std::string path;
  uint64_t start_lsn = 0;  // from the name (the header when it verifies)
  uint64_t bytes = 0;
  uint64_t records = 0;
  std::string damage;  // empty: verified
  bool used = false;   // the one recovery starts from
};

struct SegmentCheck {
  std::string path;
  uint64_t seq = 0;
  uint64_t name_first_lsn = 0;
  uint64_t bytes = 0;   // file size (preallocated segments are mostly zeros)
  uint32_t format = 0;  // 0 when the header is unreadable
  bool header_missing = false;
  uint64_t batches = 0, records = 0;
  uint64_t first_lsn = 0, last_lsn = 0;  // of its valid records; 0 when none
  uint64_t data_bytes = 0;               // header and whole batches
  uint64_t data_end = 0;                 // end of the last non-zero byte
  bool stale = false;                    // wholly covered by the snapshot in use
  // Damage found in this file: offset and why (empty: none).
  std::string damage;
  uint64_t damage_offset = 0;
  bool torn_tail = false;  // the damage is a torn tail (last segment only)
  // The first segment recovery reads, its first record at or before the
  // snapshot's lsn + 1 but after the lsn its name says, which is at or
  // below the snapshot's: what casmemd wrote into an empty segment an
  // older repair left. Repair renames it (its records were acknowledged).
  bool misnamed = false;
};

// Where the log must be cut so that recovery opens it: segment `segment`
// at `offset` (0: the whole segment goes), every later segment removed.
struct CutPoint {
  size_t segment = 0;
  uint64_t offset = 0;
  std::string why;  // "path offset N: reason"
};

struct LogCheck {
  std::string data_dir;
  std::vector<SnapshotCheck> snapshots;  // newest first
  uint64_t base_lsn = 0;
  std::vector<SegmentCheck> segments;  // in log order
  size_t first_needed = 0;             // first segment recovery reads
  std::optional<CutPoint> cut;         // first damage in the log recovery reads
  // Damage in stale segments: repair removes segments 0..this one.
  std::optional<size_t> stale_remove_through;
  std::vector<std::string> damage;  // every damage found, "path offset N: why"
  bool torn_tail = false;              // the last segment ends in a torn write
  // A misnamed segment (SegmentCheck::misnamed): repair renames it to
  // the name its records say, cutting nothing.
  std::optional<size_t> rename;
  // Damage repair cannot fix by cutting (a log gap after the snapshot).
  std::string fatal;
  // The lsn recovery would reach (base_lsn or the last record before the
  // cut / torn tail), and what lies beyond the cut.
  uint64_t last_lsn = 0;
  // Records past the snapshot that verify beyond the damage: in later
  // segments, and in the damaged segments themselves from the first intact
  // batch after their damage (a floor: that read stops at further damage).
  uint64_t lost_records = 0;
  uint64_t lost_last_lsn = 0;
  KeyTable keys;  // as recovery would rebuild them (up to the cut)

  bool damaged() const { return !damage.empty(); }
};

// Reads DATA/snap and DATA/wal. An error only when a file cannot be read
// at all (damage is in *out).
Status CheckLog(const std::string& data_dir, LogCheck* out);

}  // namespace casmem::offline
