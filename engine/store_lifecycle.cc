// Store lifecycle: option checks, recovery (newest valid snapshot, then the
// log after it), snapshots, the background sweep, and clean shutdown.
#include <chrono>
#include <cstdio>

#include "engine/names.h"
#include "engine/shard.h"
#include "engine/shard_of.h"
#include "engine/snapshot.h"
#include "engine/store.h"
#include "common/logger.h"

namespace casmem {
namespace {

Status CheckOptions(const StoreOptions& o) {
  if (o.shards < 1 || o.shards > 65536) return Status::InvalidArgument("shards must be 1-65536");
  if (o.wal_segment_bytes < wal::kMinSegmentBytes) {
    return Status::InvalidArgument("wal segment size must be at least 65536 bytes");
  }
  if (o.max_value_bytes < 1 || o.max_value_bytes > wal::kMaxRecordValueBytes) {
    return Status::InvalidArgument("max value bytes must be 1-" +
                                   std::to_string(wal::kMaxRecordValueBytes));
  }
  if (o.tombstone_retention.count() < 0) {
    return Status::InvalidArgument("tombstone retention must not be negative");
  }
  if (o.snapshot_every_bytes < 1) return Status::InvalidArgument("snapshot threshold must be >= 1");
  if (o.fsync_interval.count() <= 0) return Status::InvalidArgument("fsync interval must be > 0");
  return Status::OK();
}

}  // namespace

Store::Store(const StoreOptions& options) : options_(options) {
  shards_.reserve(options.shards);
  for (uint32_t i = 0; i < options.shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

Store::~Store() { (void)Close(); }

Status Store::Open(const StoreOptions& options, std::unique_ptr<Store>* out) {
  Status s = CheckOptions(options);
  if (!s.ok()) return s;
  std::unique_ptr<Store> store(new Store(options));
  s = store->Recover();
  if (!s.ok()) return s;
  if (options.sweep_interval.count() > 0) {
    store->maintenance_ = std::thread([st = store.get()] { st->MaintenanceLoop(); });
  }
  *out = std::move(store);
  return Status::OK();
}

void Store::ApplyRecoveredKey(std::string_view ws, const wal::CommitOp& op, uint64_t lsn,
                              int64_t updated_at_ms, std::string_view writer) {
  uint64_t hash;
  Shard& sh = ShardFor(ws, op.key, &hash);
  std::lock_guard lk(sh.mu);
  const KeyRef ref{Register(sh, ws), op.key, hash};
  EntryNode* n = sh.Find(ref);
  // Idempotent: a snapshot may already hold a later state of this key.
  if (n != nullptr && n->lsn >= lsn) return;
  const NodeState state{lsn, op.version, updated_at_ms, op.expires_at_ms, writer};
  if (op.type == wal::kRecordPut) {
    sh.ApplyPut(ref, n, op.value, state);
  } else {
    sh.ApplyTombstone(ref, n, state, UINT64_MAX);  // recovered: acknowledged once open
  }
}

void Store::ApplyRecovered(const wal::Record& r) {
  // Recovery trusts no byte it did not check: names a writer could not
  // have produced are skipped rather than loaded.
  if (!StoredWorkspace(r.workspace)) return;
  if (r.type == wal::kRecordCommit) {
    std::string_view rest = r.op_bytes;
    wal::CommitOp op;
    for (uint16_t i = 0; i < r.op_count && wal::NextCommitOp(&rest, &op); ++i) {
      if (KeyProblem(op.key) == nullptr) {
        ApplyRecoveredKey(r.workspace, op, r.lsn, r.updated_at_ms, r.writer);
      }
    }
  } else if (KeyProblem(r.key) == nullptr) {
    ApplyRecoveredKey(r.workspace,
                      wal::CommitOp{r.type, r.version, r.expires_at_ms, r.key, r.value}, r.lsn,
                      r.updated_at_ms, r.writer);
  }
  if (r.has_idempotency) {
    const wal::IdempotencyPart& i = r.idempotency;
    idempotency_.Restore(r.workspace, i.key, i.fingerprint, i.status, i.body, r.lsn,
                         r.updated_at_ms, options_.clock->NowMs());
  }
}

Status Store::Recover() {
  HistoryOptions ho;
  ho.fs = options_.fs;
  ho.memory_bytes = options_.watch_memory_bytes;
  if (options_.data_dir.empty()) {
    // Memory-only: the history is memory alone (Store::Log appends to it).
    history_ = std::make_unique<ChangeHistory>(std::move(ho));
    history_->Reset(0);
    return Status::OK();
  }
  // wal_ is set below, before anyone can read the history.
  ho.segments = [this] { return wal_ ? wal_->segments() : std::vector<wal::SegmentInfo>(); };
  history_ = std::make_unique<ChangeHistory>(std::move(ho));
  const auto started = std::chrono::steady_clock::now();
  wal::FileSystem* fs = options_.fs;
  Status s = fs->CreateDirs(options_.data_dir);
  if (!s.ok()) return s;
  s = fs->Lock(wal::JoinPath(options_.data_dir, "LOCK"), &dir_lock_);
  if (!s.ok()) return s;
  snap_dir_ = wal::JoinPath(options_.data_dir, "snap");
  s = fs->CreateDirs(snap_dir_);
  if (!s.ok()) return s;
  std::vector<std::string> names;
  s = fs->List(snap_dir_, &names);
  if (!s.ok()) return s;
  for (const auto& name : names) {
    if (std::string_view(name).ends_with(".tmp")) (void)fs->Remove(wal::JoinPath(snap_dir_, name));
  }

  std::vector<SnapshotFile> snaps;
  s = ListSnapshots(fs, snap_dir_, &snaps);
  if (!s.ok()) return s;
  Status first_error;
  bool loaded = false;
  for (const auto& snap : snaps) {
    uint64_t start = 0, records = 0;
    s = ReadSnapshot(fs, snap.path, [this](const wal::Record& r) { ApplyRecovered(r); }, &start,
                     &records);
    if (s.ok()) {
      recovery_.snapshot_lsn = start;
      recovery_.snapshot_records = records;
      loaded = true;
      break;
    }
    if (!s.IsCorruption()) return s;
    LogError("recovery: " + s.ToString() + "; trying an older snapshot");
    if (first_error.ok()) first_error = s;
    for (auto& sh : shards_) sh = std::make_unique<Shard>();  // drop what it applied
    ws_names_.clear();
    workspaces_ = 0;
    idempotency_.Clear();
  }
  if (!snaps.empty() && !loaded) return first_error;

  wal::WalOptions wo;
  wo.dir = wal::JoinPath(options_.data_dir, "wal");
  wo.fs = fs;
  wo.segment_bytes = options_.wal_segment_bytes;
  wo.max_pending_bytes = options_.wal_max_pending_bytes;
  wo.fsync = options_.fsync;
  wo.fsync_interval = options_.fsync_interval;
  wo.inline_commit = options_.wal_inline_commit;
  wo.on_committed = [h = history_.get()](std::string_view records, uint64_t first, uint64_t last) {
    h->Append(records, first, last);
  };
  wal::ScanResult scan;
  s = wal::Wal::Open(wo, recovery_.snapshot_lsn, [this](const wal::Record& r) { ApplyRecovered(r); },
                     &wal_, &scan);
  if (!s.ok()) return s;
  // Every recovered record is on disk; the history serves them from there.
  history_->Reset(wal_->last_lsn());
  idempotency_.SortRestored();
  idempotency_.Expire(options_.clock->NowMs(), wal_->acked_lsn());
  recovery_.log_records = scan.records_replayed;
  recovery_.log_bytes = scan.bytes_scanned;
  recovery_.torn_bytes_cut = scan.torn_bytes_cut;
  recovery_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // Log replayed at startup counts toward the next snapshot.
  bytes_at_last_snapshot_ = 0;
  replayed_bytes_ = scan.bytes_scanned;
  const StoreCounters c = counters();
  char line[256];
  std::snprintf(line, sizeof line,
                "recovery: snapshot at lsn %llu (%llu records) + %llu log records (%llu bytes) in "
                "%.3f s; %llu live keys, %llu tombstones, next lsn %llu",
                static_cast<unsigned long long>(recovery_.snapshot_lsn),
                static_cast<unsigned long long>(recovery_.snapshot_records),
                static_cast<unsigned long long>(recovery_.log_records),
                static_cast<unsigned long long>(recovery_.log_bytes), recovery_.seconds,
                static_cast<unsigned long long>(c.live_keys),
                static_cast<unsigned long long>(c.tombstones),
                static_cast<unsigned long long>(wal_->last_lsn() + 1));
  LogInfo(line);
  return Status::OK();
}

Status Store::Snapshot() {
  if (!wal_) return Status::InvalidArgument("a memory-only store has no snapshots");
  std::lock_guard snap_lock(snapshot_mu_);
  Status s = wal_->health();
  if (!s.ok()) return s;
  const auto started = std::chrono::steady_clock::now();
  // Every record <= start is already applied to its shard, so the image
  // below reflects it; records after it may or may not be in the image,
  // and replay sorts that out by comparing lsns.
  const uint64_t start = wal_->last_lsn();
  const uint64_t bytes_mark = wal_->bytes_appended();
  std::unique_ptr<SnapshotWriter> writer;
  s = SnapshotWriter::Create(options_.fs, snap_dir_, start, &writer);
  if (!s.ok()) return s;
  std::string buf;
  uint64_t total = 0;
  for (auto& sh : shards_) {
    uint64_t count = 0;
    buf.clear();
    {
      // Stops the writes of this one shard while its entries are copied.
      std::lock_guard lk(sh->mu);
      sh->ForEach([&](const EntryNode& n) {
        wal::Record r;
        r.type = n.tombstone ? wal::kRecordTombstone : wal::kRecordPut;
        r.lsn = n.lsn;
        r.version = n.version;
        r.updated_at_ms = n.updated_at_ms();
        r.expires_at_ms = n.expires_at_ms();
        r.workspace = sh->WorkspaceName(n.ws_index);
        r.key = n.key();
        r.value = n.value();
        r.writer = n.writer();
        wal::AppendRecord(r, &buf);
        ++count;
      });
    }
    s = writer->Add(buf, count);
    if (!s.ok()) return s;
    total += count;
  }
  {
    // Remembered Idempotency-Key answers, each as the answer-only commit
    // record it would be in the log (at its own lsn). Every answer at or
    // below `start` is complete: it was completed as its lsn was handed out.
    uint64_t count = 0;
    buf.clear();
    idempotency_.ForEach([&](const IdempotencyTable::Answer& a) {
      wal::Record r;
      r.type = wal::kRecordCommit;
      r.lsn = a.lsn;
      r.updated_at_ms = a.created_ms;
      r.workspace = a.workspace;
      r.has_idempotency = true;
      r.idempotency = wal::IdempotencyPart{a.key, a.fingerprint, static_cast<uint16_t>(a.status),
                                           a.body};
      wal::AppendRecord(r, &buf);
      ++count;
    });
    s = writer->Add(buf, count);
    if (!s.ok()) return s;
    total += count;
  }
  // The image may hold writes not yet durable in the log: it must not
  // become the recovery base before they are.
  s = wal_->SyncAll();
  if (s.ok()) s = writer->Commit();
  if (!s.ok()) return s;
  std::vector<SnapshotFile> snaps;
  s = ListSnapshots(options_.fs, snap_dir_, &snaps);
  for (const auto& old : snaps) {
    if (old.start_lsn < start && s.ok()) s = options_.fs->Remove(old.path);
  }
  const size_t segments_before = wal_->segment_count();
  // The newest watch_history_bytes of log stay, whatever the snapshot
  // covers: watchers resume from them across restarts (memory-api.md §8),
  // and recovery skips the records in them at or below `start`.
  if (s.ok()) s = wal_->RemoveSegmentsThrough(start, options_.watch_history_bytes);
  if (!s.ok()) return s;
  bytes_at_last_snapshot_ = bytes_mark;
  replayed_bytes_ = 0;
  char line[200];
  std::snprintf(line, sizeof line,
                "snapshot: %llu records (%llu bytes) at lsn %llu in %.3f s; removed %zu log "
                "segments",
                static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(writer->bytes()),
                static_cast<unsigned long long>(start),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                segments_before - wal_->segment_count());
  LogInfo(line);
  return Status::OK();
}

void Store::Sweep() {
  const int64_t now = options_.clock->NowMs();
  const int64_t retention = options_.tombstone_retention.count();
  // Only acknowledged tombstones may be purged: a purged delete answers
  // 404 with nothing to wait for. Read once, before the shards: later
  // acknowledgements are picked up by the next sweep.
  const uint64_t purge_through = wal_ ? wal_->acked_lsn() : UINT64_MAX;
  idempotency_.Expire(now, purge_through);
  // Expiry is a change like a write (an `expire` event, memory-api.md
  // §8): each key whose TTL ran out gets a tombstone record flagged
  // expired, appended under its shard's lock as writes are, so the log
  // orders it among the key's writes the way readers saw them. Once the
  // log refuses one (failed, or busy), the rest of this sweep logs
  // nothing and the next sweep tries again; a failed log never recovers,
  // so then the sweep stops trying (reads treat those keys as absent
  // anyway). Purging tombstones is not a change and is not logged.
  const bool can_log = !wal_ || !wal_->failed();
  bool refused = false;
  const Shard::ExpiryLog log_expiry = [&](std::string_view ws, const EntryNode& n) -> uint64_t {
    if (refused) return 0;
    Outcome outcome = Outcome::kOk;
    std::string error;
    const uint64_t lsn = LogExpiry(ws, n, &outcome, &error);
    if (lsn == 0) refused = true;
    return lsn;
  };
  std::vector<std::string> released;
  for (auto& sh : shards_) {
    std::lock_guard lk(sh->mu);
    released.clear();
    if (sh->Sweep(now, retention, purge_through, can_log ? log_expiry : Shard::ExpiryLog(),
                  &released)) {
      sweep_scans_.fetch_add(1, std::memory_order_relaxed);
    }
    Unregister(released);
  }
}

void Store::MaintenanceLoop() {
  std::unique_lock lk(maint_mu_);
  while (!stopping_) {
    maint_cv_.wait_for(lk, options_.sweep_interval, [&] { return stopping_; });
    if (stopping_) break;
    lk.unlock();
    Sweep();
    if (wal_ && !wal_->failed() &&
        wal_->bytes_appended() + replayed_bytes_ - bytes_at_last_snapshot_ >=
            options_.snapshot_every_bytes) {
      Status s = Snapshot();
      if (!s.ok()) LogError("snapshot failed: " + s.ToString());
    }
    lk.lock();
  }
}

Status Store::Close() {
  {
    std::lock_guard lk(maint_mu_);
    if (closed_) return Status::OK();
    closed_ = stopping_ = true;
  }
  maint_cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
  if (!wal_) return Status::OK();
  Status s = wal_->health();
  if (s.ok()) s = wal_->SyncAll();
  if (s.ok() && options_.snapshot_on_close) s = Snapshot();
  wal_->Close();
  dir_lock_.reset();
  return s;
}

}  // namespace casmem
