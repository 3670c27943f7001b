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
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/clock.h"
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
  uint64_t snapshot_every_bytes = 256ULL << 20;
  std::chrono::milliseconds tombstone_retention{24LL * 3600 * 1000};
  // How often the background sweep expires TTLs, collects tombstones and
  // checks whether a snapshot is due. 0 = no background thread.
  std::chrono::milliseconds sweep_interval{1000};
  uint64_t max_value_bytes = 1ULL << 20;
  wal::FileSystem* fs = wal::PosixFileSystem();
  Clock* clock = SystemClock();
};

// What a read returns.
struct Entry {
  std::string key;
  std::string value;  // compact JSON text, stored verbatim
  uint64_t version = 0;
  int64_t updated_at_ms = 0;
  int64_t expires_at_ms = 0;  // 0 = no TTL
};

enum class Outcome {
  kOk,
  kNotFound,       // Get of an absent key
  kConflict,       // guard did not match
  kInvalid,        // argument refused (error says why)
  kStorageFailed,  // the log failed or is closed: nothing was applied
  kBusy,           // the log is too far behind the disk: nothing was applied; retry
};

struct GetResult {
  Outcome outcome = Outcome::kNotFound;
  Entry entry;
  uint64_t visible_lsn = 0;
};

struct WriteResult {
  Outcome outcome = Outcome::kOk;
  uint64_t version = 0;  // the new version (kOk)
  bool applied = false;  // false for a delete of an absent key (nothing logged)
  // kConflict: the key's current version, absent when the key is absent;
  // current_value is set exactly when current_version is.
  std::optional<uint64_t> current_version;
  std::optional<std::string> current_value;
  uint64_t visible_lsn = 0;
  std::string error;  // kInvalid / kStorageFailed / kBusy
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
};

struct StoreCounters {
  uint64_t live_keys = 0;  // includes expired keys the sweep has not reached
  uint64_t tombstones = 0;
  // Distinct workspaces holding a live key, an expired key or a tombstone.
  uint64_t workspaces = 0;
  uint64_t sweep_scans = 0;  // shard scans by Sweep (skipped when nothing is due)
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
  WriteResult Delete(std::string_view workspace, std::string_view key,
                     std::optional<uint64_t> if_match_version);
  // Live keys of `workspace` with `prefix`, strictly after `after`, at most
  // `limit` (>= 1). Not a point-in-time view across shards: a key written
  // during the listing may or may not appear; order and uniqueness hold.
  // visible_lsn covers what the listing reveals: its entries (and the one
  // behind `more`) and the absences in the key range it covered (up to
  // the key behind `more`), through each visited shard's newest removal
  // when that shard has unacknowledged removals (deletes, expiry of
  // unacknowledged TTL puts) whose key window meets the range. It does
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

 private:
  explicit Store(const StoreOptions& options);
  Status Recover();
  void ApplyRecovered(const wal::Record& r);
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
  void MaintenanceLoop();

  const StoreOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<wal::FileLock> dir_lock_;
  std::unique_ptr<wal::Wal> wal_;
  std::string snap_dir_;
  RecoveryInfo recovery_;

  std::mutex snapshot_mu_;              // one snapshot at a time
  // Snapshot trigger: log bytes since the last snapshot are
  // wal bytes_appended() + replayed_bytes_ - bytes_at_last_snapshot_.
  std::atomic<uint64_t> bytes_at_last_snapshot_{0};
  std::atomic<uint64_t> replayed_bytes_{0};

  std::atomic<uint64_t> sweep_scans_{0};

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
