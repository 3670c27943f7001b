// MemFs: an in-memory wal::FileSystem for tests, after LevelDB's
// fault_injection_test, that models what a power loss may do:
// - file data: what reads see, and what survives (as of the last Sync).
//   A page (4 KiB) written since the last Sync survives or not on its
//   own, so a later page can persist while an earlier one is lost;
// - directory entries: creations, renames, removals and mkdirs of a
//   directory not yet made durable by SyncDir of that directory are kept
//   in order; a power loss keeps some prefix of them (a file created and
//   fsynced in a directory never synced may vanish; a rename may revert).
//   A directory that vanishes takes everything under it.
// PowerLoss() keeps nothing unsynced; PowerLoss(seed) chooses per page and
// per directory from the seed, so a failure reproduces. It also injects
// failures (the Nth write or sync fails), stops the machine at the Nth
// mutating call (CrashAtStep), and lets a test hold a sync at a gate.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "wal/file_ops.h"

namespace casmem::testing {

class MemFs final : public wal::FileSystem {
 public:
  static constexpr size_t kPageSize = 4096;

  struct Inode {
    std::string data;              // what reads see
    std::string durable;           // what survives a power loss for sure
    std::set<size_t> dirty_pages;  // pages of `data` written since the last Sync
    bool truncated = false;        // shrunk (kCreateTrunc) since the last Sync
  };

  Status Open(const std::string& path, wal::OpenMode mode, std::unique_ptr<wal::File>* out) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status CreateDir(const std::string& path, bool* created) override;
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
  bool frozen() const { return frozen_.load(); }
  // Mutating calls: Open for writing, WriteAt, Allocate, Sync, Rename,
  // Remove, CreateDir (of a new directory), SyncDir. `op` is one of
  // "open", "write", "allocate", "sync", "rename", "remove", "mkdir",
  // "syncdir"; `path` is the file's current name ("from -> to" for a
  // rename).
  using StepFilter = std::function<bool(std::string_view op, const std::string& path)>;
  // The machine stops at the n-th next mutating call (1 = the very next)
  // that `counts` accepts (null: every call): that call and every later
  // one fail, as after Freeze(). steps() counts the accepted calls so far.
  void CrashAtStep(int n, StepFilter counts = nullptr);
  int steps() const { return steps_.load(); }
  // The process died but the kernel kept every byte: thaws the machine
  // (failure injection is reset) and loses nothing.
  void ProcessCrash();
  // Power loss, then the machine thaws (failure injection is reset):
  // drops everything that was not made durable...
  void PowerLoss();
  // ...or keeps a seeded random part of it (see the top of this file)...
  void PowerLoss(uint64_t seed);
  // ...or keeps exactly the unsynced pages `keep_page` chooses (and no
  // unsynced directory change).
  using PageChoice = std::function<bool(const std::string& path, size_t page)>;
  void PowerLoss(const PageChoice& keep_page);
  // Called at the start of every File::Sync and SyncDir (outside the fs
  // lock); the second form is told the path.
  void SetSyncHook(std::function<void()> hook);
  void SetSyncPathHook(std::function<void(const std::string& path)> hook);

  // ---- Inspection and byte surgery -------------------------------------
  bool ReadFile(const std::string& path, std::string* data);
  // Replaces a file's contents (both what reads see and what is durable).
  void WriteFile(const std::string& path, const std::string& data);
  std::vector<std::string> Files(const std::string& dir);
  // Pages of the file written since its last Sync, ascending.
  std::vector<size_t> DirtyPages(const std::string& path);
  uint64_t sync_count() const { return syncs_.load(); }

 private:
  friend class MemFile;
  // A directory change not yet made durable, in the directory `a` is in.
  struct DirOp {
    enum Kind { kCreate, kRemove, kRename, kMkdir } kind;
    std::string a, b;  // path (kRename: from, to)
    std::shared_ptr<Inode> inode;
  };
  Status Step(std::string_view op, const std::string& path);
  Status CheckWrite(std::string_view op, const std::string& path);
  Status CheckSync(std::string_view op, const std::string& path);
  enum class LossMode { kDropAll, kRandom, kChosen };
  void PowerLossLocked(LossMode mode, uint64_t seed, const PageChoice& keep_page);
  void RestartLocked();  // REQUIRES mu_ held

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Inode>> names_;    // current directory state
  std::map<std::string, std::shared_ptr<Inode>> durable_;  // as of the last SyncDir
  std::set<std::string> dirs_{""};                         // "" is the root
  std::set<std::string> durable_dirs_{""};
  std::map<std::string, std::vector<DirOp>> pending_;      // by directory, in order
  std::set<std::string> locks_;
  std::function<void(const std::string&)> sync_hook_;
  std::string write_filter_, sync_filter_;
  StepFilter step_filter_;
  int crash_at_ = -1;
  std::atomic<int> steps_{0};
  std::atomic<int> writes_left_{-1};
  std::atomic<int> syncs_left_{-1};
  std::atomic<bool> frozen_{false};
  std::atomic<uint64_t> syncs_{0};
};

// Holds every fsync of a MemFs until Open() (a very slow disk), so that
// appends pile up behind a sync in progress. WaitStalled(): a sync has
// reached the gate. The hook keeps the mutex alive: the log's thread may
// still be leaving it after the gate is gone.
class SyncGate {
 public:
  explicit SyncGate(MemFs& fs) : fs_(fs) {
    mu_->lock();
    fs_.SetSyncHook([mu = mu_, stalled = stalled_] {
      *stalled = true;
      std::lock_guard lk(*mu);
    });
  }
  void WaitStalled() {
    while (!*stalled_) std::this_thread::yield();
  }
  void Open() {
    if (held_) mu_->unlock();
    held_ = false;
  }
  ~SyncGate() {
    Open();
    fs_.SetSyncHook(nullptr);
  }
  SyncGate(const SyncGate&) = delete;
  SyncGate& operator=(const SyncGate&) = delete;

 private:
  MemFs& fs_;
  std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::atomic<bool>> stalled_ = std::make_shared<std::atomic<bool>>(false);
  bool held_ = true;
};

}  // namespace casmem::testing
