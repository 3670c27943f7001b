// SegmentReader: reads committed records back from log segments for the
// change history (engine/change_history.h), without reading whole files.
//
// A segment is indexed once, sparsely: one pass over its batch headers
// (in 1 MiB reads, the bodies not decoded) keeps (first lsn, offset) of
// a batch about every 64 KiB. A read then starts at the mark before the
// lsn wanted and reads forward only what the page needs, in positioned
// reads, each batch verified whole (checksums) before its records are
// used. A segment still being written is indexed up to the acknowledged
// revision it is asked for, and the index is extended from where it ended
// when a later revision is wanted. Indexes of recently read segments are
// cached (small: about 24 bytes per 64 KiB of log), so a client that
// alternates resume points across segments costs one index pass per
// segment, not one whole-file read per request.
//
// Format-1 segments (no batch headers; only logs written before issue 7)
// are read whole and kept in the cache like an index; read whole again
// only when a later revision than they held is wanted (a log opened on
// such a tail appends to it).
//
// Thread safety: any thread; the cache has its own mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "wal/file_ops.h"
#include "wal/record.h"

namespace casmem {

class SegmentReader {
 public:
  explicit SegmentReader(wal::FileSystem* fs) : fs_(fs) {}
  SegmentReader(const SegmentReader&) = delete;
  SegmentReader& operator=(const SegmentReader&) = delete;

  // Called for each record, in lsn order, from lsn `from` on, with the
  // buffer its views point into. Return false to stop.
  using RecordFn = std::function<bool(const wal::Record& r, const std::shared_ptr<const std::string>& keep)>;

  // Reads segment `path` (which holds lsn `from`) from record `from`
  // through at most `to` (acknowledged: every batch up to it is written
  // whole), calling `fn` per record. *last: the last lsn handed to fn (or
  // from - 1). Errors: the file cannot be read (IOError / NotFound), or
  // its bytes are damaged or out of order (Corruption naming the file and
  // offset), bad bytes where records up to `to` should be included. A
  // segment whose data ends cleanly (zeros, or the end of the file) before
  // `to` is not an error: *last says where it ended (the next segment
  // holds the rest). Bad bytes past what one call needed are looked at
  // again by a later call that needs them (the segment being written may
  // have shown a batch half written).
  Status Read(const std::string& path, uint64_t from, uint64_t to, const RecordFn& fn,
              uint64_t* last);

  // Drops cached indexes of files not in `paths` (deleted segments).
  void Retain(const std::vector<std::string>& paths);

 private:
  struct Index;
  // The cached index of `path` covering `to` (extended or built as needed).
  Status IndexOf(const std::string& path, uint64_t to, std::shared_ptr<const Index>* out);
  Status Extend(const std::string& path, const std::shared_ptr<const Index>& from, uint64_t to,
                std::shared_ptr<const Index>* out);

  wal::FileSystem* const fs_;
  std::mutex mu_;
  std::vector<std::shared_ptr<const Index>> cache_;  // most recent last
};

}  // namespace casmem
