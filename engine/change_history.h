// ChangeHistory: the store's change history (memory-api.md §8), the
// source of watches, the `changes` long-poll and resumes by revision.
//
// A change is one key's new state in one log record: a put or tombstone
// record is one change, a commit record (a transaction) one change per
// op, all under the record's one revision (its lsn); a commit with no op
// (a remembered Idempotency-Key answer alone) is none. So the history IS
// the log: recent records are kept in memory, as the encoded bytes of the
// batches the log committed (Append, called by the log's committing
// thread before it acknowledges them, so every acknowledged record is in
// the history the moment its write can be answered); older ones are read
// back from the log segments still on disk (--watch-history keeps them
// from being deleted by snapshots), so a client resumes across restarts.
//
// Only acknowledged records ever enter: an event is never revealed before
// its write is (the visibility invariant of memory-api.md §2).
//
// Thread safety: Append from one thread at a time (the log's committing
// thread); everything else from any thread. Read never blocks Append for
// longer than a pointer copy: memory chunks are immutable once appended
// and shared (shared_ptr) with the pages that read them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "wal/file_ops.h"
#include "wal/log_reader.h"

namespace casmem {

enum class ChangeKind : uint8_t {
  kPut,     // a POST, PATCH or transaction set/patch
  kDelete,  // a DELETE or transaction delete
  kExpire,  // the key's TTL ran out (the sweep logged it)
};
const char* ChangeKindName(ChangeKind k);  // "put", "delete", "expire"

// One change. The views point into bytes kept alive by the Page (or the
// dispatch) that produced the event.
struct ChangeEvent {
  ChangeKind kind = ChangeKind::kPut;
  uint64_t revision = 0;  // the record's lsn; one transaction's changes share it
  std::string_view workspace;
  std::string_view key;
  std::string_view value;   // kPut: compact JSON; else empty
  std::string_view writer;  // Casmem-Writer of the write; empty = none (always for kExpire)
  uint64_t version = 0;     // kPut: the new version; else the tombstone's (the last version)
  int64_t updated_at_ms = 0;
  int64_t expires_at_ms = 0;  // kPut with a TTL; else 0
};

// Decodes the changes of one log record (wal::DecodeRecord's output) in
// op order, appending to *out. Returns how many. Views point into the
// record's buffer.
size_t ChangesOfRecord(const wal::Record& r, std::vector<ChangeEvent>* out);

// Which changes a reader wants.
struct ChangeFilter {
  std::string workspace;   // "" = every workspace (the feed's own dispatch; no name is empty)
  std::string prefix;      // keys starting with it ("" = all)
  bool exact_key = false;  // only the key equal to `prefix` (a blocking read)
  bool Matches(const ChangeEvent& e) const;
};

struct HistoryOptions {
  wal::FileSystem* fs = wal::PosixFileSystem();
  // Bytes of committed records kept in memory (the newest); older ones
  // are read from the segments. At least one batch is always kept.
  uint64_t memory_bytes = 16ULL << 20;
  // The log's segments on disk, oldest first (wal::Wal::segments()).
  // Empty function: no disk history (a memory-only store).
  std::function<std::vector<wal::SegmentInfo>()> segments;
};

class ChangeHistory {
 public:
  explicit ChangeHistory(HistoryOptions options);
  ~ChangeHistory();
  ChangeHistory(const ChangeHistory&) = delete;
  ChangeHistory& operator=(const ChangeHistory&) = delete;

  // At open, after recovery: every record up to `head` is on disk (or, for
  // a memory-only store, gone: compact_revision() is then `head`).
  void Reset(uint64_t head);

  // The log committed `records` (encoded records back to back, lsns
  // first_lsn..last_lsn, contiguous and following head()). Called by the
  // committing thread before acknowledging them; copies the bytes, trims
  // the memory to options.memory_bytes, advances head() and runs the
  // listener. Cost: one copy of the batch.
  void Append(std::string_view records, uint64_t first_lsn, uint64_t last_lsn);

  // Called (on the appending thread, no lock held) after each Append with
  // the new head. Must be quick: the change feed only wakes its thread.
  void set_listener(std::function<void(uint64_t head)> listener);

  // The newest revision in the history: every record <= it is acknowledged.
  uint64_t head() const;
  // Changes with revision > compact_revision() can be read; a `since`
  // below it is compacted (memory-api.md §8).
  uint64_t compact_revision() const;

  struct Query {
    ChangeFilter filter;
    uint64_t since = 0;             // changes with revision > since
    uint64_t until = UINT64_MAX;    // ... and <= until (capped at head())
    size_t max_events = 1000;       // stop before a record that would pass this
    size_t max_bytes = 4ULL << 20;  // ... or these bytes of matching values
    // Records looked at (matching or not) before returning a page that
    // stops short: bounds the work of one call on a busy log.
    size_t max_scan = 100'000;
  };
  struct Page {
    std::vector<ChangeEvent> events;  // matching changes, revision order, whole records only
    // Every change <= next_since was looked at: pass it as the next
    // `since`. >= since; == until (capped) when the scan reached it.
    uint64_t next_since = 0;
    bool compacted = false;           // since < compact_revision(): nothing was read
    uint64_t compact_revision = 0;    // set with compacted
    std::vector<std::shared_ptr<const std::string>> keep;  // what the views point into
  };
  // Reads the changes after q.since that match q.filter, from memory
  // and, for what memory no longer holds, from the segments on disk. A
  // record is never split: the first matching record is returned whole
  // even if it alone passes the limits. Errors: a segment unreadable or
  // damaged (Corruption / IOError naming the file).
  Status Read(const Query& q, Page* page) const;

 private:
  struct Chunk;
  struct Scan;
  struct SegmentFile;
  // The chunk holding `lsn`, or null; *mem_first: the first lsn in memory
  // (head + 1 when memory is empty).
  std::shared_ptr<const Chunk> ChunkHolding(uint64_t lsn, uint64_t* mem_first) const;
  // Scans records from scan->page->next_since + 1 through `to` from the
  // segments; sets page->compacted when they are gone.
  Status ReadDisk(uint64_t to, Scan* scan) const;
  static Status LoadSegment(wal::FileSystem* fs, const std::string& path,
                            std::shared_ptr<const SegmentFile>* out);
  std::shared_ptr<const SegmentFile> CachedSegment(const std::string& path,
                                                   const std::vector<wal::SegmentInfo>& segs) const;
  void CacheSegment(std::shared_ptr<const SegmentFile> file) const;

  const HistoryOptions options_;
  mutable std::mutex mu_;  // chunks_, memory_used_, head_, reset_head_
  std::deque<std::shared_ptr<const Chunk>> chunks_;
  uint64_t memory_used_ = 0;
  uint64_t head_ = 0;
  uint64_t reset_head_ = 0;
  // Held while the listener runs: after set_listener returns, the old
  // listener is never called again.
  std::mutex listener_mu_;
  std::function<void(uint64_t)> listener_;
  // Segments read back from disk, shared by the readers that resume from
  // them (after a restart, every watcher reads the same few files).
  struct SegmentCache;
  std::unique_ptr<SegmentCache> cache_;
};

}  // namespace casmem
