// Wal: the segmented write-ahead log with group commit.
//
// Threading contract
// - Append() may be called from any thread. Callers that need per-key
//   order (the engine) call it while holding the lock that orders those
//   writes (the shard lock); Append assigns the LSN and copies the encoded
//   record into the pending buffer under the log's own short mutex, so LSN
//   order is the order of the bytes in the log.
// - The pending buffer is drained one batch at a time by whoever holds
//   the in-flight batch (batch_in_flight_, guarded by mu_): the writer
//   thread, or a leader (LeadCommit) that found the log idle. The holder
//   alone touches the write-side state (current_, offset_, written_lsn_,
//   last_sync_, frame_, taken_, pipeline_, sync_avg_nanos_ writes); taking
//   and releasing the flag under mu_ hands that state over. One batch is
//   one write per segment touched, each framed as a batch (header with
//   count, length, checksums; wal/batch.h), then (mode `always`) one
//   fdatasync for the whole batch, then the holder advances the
//   acknowledged LSN and runs every waiter at or below it (CommitBatch,
//   the same code for both). A record appended while an fsync runs waits
//   for that fsync and the next batch's (the writer thread's, woken when a
//   leader finishes; a leader never syncs more than its own batch); when
//   that batch starts a new segment, also for the fsync of the full
//   segment (Rotate, always the writer thread's) and, if the pipeline has
//   not finished it, the preparation of the spare.
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
  // Leader/follower commit: LeadCommit() may write (and in mode `always`
  // sync) a batch on the calling thread instead of handing it to the
  // writer thread. Off: LeadCommit() always returns false (casmemd
  // --inline-commit off), every batch is the writer thread's.
  bool inline_commit = true;
  // LeadCommit() declines while the moving average of recent batch syncs
  // is above this: a slow or stalling disk must not hold the caller (an
  // I/O thread); the writer thread takes every batch until syncs are fast
  // again.
  std::chrono::microseconds inline_sync_limit{1000};
  // Called with each committed batch's records (encoded, back to back,
  // lsns first..last) on the committing thread, after they are written
  // (and, mode always, synced) and BEFORE they are acknowledged: the
  // change history (engine/change_history.h) takes them here, so that a
  // record is in it by the time its write can be answered. Must be quick.
  std::function<void(std::string_view records, uint64_t first_lsn, uint64_t last_lsn)> on_committed;
};

// Counters for benchmarks and /metrics. Monotonic; read with relaxed loads.
struct WalStats {
  std::atomic<uint64_t> records_written{0};
  std::atomic<uint64_t> bytes_written{0};
  std::atomic<uint64_t> fsyncs{0};
  std::atomic<uint64_t> fsync_nanos{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> batches_led{0};  // of `batches`: committed by a LeadCommit leader
  std::atomic<uint64_t> segments_created{0};
  std::atomic<uint64_t> appends_refused_busy{0};
};

// Observer hooks, called on the thread that commits the batch (the writer
// thread or a LeadCommit leader; no locks held, never two at once). For
// metrics.
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
  // Inline when already decided, else on the thread that commits the
  // batch (the writer thread or a LeadCommit leader): `cb` must not block.
  // lsn 0 is always acknowledged.
  void WhenAcked(uint64_t lsn, DurableCallback cb);
  // Blocking form of WhenAcked, for tools and tests.
  Status WaitAcked(uint64_t lsn);
  // Makes everything appended so far durable (fdatasync) in every mode and
  // waits for it. Used by snapshots and clean shutdown.
  Status SyncAll();

  // Leader/follower commit, for a thread that may block for one sync
  // because it has nothing else ready to run (casmemd's I/O thread posts
  // it behind the handlers that were ready). If no batch is in flight
  // (neither the writer thread nor another leader holds one) and bytes are
  // pending, the caller becomes the leader: it takes the pending bytes,
  // writes them and (mode always) syncs them itself, acknowledges them and
  // runs the waiters on this thread, then returns true. Appends that
  // arrive meanwhile are followers: they are left for the writer thread,
  // woken at the end, so a caller never syncs more than one batch.
  // Returns false at once, doing nothing, when a batch is in flight, when
  // nothing is pending, when the batch would need a new segment (rotation
  // may wait for the spare: the writer thread does it), when the log is
  // failed or closing, when options.inline_commit is off, or when the
  // recent syncs were slow (a moving average above
  // options.inline_sync_limit: a slow or stalling disk must not hold an
  // I/O thread; the writer thread takes every batch until syncs are fast
  // again). Must not run concurrently with ~Wal(). Declining, it wakes
  // the writer thread for what it leaves pending (see LeaderToCome).
  bool LeadCommit();

  // Held (on the stack) by a thread that will call this log's LeadCommit()
  // after the appends it makes meanwhile: casmemd's I/O thread, around a
  // request's handling, posts that call behind its ready handlers. Appends
  // of this thread to this log then do not wake the writer thread, which
  // would only race the coming leader for the batch (on two cores, taking
  // a core from the I/O threads to lose or to win by a hand-off). The
  // contract: a LeadCommit() of this log follows on this thread; leading
  // or declining, it leaves the writer thread awake for anything pending.
  // No effect with options.inline_commit off. Not nestable across logs.
  class LeaderToCome {
   public:
    explicit LeaderToCome(const Wal* wal);
    ~LeaderToCome();
    LeaderToCome(const LeaderToCome&) = delete;
    LeaderToCome& operator=(const LeaderToCome&) = delete;

   private:
    const Wal* previous_;
  };

  // Deletes the segments whose every record has lsn <= `lsn` (covered by a
  // snapshot), oldest first, except the newest segments whose sizes add up
  // to `keep_bytes` (the change history's, --watch-history): counting back
  // from the segment being written (its bytes so far), a segment is kept
  // while the newer ones hold less than keep_bytes. A full segment counts
  // as options.segment_bytes (one holding a larger record is bigger, so
  // this errs toward keeping). Never the segment being written. 0 keeps
  // only what `lsn` does not cover.
  Status RemoveSegmentsThrough(uint64_t lsn, uint64_t keep_bytes = 0);

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
  // The segments on disk, oldest first (the last one is being written).
  std::vector<SegmentInfo> segments() const;

 private:
  Wal(const WalOptions& options, const ScanResult& scan, std::unique_ptr<File> current);
  void WriterLoop();
  // Writes, (per mode) syncs and acknowledges taken_ (records up to
  // batch_last), or fails the log. REQUIRES: the caller holds the
  // in-flight batch, mu_ not held. `leader`: a LeadCommit leader, which
  // never does the timed sync of mode `batch` (the writer thread's).
  void CommitBatch(uint64_t batch_last, bool closing, bool sync_requested, bool leader);
  // True when the writer thread has something to do. REQUIRES mu_ held.
  bool WriterHasWork() const;
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
  bool writer_timed_wait_ = false;      // writer waits for the batch-mode sync deadline
  bool batch_in_flight_ = false;        // writer or a leader owns the write-side state
  bool closing_ = false;
  bool closed_ = false;
  Status failure_;

  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> acked_lsn_{0};
  std::atomic<uint64_t> durable_lsn_{0};
  std::atomic<uint64_t> bytes_appended_{0};

  // Write-side state: only the holder of the in-flight batch touches these
  // after Open (see the threading contract).
  std::string taken_;          // the batch taken from pending_, reused
  std::chrono::steady_clock::time_point last_sync_ = std::chrono::steady_clock::now();
  std::unique_ptr<File> current_;
  uint64_t current_seq_ = 0;
  uint64_t offset_ = 0;        // next write position in current_
  // offset_ as of the last write or rotation, for RemoveSegmentsThrough
  // (which holds no batch); relaxed, a size estimate.
  std::atomic<uint64_t> current_bytes_{0};
  uint64_t written_lsn_ = 0;   // last LSN handed to the kernel
  std::string frame_;          // batch header + records of one write, reused
  std::unique_ptr<SegmentPipeline> pipeline_;
  // Moving average of batch sync durations (LeadCommit reads it; written
  // by the batch holder).
  std::atomic<uint64_t> sync_avg_nanos_{0};

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
