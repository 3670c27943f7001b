// Wal implementation: open/recovery hand-off, the group-commit writer
// loop and leader/follower commit (one CommitBatch for both), segment
// rotation, sticky failure and the durability waiters.
#include "wal/wal.h"

#include <algorithm>

#include "wal/batch.h"
#include "wal/endian.h"
#include "wal/format.h"
#include "common/logger.h"

namespace casmem::wal {

const char* FsyncModeName(FsyncMode m) {
  switch (m) {
    case FsyncMode::kAlways: return "always";
    case FsyncMode::kBatch: return "batch";
    case FsyncMode::kNever: return "never";
  }
  return "?";
}

bool ParseFsyncMode(std::string_view s, FsyncMode* out) {
  if (s == "always") *out = FsyncMode::kAlways;
  else if (s == "batch") *out = FsyncMode::kBatch;
  else if (s == "never") *out = FsyncMode::kNever;
  else return false;
  return true;
}

namespace {
// The log whose LeadCommit this thread will call (Wal::LeaderToCome).
thread_local const Wal* t_leader_to_come = nullptr;
// frame_ keeps its buffer between batches up to this size.
constexpr size_t kKeepFrameBytes = 4 << 20;
size_t RecordSizeAt(std::string_view batch, size_t pos) {
  return EncodedSize(GetU32(batch.data() + pos + 8) - kRecordFixedPayload, 0, 0);
}
uint64_t LsnAt(std::string_view batch, size_t pos) {
  return GetU64(batch.data() + pos + kRecordHeaderSize);
}
}  // namespace

Status Wal::Open(const WalOptions& options, uint64_t after_lsn, const ReplayFn& replay,
                 std::unique_ptr<Wal>* out, ScanResult* scan_out) {
  if (options.segment_bytes < kMinSegmentBytes) {
    return Status::InvalidArgument("segment size must be at least " +
                                   std::to_string(kMinSegmentBytes) + " bytes");
  }
  FileSystem* fs = options.fs;
  Status s = fs->CreateDirs(options.dir);
  if (!s.ok()) return s;
  std::vector<std::string> names;
  s = fs->List(options.dir, &names);
  if (!s.ok()) return s;
  for (const auto& name : names) {
    if (std::string_view(name).ends_with(kSpareSegmentSuffix)) {
      s = fs->Remove(JoinPath(options.dir, name));
      if (!s.ok()) return s;
    }
  }
  ScanResult scan;
  s = ScanLog(fs, options.dir, after_lsn, replay, &scan);
  // Every record recovery read is acknowledged from here on, and the next
  // batch will say so in its synced_lsn. After a process crash the tail
  // may hold batches that were written but never synced (they live in the
  // page cache): sync it first, or a read could reveal a write that a
  // later power loss takes back. Earlier segments were synced by rotation.
  std::unique_ptr<File> tail;
  if (s.ok() && !scan.segments.empty()) {
    s = fs->Open(scan.segments.back().path, OpenMode::kReadWrite, &tail);
    if (s.ok()) s = tail->Sync();
  }
  // The directory as recovery leaves it (a segment renamed into place by a
  // rotation that crashed before its directory sync, removed spares, a
  // kept torn tail) is made durable before anything is appended to it.
  if (s.ok()) s = fs->SyncDir(options.dir);
  if (!s.ok()) return s;
  std::unique_ptr<File> current;
  if (scan.segments.empty() || scan.tail_format != kSegmentFormat) {
    // A new log, or one whose last segment has an older format: batches
    // go into a new segment (older segments stay readable).
    const uint64_t seq = scan.segments.empty() ? 1 : scan.segments.back().seq + 1;
    SegmentInfo next{seq, scan.last_lsn + 1,
                     JoinPath(options.dir, FormatSegmentName(seq, scan.last_lsn + 1))};
    s = fs->Open(next.path, OpenMode::kCreateTrunc, &current);
    if (s.ok()) s = current->Allocate(options.segment_bytes);
    if (s.ok()) s = current->WriteAt(0, EncodeSegmentHeader(next.seq));
    if (s.ok()) s = current->Sync();
    if (s.ok()) s = fs->SyncDir(options.dir);  // the new name is durable before any append
    if (!s.ok()) return s;
    scan.segments.push_back(next);
    scan.tail_offset = kSegmentHeaderSize;
    scan.tail_format = kSegmentFormat;
  } else {
    current = std::move(tail);
  }
  if (scan_out != nullptr) *scan_out = scan;
  out->reset(new Wal(options, scan, std::move(current)));
  return Status::OK();
}

Wal::Wal(const WalOptions& options, const ScanResult& scan, std::unique_ptr<File> current)
    : options_(options), current_(std::move(current)) {
  last_lsn_ = scan.last_lsn;
  acked_lsn_ = scan.last_lsn;
  durable_lsn_ = scan.last_lsn;
  written_lsn_ = scan.last_lsn;
  current_seq_ = scan.segments.back().seq;
  offset_ = scan.tail_offset;
  current_bytes_.store(offset_, std::memory_order_relaxed);
  segments_ = scan.segments;
  pipeline_ = std::make_unique<SegmentPipeline>(options_.fs, options_.dir, options_.segment_bytes);
  writer_ = std::thread([this] { WriterLoop(); });
}

Wal::~Wal() { Close(); }

Wal::LeaderToCome::LeaderToCome(const Wal* wal) : previous_(t_leader_to_come) { t_leader_to_come = wal; }
Wal::LeaderToCome::~LeaderToCome() { t_leader_to_come = previous_; }

uint64_t Wal::Append(Record* r, Status* why) { return Append(r, why, FillFn()); }

uint64_t Wal::Append(Record* r, Status* why, const FillFn& fill) {
  std::lock_guard lk(mu_);
  if (failed_.load(std::memory_order_relaxed) || closing_) {
    if (why != nullptr) *why = !failure_.ok() ? failure_ : Status::Shutdown("log is closed");
    return 0;
  }
  if (options_.max_pending_bytes != 0 && pending_.size() >= options_.max_pending_bytes) {
    stats_.appends_refused_busy.fetch_add(1, std::memory_order_relaxed);
    if (why != nullptr) {
      *why = Status::Busy("the log is " + std::to_string(pending_.size() >> 10) +
                          " KiB behind the disk; retry later");
    }
    return 0;
  }
  r->lsn = ++last_lsn_;
  if (fill) fill(r);
  const size_t before = pending_.size();
  AppendRecord(*r, &pending_);
  bytes_appended_.fetch_add(pending_.size() - before, std::memory_order_relaxed);
  // While a leader holds the batch the writer could not take this record:
  // the leader wakes it when it finishes. A leader about to come (this
  // thread's LeaderToCome) wakes it if it declines.
  if (writer_waiting_ && !batch_in_flight_ && !(options_.inline_commit && t_leader_to_come == this)) {
    writer_cv_.notify_one();
  }
  return r->lsn;
}

uint64_t Wal::last_lsn() const {
  std::lock_guard lk(mu_);
  return last_lsn_;
}

Status Wal::health() const {
  std::lock_guard lk(mu_);
  if (!failure_.ok()) return failure_;
  if (closing_) return Status::Shutdown("log is closed");
  return Status::OK();
}

size_t Wal::segment_count() const {
  std::lock_guard lk(segments_mu_);
  return segments_.size();
}

std::vector<SegmentInfo> Wal::segments() const {
  std::lock_guard lk(segments_mu_);
  return segments_;
}

bool Wal::WriterHasWork() const {
  return !pending_.empty() || closing_ ||
         (sync_target_ > durable_lsn_.load() && !failed_.load());
}

void Wal::WriterLoop() {
  std::unique_lock lk(mu_);
  for (;;) {
    // Wait for work while no leader holds the batch; in mode `batch`, also
    // for the deadline of the timed sync of what was written unsynced.
    writer_waiting_ = true;
    for (;;) {
      if (!batch_in_flight_) {
        if (WriterHasWork()) break;
        if (options_.fsync == FsyncMode::kBatch && written_lsn_ > durable_lsn_.load() &&
            !failed_.load()) {
          const auto deadline = last_sync_ + options_.fsync_interval;
          if (std::chrono::steady_clock::now() >= deadline) break;
          writer_timed_wait_ = true;
          writer_cv_.wait_until(lk, deadline);
          writer_timed_wait_ = false;
          continue;
        }
      }
      writer_cv_.wait(lk);
    }
    writer_waiting_ = false;
    batch_in_flight_ = true;
    taken_.clear();
    taken_.swap(pending_);
    const uint64_t batch_last = last_lsn_;
    const bool closing = closing_;
    const bool sync_requested = sync_target_ > durable_lsn_.load();
    lk.unlock();
    CommitBatch(batch_last, closing, sync_requested, /*leader=*/false);
    lk.lock();
    batch_in_flight_ = false;
    durable_cv_.notify_all();
    if (closing_ && pending_.empty() &&
        (failed_.load() || written_lsn_ == durable_lsn_.load())) {
      break;
    }
  }
}

bool Wal::LeadCommit() {
  if (!options_.inline_commit) return false;
  uint64_t batch_last;
  {
    std::lock_guard lk(mu_);
    if (batch_in_flight_ || pending_.empty() || closing_ || failed_.load()) return false;
    if (sync_avg_nanos_.load(std::memory_order_relaxed) >
        static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(options_.inline_sync_limit)
                .count())) {
      if (writer_waiting_) writer_cv_.notify_one();  // declined, as above
      return false;
    }
    // Mode `batch` with its timed sync due: that sync is the writer
    // thread's (a leader only writes), and it must not lose the batch to
    // leader after leader past --fsync-interval.
    if (options_.fsync == FsyncMode::kBatch && written_lsn_ > durable_lsn_.load() &&
        std::chrono::steady_clock::now() >= last_sync_ + options_.fsync_interval) {
      if (writer_waiting_) writer_cv_.notify_one();
      return false;
    }
    // offset_ is the holder's, and nobody holds the batch: the last holder
    // released it under mu_. The batch must fit the current segment as one
    // frame (WriteBatch then never rotates).
    const uint64_t room = options_.segment_bytes > offset_ ? options_.segment_bytes - offset_ : 0;
    if (kBatchHeaderSize + pending_.size() > room) {
      // Declined: the batch is the writer thread's, whose wake-up the
      // appends may have left to this leader (LeaderToCome).
      if (writer_waiting_) writer_cv_.notify_one();
      return false;
    }
    batch_in_flight_ = true;
    taken_.clear();
    taken_.swap(pending_);
    batch_last = last_lsn_;
  }
  CommitBatch(batch_last, /*closing=*/false, /*sync_requested=*/false, /*leader=*/true);
  bool wake;
  {
    std::lock_guard lk(mu_);
    batch_in_flight_ = false;
    // Followers (and Close, SyncAll, a batch-mode sync now due) are the
    // writer thread's; it slept through them while the leader held the batch.
    wake = writer_waiting_ &&
           (WriterHasWork() ||
            (options_.fsync == FsyncMode::kBatch && !writer_timed_wait_ &&
             written_lsn_ > durable_lsn_.load() && !failed_.load()));
  }
  if (wake) writer_cv_.notify_one();
  durable_cv_.notify_all();
  return true;
}

void Wal::CommitBatch(uint64_t batch_last, bool closing, bool sync_requested, bool leader) {
  if (failed_.load()) return;
  Status s;
  // The change history takes the batch once it is acknowledgeable: written
  // (mode batch, never) or synced (mode always), and before Acknowledge.
  bool wrote = false;
  const auto committed = [&] {
    if (options_.on_committed) options_.on_committed(taken_, LsnAt(taken_, 0), batch_last);
  };
  if (!taken_.empty()) {
    uint64_t records = 0;
    s = WriteBatch(taken_, &records);
    if (s.ok()) {
      wrote = true;
      written_lsn_ = batch_last;
      stats_.records_written.fetch_add(records, std::memory_order_relaxed);
      stats_.bytes_written.fetch_add(taken_.size(), std::memory_order_relaxed);
      stats_.batches.fetch_add(1, std::memory_order_relaxed);
      if (leader) stats_.batches_led.fetch_add(1, std::memory_order_relaxed);
      if (observer_.on_batch) observer_.on_batch(records, taken_.size());
      // `batch` and `never` acknowledge once the kernel has the bytes.
      if (options_.fsync != FsyncMode::kAlways) {
        committed();
        Acknowledge(written_lsn_);
      }
    }
  }
  if (s.ok() && written_lsn_ > durable_lsn_.load()) {
    const auto now = std::chrono::steady_clock::now();
    bool sync = closing || sync_requested;
    if (options_.fsync == FsyncMode::kAlways) sync = true;
    if (options_.fsync == FsyncMode::kBatch && !leader && now - last_sync_ >= options_.fsync_interval) {
      sync = true;
    }
    if (sync) {
      s = current_->Sync();
      const auto took = std::chrono::steady_clock::now() - now;
      const auto nanos =
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
      stats_.fsyncs.fetch_add(1, std::memory_order_relaxed);
      stats_.fsync_nanos.fetch_add(nanos, std::memory_order_relaxed);
      // Weight 1/4 for the newest: one stall is enough to turn leaders away,
      // a few fast syncs let them back.
      const uint64_t avg = sync_avg_nanos_.load(std::memory_order_relaxed);
      sync_avg_nanos_.store(avg - avg / 4 + nanos / 4, std::memory_order_relaxed);
      if (observer_.on_fsync) observer_.on_fsync(took);
      last_sync_ = now;
      if (s.ok()) durable_lsn_.store(written_lsn_, std::memory_order_release);
    }
  }
  if (!s.ok()) {
    Fail(s);
  } else {
    if (wrote && options_.fsync == FsyncMode::kAlways) committed();
    Acknowledge(options_.fsync == FsyncMode::kAlways ? durable_lsn_.load() : written_lsn_);
  }
}

Status Wal::WriteBatch(const std::string& batch, uint64_t* records) {
  std::string_view view(batch);
  size_t pos = 0;
  while (pos < view.size()) {
    const uint64_t room = options_.segment_bytes > offset_ ? options_.segment_bytes - offset_ : 0;
    const bool segment_empty = offset_ == kSegmentHeaderSize;
    size_t end = pos;
    uint32_t count = 0;
    while (end < view.size()) {
      const size_t rec = RecordSizeAt(view, end);
      // A record larger than a whole segment gets an (oversized) segment
      // of its own rather than being refused.
      if (kBatchHeaderSize + end - pos + rec > room && !(segment_empty && end == pos)) break;
      end += rec;
      ++count;
    }
    if (end == pos) {
      Status s = Rotate(LsnAt(view, pos));
      if (!s.ok()) return s;
      continue;
    }
    // One framed batch per segment touched. synced_lsn is what is durable
    // now: nothing of this batch, and (mode always) everything acknowledged.
    const std::string_view body = view.substr(pos, end - pos);
    frame_.clear();
    AppendBatchHeader(count, LsnAt(view, pos), durable_lsn_.load(std::memory_order_relaxed), body,
                      &frame_);
    frame_.append(body);
    Status s = current_->WriteAt(offset_, frame_);
    if (!s.ok()) return s;
    offset_ += frame_.size();
    current_bytes_.store(offset_, std::memory_order_relaxed);
    if (frame_.capacity() > kKeepFrameBytes) std::string().swap(frame_);  // a rare huge batch
    *records += count;
    pos = end;
  }
  return Status::OK();
}

Status Wal::Rotate(uint64_t first_lsn) {
  // The old segment is complete: make it durable before anything in the
  // new one can be acknowledged.
  Status s = current_->Sync();
  if (!s.ok()) return s;
  stats_.fsyncs.fetch_add(1, std::memory_order_relaxed);
  std::unique_ptr<File> next;
  std::string spare_path;
  s = pipeline_->Take(&next, &spare_path);
  if (!s.ok()) return s;
  const uint64_t seq = current_seq_ + 1;
  SegmentInfo info{seq, first_lsn, JoinPath(options_.dir, FormatSegmentName(seq, first_lsn))};
  s = options_.fs->Rename(spare_path, info.path);
  if (s.ok()) s = next->WriteAt(0, EncodeSegmentHeader(seq));
  if (s.ok()) s = options_.fs->SyncDir(options_.dir);
  if (!s.ok()) return s;
  current_ = std::move(next);
  current_seq_ = seq;
  offset_ = kSegmentHeaderSize;
  current_bytes_.store(offset_, std::memory_order_relaxed);
  stats_.segments_created.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lk(segments_mu_);
  segments_.push_back(std::move(info));
  return Status::OK();
}

void Wal::Fail(const Status& s) {
  {
    std::lock_guard lk(mu_);
    if (failure_.ok()) {
      failure_ = Status::StorageFailed(s.message());
      LogError("wal: " + s.ToString() + "; the log accepts no more writes (reads go on)");
    }
    failed_.store(true, std::memory_order_release);
  }
  FireWaiters();
}

void Wal::Acknowledge(uint64_t lsn) {
  if (lsn > acked_lsn_.load(std::memory_order_relaxed)) {
    acked_lsn_.store(lsn, std::memory_order_release);
  }
  FireWaiters();
}

void Wal::FireWaiters() {
  std::vector<Waiter> ready;
  Status failure;
  {
    std::lock_guard lk(waiters_mu_);
    const uint64_t acked = acked_lsn_.load(std::memory_order_acquire);
    const bool failed = failed_.load(std::memory_order_acquire);
    while (!waiters_.empty() && (waiters_.top().lsn <= acked || failed || waiters_closed_)) {
      ready.push_back(std::move(const_cast<Waiter&>(waiters_.top())));
      waiters_.pop();
    }
    if (failed) failure = Status::StorageFailed("the write-ahead log failed");
    else if (waiters_closed_) failure = Status::Shutdown("log closed before the write was durable");
  }
  const uint64_t acked = acked_lsn_.load(std::memory_order_acquire);
  for (auto& w : ready) w.cb(w.lsn <= acked ? Status::OK() : failure);
}

void Wal::WhenAcked(uint64_t lsn, DurableCallback cb) {
  if (lsn <= acked_lsn_.load(std::memory_order_acquire)) {
    cb(Status::OK());
    return;
  }
  {
    std::lock_guard lk(waiters_mu_);
    // Re-check under the lock: the writer publishes acked/failed before it
    // takes waiters_mu_, so a waiter pushed here cannot be missed.
    const bool decided = lsn <= acked_lsn_.load(std::memory_order_acquire) ||
                         failed_.load(std::memory_order_acquire) || waiters_closed_;
    if (!decided) {
      waiters_.push(Waiter{lsn, ++waiter_seq_, std::move(cb)});
      return;
    }
  }
  if (lsn <= acked_lsn_.load(std::memory_order_acquire)) {
    cb(Status::OK());
  } else if (failed_.load()) {
    cb(Status::StorageFailed("the write-ahead log failed"));
  } else {
    cb(Status::Shutdown("log closed before the write was durable"));
  }
}

Status Wal::WaitAcked(uint64_t lsn) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  Status result;
  WhenAcked(lsn, [&](const Status& s) {
    std::lock_guard lk(m);
    result = s;
    done = true;
    cv.notify_one();
  });
  std::unique_lock lk(m);
  cv.wait(lk, [&] { return done; });
  return result;
}

Status Wal::SyncAll() {
  std::unique_lock lk(mu_);
  const uint64_t target = last_lsn_;
  if (target > sync_target_) sync_target_ = target;
  writer_cv_.notify_one();
  durable_cv_.wait(lk, [&] {
    return durable_lsn_.load() >= target || failed_.load() || closed_;
  });
  if (durable_lsn_.load() >= target) return Status::OK();
  if (!failure_.ok()) return failure_;
  return Status::Shutdown("log closed");
}

Status Wal::RemoveSegmentsThrough(uint64_t lsn, uint64_t keep_bytes) {
  std::vector<std::string> doomed;
  {
    std::lock_guard lk(segments_mu_);
    // Segment i holds lsns [first_lsn(i), first_lsn(i+1)); the last one is current.
    size_t n = 0;
    while (n + 1 < segments_.size() && segments_[n + 1].first_lsn <= lsn + 1) ++n;
    if (keep_bytes > 0 && n > 0) {
      // Segments [keep, end) hold at least keep_bytes, or keep is 0.
      uint64_t held = current_bytes_.load(std::memory_order_relaxed);
      size_t keep = segments_.size() - 1;
      while (keep > 0 && held < keep_bytes) {
        --keep;
        held += options_.segment_bytes;
      }
      n = std::min(n, keep);
    }
    for (size_t i = 0; i < n; ++i) doomed.push_back(segments_[i].path);
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<long>(n));
  }
  // Oldest first: a crash midway leaves a contiguous suffix of the log.
  for (const auto& path : doomed) {
    Status s = options_.fs->Remove(path);
    if (!s.ok()) return s;
  }
  if (!doomed.empty()) return options_.fs->SyncDir(options_.dir);
  return Status::OK();
}

void Wal::Close() {
  {
    std::lock_guard lk(mu_);
    if (closing_) return;
    closing_ = true;
  }
  writer_cv_.notify_one();
  writer_.join();
  pipeline_.reset();
  current_.reset();
  {
    std::lock_guard lk(waiters_mu_);
    waiters_closed_ = true;
  }
  FireWaiters();
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  durable_cv_.notify_all();
}

}  // namespace casmem::wal
