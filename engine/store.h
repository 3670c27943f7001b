// Store: casmem's storage engine, the one public header of engine/.
//
// A Store is N hash-partitioned shards (ShardOf) in front of one
// write-ahead log. Every operation locks exactly one shard, except List,
// which visits shards one at a time. A write looks the key up, checks its
// guard, appends the full result to the log and applies it, all under the
// shard lock, so compare-and-set is atomic per key and the log orders one
// key's records the way readers saw them.
//
// Visibility contract: every result carries `visible_lsn`, the newest log
// record the answer depends on (the write itself, the version a 409
// reports, the entry a read returns). The caller must not reveal the
// result before WhenVisible(visible_lsn) fires OK; with `--fsync always`
// that is when the record is durable. If it fires with an error the
// result must not be revealed (the write was not acknowledged).
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/change_history.h"
#include "engine/clock.h"
#include "engine/idempotency.h"
#include "engine/json_patch.h"
#include "wal/file_ops.h"
#include "common/status.h"
#include "wal/wal.h"

namespace casmem {

struct StoreOptions {
  // Where the log (DATA/wal) and snapshots (DATA/snap) live. Empty: a
  // memory-only store with no log (benchmarks and tests of the engine).
  std::string data_dir;
  uint32_t shards = 64;
  wal::FsyncMode fsync = wal::FsyncMode::kAlways;
  std::chrono::microseconds fsync_interval{10'000};
  uint64_t wal_segment_bytes = 64ULL << 20;
  // Writes are refused (kBusy) while this many log bytes wait for the disk.
  uint64_t wal_max_pending_bytes = 64ULL << 20;
  // Leader/follower commit (wal::WalOptions::inline_commit): a thread with
  // nothing else to run may commit its write itself via wal()->LeadCommit().
  bool wal_inline_commit = true;
  uint64_t snapshot_every_bytes = 256ULL << 20;
  std::chrono::milliseconds tombstone_retention{24LL * 3600 * 1000};
  // How often the background sweep expires TTLs, collects tombstones and
  // checks whether a snapshot is due. 0 = no background thread.
  std::chrono::milliseconds sweep_interval{1000};
  uint64_t max_value_bytes = 1ULL << 20;
  // Idempotency-Key answers are kept at least this long (memory-api.md §7)
  // while their memory stays under idempotency_max_bytes; past that bound
  // the oldest are dropped early (counted in StoreCounters).
  std::chrono::milliseconds idempotency_retention{24LL * 3600 * 1000};
  uint64_t idempotency_max_bytes = 64ULL << 20;
  // Change history (memory-api.md §8, engine/change_history.h): snapshots
  // never delete the newest log segments holding this many bytes, so
  // watchers resume from them across restarts (--watch-history) ...
  uint64_t watch_history_bytes = 64ULL << 20;
  // ... and the newest this many bytes of committed records are also kept
  // in memory (--watch-memory).
  uint64_t watch_memory_bytes = 16ULL << 20;
  // Close writes a snapshot (and removes the log it covers). A tool that
  // opens a data directory briefly (`casmemd token`) sets false, with
  // sweep_interval 0: it leaves snapshots and segments as the daemon left
  // them, since the daemon's retention options are not the tool's.
  bool snapshot_on_close = true;
  wal::FileSystem* fs = wal::PosixFileSystem();
  Clock* clock = SystemClock();
};

// The options of a tool that opens a stopped server's data directory
// briefly (`casmemd token`, `casmem import-pg --data-dir`): every write
// synced, no sweep, no snapshot on close, and nothing the daemon keeps
// (history segments, remembered Idempotency-Key answers) dropped by
// retention options that are the daemon's, not the tool's.
inline StoreOptions ToolStoreOptions(std::string data_dir) {
  StoreOptions o;
  o.data_dir = std::move(data_dir);
  o.fsync = wal::FsyncMode::kAlways;
  o.sweep_interval = std::chrono::milliseconds(0);
  o.snapshot_on_close = false;
  o.idempotency_retention = std::chrono::hours(24 * 365 * 100);
  o.idempotency_max_bytes = UINT64_MAX;
  return o;
}

// What a read returns.
struct Entry {
  std::string key;
  std::string value;  // compact JSON text, stored verbatim
  uint64_t version = 0;
  uint64_t revision = 0;  // the revision (log lsn) of the write that made this version
  int64_t updated_at_ms = 0;
  int64_t expires_at_ms = 0;  // 0 = no TTL
  std::string writer;         // Casmem-Writer of that write; empty = none
};

enum class Outcome {
  kOk,
  kNotFound,       // Get of an absent key
  kConflict,       // guard did not match
  kInvalid,        // argument refused (error says why)
  kStorageFailed,  // the log failed or is closed: nothing was applied
  kBusy,           // the log is too far behind the disk: nothing was applied; retry
  kPatchFailed,    // a patch operation cannot apply (409; patch_error says which)
  kTooLarge,       // the result would exceed max_value_bytes (413)
  // Idempotency-Key outcomes (memory-api.md §7); nothing was written.
  kReplay,            // the remembered answer: replay.status / replay.body
  kIdempotencyReused, // the key was used for a different request (422)
  kInProgress,        // the first request with the key is not yet durable (409)
};

// An Idempotency-Key on a write (memory-api.md §7). The engine remembers
// the answer to the first request with `key` in the workspace, in the
// same log record as the write (or, for an answer that wrote nothing - a
// 409, a delete of an absent key - in a record of its own), and answers a
// repeat from it.
struct IdempotencyAnswer {
  int status = 0;
  std::string body;
};
template <class Result>
struct Idempotency {
  std::string_view key;          // 1-255 printable ASCII
  std::string_view fingerprint;  // 16 bytes identifying the request (method, target, If-Match, body)
  // Renders the answer to remember from the result (with its revision).
  // Called under the store's locks: must be quick and must not call the
  // store. Only for outcomes kOk and kConflict / kPatchFailed.
  std::function<IdempotencyAnswer(const Result&)> render;
};

// A replayed answer (outcome kReplay).
struct Replay {
  int status = 0;
  std::string body;
};

struct GetResult {
  Outcome outcome = Outcome::kNotFound;
  Entry entry;
  uint64_t visible_lsn = 0;
};

struct WriteResult {
  Outcome outcome = Outcome::kOk;
  uint64_t version = 0;   // the new version (kOk)
  uint64_t revision = 0;  // kOk and applied: the write's revision
  bool applied = false;   // false for a delete of an absent key (nothing logged)
  std::string value;      // Patch, kOk: the new value
  // kConflict / kPatchFailed: the key's current version, absent when the
  // key is absent; current_value is set exactly when current_version is,
  // current_writer when that version named one.
  std::optional<uint64_t> current_version;
  std::optional<std::string> current_value;
  std::optional<std::string> current_writer;
  PatchError patch_error;  // kPatchFailed, kTooLarge, kInvalid from a patch
  Replay replay;           // kReplay
  uint64_t visible_lsn = 0;
  std::string error;  // kInvalid / kStorageFailed / kBusy / kTooLarge
};

struct ListResult {
  std::vector<Entry> entries;  // bytewise ascending by key
  bool more = false;           // the limit cut the listing short
  uint64_t visible_lsn = 0;
};

struct PutRequest {
  std::string_view workspace;
  std::string_view key;
  std::string_view value;  // compact JSON
  std::optional<uint64_t> if_match_version;  // 0 = create only
  int64_t ttl_ms = 0;                        // 0 = no TTL (clears one)
  std::string_view writer;                   // Casmem-Writer; empty = none
  const Idempotency<WriteResult>* idempotency = nullptr;
};

struct DeleteRequest {
  std::string_view workspace;
  std::string_view key;
  std::optional<uint64_t> if_match_version;
  std::string_view writer;
  const Idempotency<WriteResult>* idempotency = nullptr;
};

// PATCH (memory-api.md §5): exactly one of json_patch / merge_patch.
struct PatchRequest {
  std::string_view workspace;
  std::string_view key;
  const JsonPatch* json_patch = nullptr;
  const MergePatch* merge_patch = nullptr;
  std::optional<uint64_t> if_match_version;
  std::optional<int64_t> ttl_ms;  // nullopt: keep the key's TTL; >0: set one
  std::string_view writer;
  const Idempotency<WriteResult>* idempotency = nullptr;
};

// One operation of a transaction (memory-api.md §6).
struct TxnOp {
  enum class Type { kCheck, kSet, kPatch, kDelete } type = Type::kSet;
  std::string_view key;
  std::string_view value;                    // kSet: compact JSON
  const JsonPatch* json_patch = nullptr;     // kPatch: one of these two
  const MergePatch* merge_patch = nullptr;
  std::optional<uint64_t> if_match_version;  // kSet / kPatch / kDelete guard; kCheck: the version (0 = absent)
  std::optional<int64_t> ttl_ms;             // kSet: nullopt = none; kPatch: nullopt = keep
};

struct TxnResult {
  Outcome outcome = Outcome::kOk;
  uint64_t revision = 0;  // kOk: the transaction's revision (the current one if it wrote nothing)
  // kOk: one per op; the version written, the version a check saw, or
  // nullopt for an absent key (a check or a delete of it).
  std::vector<std::optional<uint64_t>> versions;
  // Failure (kConflict / kPatchFailed / kTooLarge / kInvalid): the op at
  // fault and that op's details, as a WriteResult would carry them
  // (expected_version = the op's guard).
  int op_index = -1;
  std::optional<uint64_t> expected_version;
  WriteResult failure;
  Replay replay;  // kReplay
  uint64_t visible_lsn = 0;
  std::string error;
};

struct TxnRequest {
  std::string_view workspace;
  const std::vector<TxnOp>* ops = nullptr;  // 1-128, each key written at most once
  std::string_view writer;
  const Idempotency<TxnResult>* idempotency = nullptr;
};

// The largest version Store::Load accepts: 2^53 - 1, the largest integer
// every JSON client reads exactly. Writes add 1 per version, so no key
// reaches a version that wraps (2^64); a key loaded at exactly 2^53 - 1
// and written again goes past it (and `restore` then refuses its dump line).
inline constexpr uint64_t kMaxLoadVersion = (1ULL << 53) - 1;
// The latest time Store::Load accepts, 9999-12-31T23:59:59.999Z: the last
// an RFC 3339 four-digit year writes, so every loaded time is printed by
// the API and read back by `restore` as it is.
inline constexpr int64_t kMaxLoadTimeMs = 253'402'300'799'999;

// A key's state as another store or system had it (Store::Load): what
// `casmem restore` and the importers write, keeping versions so that
// guards agents hold stay valid.
struct LoadRequest {
  std::string_view workspace;
  std::string_view key;
  // Compact JSON of a live key; empty for a tombstone (a deleted key whose
  // version must not be handed out again).
  std::string_view value;
  uint64_t version = 0;       // 1 .. kMaxLoadVersion
  int64_t updated_at_ms = 0;  // 0 = now; else up to kMaxLoadTimeMs
  int64_t expires_at_ms = 0;  // 0 = no TTL; in the past = loaded already expired
  std::string_view writer;    // Casmem-Writer of that version; empty = none
};

struct StoreCounters {
  uint64_t live_keys = 0;  // includes expired keys the sweep has not reached
  uint64_t tombstones = 0;
  // Distinct workspaces holding a live key, an expired key or a tombstone.
  uint64_t workspaces = 0;
  uint64_t sweep_scans = 0;  // shard scans by Sweep (skipped when nothing is due)
  uint64_t idempotency_entries = 0;  // remembered answers (and claims in flight)
  uint64_t idempotency_bytes = 0;    // their memory, approximately
  uint64_t idempotency_evicted = 0;  // dropped before their retention ran out (memory bound)
};

struct RecoveryInfo {
  uint64_t snapshot_lsn = 0;
  uint64_t snapshot_records = 0;
  uint64_t log_records = 0;
  uint64_t log_bytes = 0;
  uint64_t torn_bytes_cut = 0;
  double seconds = 0;
};

class Shard;
struct EntryNode;

class Store {
 public:
  // Opens or creates the store: newest valid snapshot + replay of the log.
  static Status Open(const StoreOptions& options, std::unique_ptr<Store>* out);
  ~Store();  // Close()
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  GetResult Get(std::string_view workspace, std::string_view key);
  WriteResult Put(const PutRequest& req);
  // Guard semantics as for Put: a version V applies only at V; 0 applies
  // only when the key is absent (then nothing changes).
  WriteResult Delete(const DeleteRequest& req);
  WriteResult Delete(std::string_view workspace, std::string_view key,
                     std::optional<uint64_t> if_match_version) {
    return Delete(DeleteRequest{workspace, key, if_match_version, {}, nullptr});
  }
  // Applies a patch to the key's current value under its shard lock: many
  // patches of one key share one fsync and never conflict with each other.
  WriteResult Patch(const PatchRequest& req);
  // All ops or none, one log record, one revision; shards locked in index
  // order. Malformed requests (kInvalid): no ops or more than 128, a key
  // written twice, a check after the write of its key, bad names.
  TxnResult Txn(const TxnRequest& req);
  // Writes `req`'s key state as given (a put record carrying req.version,
  // or a tombstone record), with a new revision, logged and durable like
  // any write. Applies only when the key is unknown here or its version
  // here (live or tombstone) is older than req.version; otherwise nothing
  // changes and the outcome is kConflict with current_version = the
  // version here (set even for a tombstone; current_value is not set).
  // kInvalid for a version of 0 or over kMaxLoadVersion or bad names,
  // kTooLarge as for Put.
  WriteResult Load(const LoadRequest& req);
  // The newest revision handed out (the log's last lsn).
  uint64_t revision() const;
  // Live keys of `workspace` with `prefix`, strictly after `after`, at most
  // `limit` (>= 1). Not a point-in-time view across shards: a key written
  // during the listing may or may not appear; order and uniqueness hold.
  // visible_lsn covers what the listing reveals: its entries (and the one
  // behind `more`) and the absences in the key range it covered (up to
  // the key behind `more`), through each visited shard's newest removal
  // when that shard has unacknowledged removals (deletes, and expiries
  // whose expire record is not yet acknowledged) whose key window meets
  // the range. It does
  // not wait for writes it cannot reveal (other workspaces, other key
  // ranges), so a failed log holds back only the listings that would
  // reveal a failed write, and reads go on. Coarse only in that one
  // shard's window spans all of its unacknowledged removals.
  ListResult List(std::string_view workspace, std::string_view prefix, std::string_view after,
                  size_t limit);

  // See the visibility contract above. `cb` runs inline when already
  // decided, else on the log's writer thread; it must not block.
  void WhenVisible(uint64_t lsn, wal::DurableCallback cb);
  // True when `lsn` is already acknowledged: a result depending on it may
  // be revealed now, without registering a callback.
  bool IsVisible(uint64_t lsn) const { return !wal_ || lsn <= wal_->acked_lsn(); }
  Status WaitVisible(uint64_t lsn);

  // Writes a snapshot now and drops the log segments it covers.
  Status Snapshot();
  // Expires TTLs and collects old tombstones now (the sweep thread's job).
  void Sweep();
  // Stops the sweep, makes everything durable, writes a snapshot, closes
  // the log. Later writes fail with kStorageFailed. Idempotent.
  Status Close();

  Status health() const;
  StoreCounters counters() const;
  const RecoveryInfo& recovery() const { return recovery_; }
  const StoreOptions& options() const { return options_; }
  wal::Wal* wal() const { return wal_.get(); }  // null for a memory-only store
  // The change history (never null once open): every acknowledged record,
  // in revision order.
  ChangeHistory* history() const { return history_.get(); }

 private:
  explicit Store(const StoreOptions& options);
  Status Recover();
  void ApplyRecovered(const wal::Record& r);
  // Applies one key's recovered state (a put/tombstone record or one op of
  // a commit record) unless a later state of the key is already there.
  void ApplyRecoveredKey(std::string_view ws, const wal::CommitOp& op, uint64_t lsn,
                         int64_t updated_at_ms, std::string_view writer);
  Shard& ShardFor(std::string_view workspace, std::string_view key, uint64_t* hash);
  // Registers `workspace` in `sh` (whose lock is held) for a write about
  // to be applied, counting it store-wide when it is new there.
  uint32_t Register(Shard& sh, std::string_view workspace);
  // Uncounts workspaces a shard released (called under that shard's lock,
  // so a register and a release of one shard are counted in order).
  void Unregister(const std::vector<std::string>& released);
  // Appends `r` to the log. Returns its lsn, or 0 with the outcome to
  // report (kStorageFailed or kBusy) and why. A memory-only store returns 0
  // and kOk.
  uint64_t Log(wal::Record* r, Outcome* outcome, std::string* error);
  // An Idempotency-Key answer to log with a record: `answer(lsn)` renders
  // it once the record's lsn (the write's revision) is known.
  struct AnswerToLog {
    std::string_view key, fingerprint;
    std::function<IdempotencyAnswer(uint64_t lsn)> answer;
  };
  // Log() carrying `answer` (when not null) and completing its claim.
  uint64_t Log(wal::Record* r, Outcome* outcome, std::string* error, const AnswerToLog* answer);
  // Claims an Idempotency-Key for a request: true to go ahead (then the
  // write must log its answer or Abandon the claim). False: *outcome (and
  // *replay, *visible_lsn, *error) say how to answer instead: kReplay,
  // kIdempotencyReused, kInProgress, or kInvalid for a malformed key.
  bool ClaimKey(std::string_view ws, std::string_view key, std::string_view fingerprint,
                Outcome* outcome, Replay* replay, uint64_t* visible_lsn, std::string* error);
  // Claims the request's Idempotency-Key, if it has one (store_internal.h).
  // False: *res already says how to answer (replay, reused, in progress,
  // a malformed key, a failed log). True: go ahead; *answer is set when a
  // key was given and must be logged with the write's record (Log,
  // RememberRefusal, LogAnswerOnly) or abandoned.
  template <class R>
  bool Claim(std::string_view ws, const Idempotency<R>* idem, R* res,
             std::optional<AnswerToLog>* answer);
  // Remembers the answer to a write that changed nothing (a 409, a delete
  // of an absent key) in a record of its own; a log refusal replaces the
  // answer in *res.
  void RememberRefusal(std::string_view ws, const AnswerToLog& answer, WriteResult* res);
  // Logs a record holding only a remembered answer (a 409, a delete of an
  // absent key): lsn, or 0 with *outcome / *error set.
  uint64_t LogAnswerOnly(std::string_view ws, const AnswerToLog& answer, Outcome* outcome,
                         std::string* error);
  // Appends the expire record of `n` of workspace `ws`, live but past its
  // TTL (a tombstone flagged expired: the expired version, dead since its
  // expiry, no writer): what the sweep logs. lsn, or 0 with *outcome /
  // *error set.
  uint64_t LogExpiry(std::string_view ws, const EntryNode& n, Outcome* outcome,
                     std::string* error);
  // Called by a write (under the shard lock(s) it holds, after its guard
  // passed, just before logging itself) for the key held by *n in `sh`:
  // when that key is live but expired at `now`, logs and applies its
  // expiry first (Shard::ExpireBeforeWrite), so watchers see `expire`
  // before the write. False when the log refused that record: *outcome /
  // *error say why, nothing changed, and `answer`'s claim (when not null)
  // is abandoned, as Log does for a refused write.
  bool ExpireBeforeWrite(Shard& sh, std::string_view ws, EntryNode** n, int64_t now,
                         const AnswerToLog* answer, Outcome* outcome, std::string* error);
  void MaintenanceLoop();

  const StoreOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<wal::FileLock> dir_lock_;
  std::unique_ptr<wal::Wal> wal_;
  std::unique_ptr<ChangeHistory> history_;
  std::string snap_dir_;
  RecoveryInfo recovery_;

  std::mutex snapshot_mu_;              // one snapshot at a time
  // Snapshot trigger: log bytes since the last snapshot are
  // wal bytes_appended() + replayed_bytes_ - bytes_at_last_snapshot_.
  std::atomic<uint64_t> bytes_at_last_snapshot_{0};
  std::atomic<uint64_t> replayed_bytes_{0};

  std::atomic<uint64_t> sweep_scans_{0};
  IdempotencyTable idempotency_{options_.idempotency_retention.count(),
                                options_.idempotency_max_bytes};
  // A memory-only store's revisions (no log hands out lsns), assigned and
  // appended to the history under mem_log_mu_ (mem_log_buf_: the encoding).
  std::atomic<uint64_t> mem_lsn_{0};
  std::mutex mem_log_mu_;
  std::string mem_log_buf_;

  // Workspace name -> number of shards where it is registered; lock order:
  // a shard's mu, then ws_names_mu_. Only first writes of a workspace to a
  // shard and releases take it.
  std::mutex ws_names_mu_;
  boost::unordered_flat_map<std::string, uint32_t> ws_names_;
  std::atomic<uint64_t> workspaces_{0};  // ws_names_.size()
  std::mutex maint_mu_;
  std::condition_variable maint_cv_;
  bool stopping_ = false;
  bool closed_ = false;
  std::thread maintenance_;
};

}  // namespace casmem
