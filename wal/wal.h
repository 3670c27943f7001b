// Wal: the segmented write-ahead log with group commit.
//
// Threading contract
// - Append() may be called from any thread. Callers that need per-key
//   order (the engine) call it while holding the lock that orders those
//   writes (the shard lock); Append assigns the LSN and copies the encoded
//   record into the pending buffer under the log's own short mutex, so LSN
//   order is the order of the bytes in the log.
// - One writer thread drains the pending buffer: one write per segment
//   touched, each framed as a batch (header with count, length, checksums;
//   wal/batch.h), then (mode `always`) one fdatasync for the whole batch,
//   then it advances the acknowledged LSN and runs every waiter at or
//   below it. A record appended while an fsync runs waits for that fsync
//   and the next batch's; when that batch starts a new segment, also for
//   the fsync of the full segment (Rotate) and, if the pipeline has not
//   finished it, the preparation of the spare.
// - Acknowledged LSN ("acked"): `always` = durable (fdatasync returned);
//   `batch` and `never` = written to the kernel (survives a process crash).
// - A failed write or fsync is sticky: health() turns StorageFailed, every
//   waiter above the acked LSN and every later Append fails, and the fsync
//   is never retried (after a failed fsync the page cache may have dropped
//   the dirty pages, so a later "success" would be a lie).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "wal/file_ops.h"
#include "wal/log_reader.h"
#include "wal/record.h"
#include "wal/segment.h"

namespace casmem::wal {

enum class FsyncMode { kAlways, kBatch, kNever };
const char* FsyncModeName(FsyncMode m);
bool ParseFsyncMode(std::string_view s, FsyncMode* out);

struct WalOptions {
  std::string dir;  // DATA/wal
  FileSystem* fs = PosixFileSystem();
  uint64_t segment_bytes = kDefaultSegmentBytes;
  FsyncMode fsync = FsyncMode::kAlways;
  std::chrono::microseconds fsync_interval{10'000};  // `batch` mode
  // Back-pressure: while this many encoded bytes wait for the writer (the
  // disk is slower than the appends, or stalled), Append refuses with
  // Busy instead of letting memory grow. 0 = no limit.
  uint64_t max_pending_bytes = 64ULL << 20;
};

// Counters for benchmarks and /metrics. Monotonic; read with relaxed loads.
struct WalStats {
  std::atomic<uint64_t> records_written{0};
  std::atomic<uint64_t> bytes_written{0};
  std::atomic<uint64_t> fsyncs{0};
  std::atomic<uint64_t> fsync_nanos{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> segments_created{0};
  std::atomic<uint64_t> appends_refused_busy{0};
};

// Observer hooks, called on the writer thread (no locks held). For metrics.
struct WalObserver {
  std::function<void(uint64_t records, uint64_t bytes)> on_batch;
  std::function<void(std::chrono::nanoseconds)> on_fsync;
};

using DurableCallback = std::function<void(const Status&)>;

class Wal {
 public:
  // Opens (creating if needed) the log in options.dir; replays every record
  // with lsn > after_lsn through `replay`. Leaves the log ready to append.
  static Status Open(const WalOptions& options, uint64_t after_lsn, const ReplayFn& replay,
                     std::unique_ptr<Wal>* out, ScanResult* scan = nullptr);
  ~Wal();  // Close()
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Assigns the next LSN to `r` (r->lsn) and queues its encoding. Returns
  // the LSN, or 0 with *why set: StorageFailed or Shutdown (see health()),
  // or Busy when max_pending_bytes wait for the writer (nothing queued;
  // the log stays healthy, a later Append may succeed).
  uint64_t Append(Record* r, Status* why = nullptr);
  // As above; `fill(r)` runs under the log's mutex once r->lsn is assigned
  // and before r is encoded, to set what depends on the lsn (a remembered
  // answer naming its revision). It must be quick and must not call the log.
  using FillFn = std::function<void(Record* r)>;
  uint64_t Append(Record* r, Status* why, const FillFn& fill);

  // Runs `cb` once `lsn` is acknowledged (OK) or can never be (error).
  // Inline when already decided, else on the writer thread: `cb` must not
  // block. lsn 0 is always acknowledged.
  void WhenAcked(uint64_t lsn, DurableCallback cb);
  // Leader/follower group commit, called by an I/O thread that has
  // responses waiting: true when this thread wrote and synced the pending
  // batch itself. It may block this thread for one fsync and runs the
  // acknowledged waiters on this thread. STUB on the h9-net branch
  // (always false: the writer thread commits); the wal helper's branch
  // brings the real one.
  bool LeadCommit() { return false; }
  // Blocking form of WhenAcked, for tools and tests.
  Status WaitAcked(uint64_t lsn);
  // Makes everything appended so far durable (fdatasync) in every mode and
  // waits for it. Used by snapshots and clean shutdown.
  Status SyncAll();

  // Deletes the segments whose every record has lsn <= `lsn` (covered by a
  // snapshot). Never the segment being written.
  Status RemoveSegmentsThrough(uint64_t lsn);

  // Flushes and syncs what is pending, stops the threads; later Appends
  // fail. Idempotent.
  void Close();

  Status health() const;
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  uint64_t last_lsn() const;
  uint64_t acked_lsn() const { return acked_lsn_.load(std::memory_order_acquire); }
  uint64_t durable_lsn() const { return durable_lsn_.load(std::memory_order_acquire); }
  uint64_t bytes_appended() const { return bytes_appended_.load(std::memory_order_relaxed); }
  FsyncMode mode() const { return options_.fsync; }
  const WalStats& stats() const { return stats_; }
  void set_observer(WalObserver obs) { observer_ = std::move(obs); }
  size_t segment_count() const;

 private:
  Wal(const WalOptions& options, const ScanResult& scan, std::unique_ptr<File> current);
  void WriterLoop();
  Status WriteBatch(const std::string& batch, uint64_t* records);
  Status Rotate(uint64_t first_lsn);
  void Fail(const Status& s);
  void Acknowledge(uint64_t lsn);
  void FireWaiters();

  const WalOptions options_;
  WalStats stats_;
  WalObserver observer_;

  // Append side, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable writer_cv_;   // writer waits for work
  std::condition_variable durable_cv_;  // SyncAll waits for durable_lsn_
  std::string pending_;                 // encoded records not yet taken by the writer
  uint64_t last_lsn_ = 0;               // last LSN handed out
  uint64_t sync_target_ = 0;            // SyncAll wants durable >= this
  bool writer_waiting_ = false;
  bool closing_ = false;
  bool closed_ = false;
  Status failure_;

  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> acked_lsn_{0};
  std::atomic<uint64_t> durable_lsn_{0};
  std::atomic<uint64_t> bytes_appended_{0};

  // Writer-thread state (only the writer touches these after Open).
  std::unique_ptr<File> current_;
  uint64_t current_seq_ = 0;
  uint64_t offset_ = 0;        // next write position in current_
  uint64_t written_lsn_ = 0;   // last LSN handed to the kernel
  std::string frame_;          // batch header + records of one write, reused
  std::unique_ptr<SegmentPipeline> pipeline_;

  mutable std::mutex segments_mu_;
  std::vector<SegmentInfo> segments_;  // in log order; back() is current_

  // Waiters, guarded by waiters_mu_: min-heap on lsn.
  struct Waiter {
    uint64_t lsn;
    uint64_t seq;
    DurableCallback cb;
    bool operator>(const Waiter& o) const { return lsn != o.lsn ? lsn > o.lsn : seq > o.seq; }
  };
  std::mutex waiters_mu_;
  std::priority_queue<Waiter, std::vector<Waiter>, std::greater<Waiter>> waiters_;
  uint64_t waiter_seq_ = 0;
  bool waiters_closed_ = false;

  std::thread writer_;
};

}  // namespace casmem::wal
