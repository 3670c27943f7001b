// MemFs: an in-memory wal::FileSystem for tests, after LevelDB's
// fault_injection_test. It remembers, per file, the bytes as of the last
// Sync() and, per directory, the entries as of the last SyncDir(), so
// PowerLoss() can drop everything that was not made durable. It also
// injects failures (the Nth write or sync fails) and lets a test hold a
// sync at a gate to make races deterministic.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "wal/file_ops.h"

namespace casmem::testing {

class MemFs final : public wal::FileSystem {
 public:
  struct Inode {
    std::string data;     // what reads see
    std::string durable;  // what survives a power loss
    // Bytes of `data` changed since the last Sync (Sync copies only these).
    size_t dirty_lo = SIZE_MAX, dirty_hi = 0;
    void Touch(size_t lo, size_t hi) {
      dirty_lo = std::min(dirty_lo, lo);
      dirty_hi = std::max(dirty_hi, hi);
    }
  };

  Status Open(const std::string& path, wal::OpenMode mode, std::unique_ptr<wal::File>* out) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status CreateDirs(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  Status List(const std::string& dir, std::vector<std::string>* names) override;
  bool Exists(const std::string& path) override;
  Status Lock(const std::string& path, std::unique_ptr<wal::FileLock>* out) override;

  // ---- Fault injection -----------------------------------------------
  // The n-th next write (1 = the very next) and every later one fail; -1 = never.
  // Only paths containing `filter` count and fail (empty: every path).
  void FailWritesAfter(int n, std::string filter = "");
  void FailSyncsAfter(int n, std::string filter = "");
  // Every mutating call fails from now on (the machine "stopped").
  void Freeze() { frozen_ = true; }
  // Drops every byte and directory entry that was not synced, then thaws.
  void PowerLoss();
  // Called at the start of every File::Sync (outside the fs lock).
  void SetSyncHook(std::function<void()> hook);

  // ---- Inspection and byte surgery -------------------------------------
  bool ReadFile(const std::string& path, std::string* data);
  // Replaces a file's contents (both what reads see and what is durable).
  void WriteFile(const std::string& path, const std::string& data);
  std::vector<std::string> Files(const std::string& dir);
  uint64_t sync_count() const { return syncs_.load(); }

 private:
  friend class MemFile;
  Status CheckWrite(const std::string& path);
  Status CheckSync(const std::string& path);

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Inode>> names_;    // current directory state
  std::map<std::string, std::shared_ptr<Inode>> durable_;  // as of the last SyncDir
  std::set<std::string> dirs_;
  std::set<std::string> locks_;
  std::function<void()> sync_hook_;
  std::string write_filter_, sync_filter_;
  std::atomic<int> writes_left_{-1};
  std::atomic<int> syncs_left_{-1};
  std::atomic<bool> frozen_{false};
  std::atomic<uint64_t> syncs_{0};
};

}  // namespace casmem::testing
