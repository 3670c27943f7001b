// Snapshot files: a checksummed image of every live entry and retained
// tombstone as of a log position. Written to a temporary name, fsynced,
// renamed, directory fsynced; read back with the checksum verified before
// a single record is applied. Format in wal/format.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "wal/file_ops.h"
#include "wal/record.h"

namespace casmem {

struct SnapshotFile {
  uint64_t start_lsn = 0;  // every record <= start_lsn is reflected
  std::string path;
};

// "snapshot-<start_lsn:016x>.snap"
std::string SnapshotName(uint64_t start_lsn);
// Snapshots in `dir`, newest first.
Status ListSnapshots(wal::FileSystem* fs, const std::string& dir, std::vector<SnapshotFile>* out);

class SnapshotWriter {
 public:
  // Creates "<final name>.tmp" in `dir`.
  static Status Create(wal::FileSystem* fs, const std::string& dir, uint64_t start_lsn,
                       std::unique_ptr<SnapshotWriter>* out);
  ~SnapshotWriter();  // removes the temporary file unless committed

  // Appends already-encoded records (wal::AppendRecord); `count` of them.
  Status Add(std::string_view records, uint64_t count);
  // Trailer, fsync, rename to the final name, directory fsync.
  Status Commit();
  uint64_t bytes() const { return offset_; }

 private:
  SnapshotWriter() = default;
  Status Write(std::string_view bytes);

  wal::FileSystem* fs_ = nullptr;
  std::string dir_, tmp_path_, final_path_;
  std::unique_ptr<wal::File> file_;
  void* hash_state_ = nullptr;  // XXH3_state_t
  uint64_t offset_ = 0;
  uint64_t count_ = 0;
  bool committed_ = false;
};

// Verifies the whole file, then calls `apply` for each record in order.
Status ReadSnapshot(wal::FileSystem* fs, const std::string& path,
                    const std::function<void(const wal::Record&)>& apply, uint64_t* start_lsn,
                    uint64_t* records);

}  // namespace casmem
