// MemFs implementation.
#include "tests/support/mem_fs.h"

#include <algorithm>
#include <random>

namespace casmem::testing {
namespace {
// Paths are kept without trailing slashes; the root is "".
std::string Norm(std::string p) {
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p;
}
std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}
std::string Base(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
void MarkDirty(MemFs::Inode& in, size_t lo, size_t hi) {
  if (lo >= hi) return;
  for (size_t p = lo / MemFs::kPageSize; p <= (hi - 1) / MemFs::kPageSize; ++p) {
    in.dirty_pages.insert(p);
  }
}
// Copies page `p` of `data` (as far as data reaches) into `durable`.
void PersistPage(MemFs::Inode& in, size_t p) {
  const size_t lo = p * MemFs::kPageSize;
  if (lo >= in.data.size()) return;
  const size_t hi = std::min(in.data.size(), lo + MemFs::kPageSize);
  if (in.durable.size() < hi) in.durable.resize(hi, '\0');
  std::copy(in.data.begin() + static_cast<long>(lo), in.data.begin() + static_cast<long>(hi),
            in.durable.begin() + static_cast<long>(lo));
}
}  // namespace

class MemFile final : public wal::File {
 public:
  MemFile(MemFs* fs, std::string path, std::shared_ptr<MemFs::Inode> inode, bool writable)
      : fs_(fs), path_(std::move(path)), inode_(std::move(inode)), writable_(writable) {}

  Status WriteAt(uint64_t offset, std::string_view data) override {
    if (!writable_) return Status::IOError(path_ + ": not open for writing");
    Status s = fs_->CheckWrite("write", Name());
    if (!s.ok()) return s;
    std::lock_guard lk(fs_->mu_);
    std::string& d = inode_->data;
    if (d.size() < offset + data.size()) d.resize(offset + data.size(), '\0');
    std::copy(data.begin(), data.end(), d.begin() + static_cast<long>(offset));
    MarkDirty(*inode_, offset, offset + data.size());
    return Status::OK();
  }
  Status ReadAt(uint64_t offset, size_t n, char* buf, size_t* got) override {
    std::lock_guard lk(fs_->mu_);
    const std::string& d = inode_->data;
    *got = offset >= d.size() ? 0 : std::min<size_t>(n, d.size() - offset);
    std::copy_n(d.begin() + static_cast<long>(offset), *got, buf);
    return Status::OK();
  }
  Status Sync() override {
    Status s = fs_->CheckSync("sync", Name());
    if (!s.ok()) return s;
    std::lock_guard lk(fs_->mu_);
    MemFs::Inode& in = *inode_;
    in.durable.resize(in.data.size(), '\0');
    for (size_t p : in.dirty_pages) PersistPage(in, p);
    in.dirty_pages.clear();
    in.truncated = false;
    return Status::OK();
  }
  Status Allocate(uint64_t length) override {
    Status s = fs_->CheckWrite("allocate", Name());
    if (!s.ok()) return s;
    std::lock_guard lk(fs_->mu_);
    // Zeros, not dirty: the new size is durable at the next Sync.
    if (inode_->data.size() < length) inode_->data.resize(length, '\0');
    return Status::OK();
  }
  Status Size(uint64_t* size) override {
    std::lock_guard lk(fs_->mu_);
    *size = inode_->data.size();
    return Status::OK();
  }

 private:
  // The file's name now (it may have been renamed since it was opened).
  std::string Name() {
    std::lock_guard lk(fs_->mu_);
    for (const auto& [name, inode] : fs_->names_) {
      if (inode == inode_) return name;
    }
    return path_;
  }

  MemFs* fs_;
  std::string path_;
  std::shared_ptr<MemFs::Inode> inode_;
  bool writable_;
};

void MemFs::FailWritesAfter(int n, std::string filter) {
  std::lock_guard lk(mu_);
  write_filter_ = std::move(filter);
  writes_left_ = n;
}

void MemFs::FailSyncsAfter(int n, std::string filter) {
  std::lock_guard lk(mu_);
  sync_filter_ = std::move(filter);
  syncs_left_ = n;
}

void MemFs::CrashAtStep(int n, StepFilter counts) {
  std::lock_guard lk(mu_);
  crash_at_ = n;
  step_filter_ = std::move(counts);
  steps_ = 0;
}

Status MemFs::Step(std::string_view op, const std::string& path) {
  {
    std::lock_guard lk(mu_);
    if (!frozen_ && crash_at_ > 0 && (!step_filter_ || step_filter_(op, path)) &&
        ++steps_ == crash_at_) {
      frozen_ = true;
    }
  }
  if (frozen_) return Status::IOError(path + ": injected failure (frozen)");
  return Status::OK();
}

Status MemFs::CheckWrite(std::string_view op, const std::string& path) {
  Status s = Step(op, path);
  if (!s.ok()) return s;
  {
    std::lock_guard lk(mu_);
    if (path.find(write_filter_) == std::string::npos) return Status::OK();
  }
  int left = writes_left_.load();
  while (left > 0 && !writes_left_.compare_exchange_weak(left, left - 1)) {
  }
  if (left == 1 || left == 0) {
    writes_left_ = 0;
    return Status::IOError("write " + path + ": injected failure");
  }
  return Status::OK();
}

Status MemFs::CheckSync(std::string_view op, const std::string& path) {
  std::function<void(const std::string&)> hook;
  bool counts;
  {
    std::lock_guard lk(mu_);
    hook = sync_hook_;
    counts = path.find(sync_filter_) != std::string::npos;
  }
  if (hook) hook(path);
  syncs_.fetch_add(1);
  Status s = Step(op, path);
  if (!s.ok()) return s;
  if (!counts) return Status::OK();
  int left = syncs_left_.load();
  while (left > 0 && !syncs_left_.compare_exchange_weak(left, left - 1)) {
  }
  if (left == 1 || left == 0) {
    syncs_left_ = 0;
    return Status::IOError("fdatasync " + path + ": injected failure");
  }
  return Status::OK();
}

void MemFs::SetSyncHook(std::function<void()> hook) {
  std::lock_guard lk(mu_);
  sync_hook_ = nullptr;
  if (hook) sync_hook_ = [hook = std::move(hook)](const std::string&) { hook(); };
}

void MemFs::SetSyncPathHook(std::function<void(const std::string& path)> hook) {
  std::lock_guard lk(mu_);
  sync_hook_ = std::move(hook);
}

Status MemFs::Open(const std::string& path, wal::OpenMode mode, std::unique_ptr<wal::File>* out) {
  if (mode != wal::OpenMode::kRead) {
    Status s = CheckWrite("open", path);
    if (!s.ok()) return s;
  }
  std::lock_guard lk(mu_);
  if (!dirs_.count(Parent(path))) return Status::IOError("open " + path + ": no such directory");
  auto it = names_.find(path);
  if (mode == wal::OpenMode::kCreateTrunc) {
    if (it == names_.end()) {
      it = names_.emplace(path, std::make_shared<Inode>()).first;
      pending_[Parent(path)].push_back({DirOp::kCreate, path, "", it->second});
    } else {
      it->second->data.clear();
      it->second->dirty_pages.clear();
      it->second->truncated = true;
    }
  } else if (it == names_.end()) {
    return Status::IOError("open " + path + ": No such file or directory");
  }
  *out = std::make_unique<MemFile>(this, path, it->second, mode != wal::OpenMode::kRead);
  return Status::OK();
}

Status MemFs::Rename(const std::string& from, const std::string& to) {
  Status s = CheckWrite("rename", from + " -> " + to);
  if (!s.ok()) return s;
  std::lock_guard lk(mu_);
  auto it = names_.find(from);
  if (it == names_.end()) return Status::IOError("rename " + from + ": no such file");
  if (!dirs_.count(Parent(to))) return Status::IOError("rename " + to + ": no such directory");
  std::shared_ptr<Inode> inode = it->second;
  names_.erase(it);
  names_[to] = inode;
  if (Parent(from) == Parent(to)) {
    pending_[Parent(to)].push_back({DirOp::kRename, from, to, inode});
  } else {
    pending_[Parent(from)].push_back({DirOp::kRemove, from, "", nullptr});
    pending_[Parent(to)].push_back({DirOp::kCreate, to, "", inode});
  }
  return Status::OK();
}

Status MemFs::Remove(const std::string& path) {
  Status s = CheckWrite("remove", path);
  if (!s.ok()) return s;
  std::lock_guard lk(mu_);
  if (names_.erase(path) == 0) return Status::IOError("unlink " + path + ": no such file");
  pending_[Parent(path)].push_back({DirOp::kRemove, path, "", nullptr});
  return Status::OK();
}

Status MemFs::CreateDir(const std::string& path, bool* created) {
  const std::string dir = Norm(path);
  *created = false;
  {
    std::lock_guard lk(mu_);
    if (dirs_.count(dir)) return Status::OK();
    if (names_.count(dir)) return Status::IOError(path + " is not a directory");
  }
  Status s = CheckWrite("mkdir", dir);
  if (!s.ok()) return s;
  std::lock_guard lk(mu_);
  if (!dirs_.count(Parent(dir))) return Status::IOError("mkdir " + path + ": no such directory");
  *created = dirs_.insert(dir).second;
  if (*created) pending_[Parent(dir)].push_back({DirOp::kMkdir, dir, "", nullptr});
  return Status::OK();
}

Status MemFs::SyncDir(const std::string& path) {
  const std::string dir = Norm(path);
  Status s = CheckSync("syncdir", dir);
  if (!s.ok()) return s;
  std::lock_guard lk(mu_);
  if (!dirs_.count(dir)) return Status::IOError("open directory " + path + ": no such directory");
  for (auto it = durable_.begin(); it != durable_.end();) {
    it = Parent(it->first) == dir ? durable_.erase(it) : std::next(it);
  }
  for (const auto& [name, inode] : names_) {
    if (Parent(name) == dir) durable_[name] = inode;
  }
  for (auto it = durable_dirs_.begin(); it != durable_dirs_.end();) {
    it = !it->empty() && Parent(*it) == dir ? durable_dirs_.erase(it) : std::next(it);
  }
  for (const auto& d : dirs_) {
    if (!d.empty() && Parent(d) == dir) durable_dirs_.insert(d);
  }
  pending_.erase(dir);
  return Status::OK();
}

Status MemFs::List(const std::string& dir, std::vector<std::string>* names) {
  std::lock_guard lk(mu_);
  names->clear();
  const std::string d = Norm(dir);
  if (!dirs_.count(d)) return Status::IOError("opendir " + dir + ": no such directory");
  for (const auto& [name, inode] : names_) {
    if (Parent(name) == d) names->push_back(Base(name));
  }
  return Status::OK();
}

bool MemFs::Exists(const std::string& path) {
  std::lock_guard lk(mu_);
  return names_.count(path) > 0 || dirs_.count(Norm(path)) > 0;
}

Status MemFs::Lock(const std::string& path, std::unique_ptr<wal::FileLock>* out) {
  struct MemLock final : wal::FileLock {
    MemFs* fs;
    std::string path;
    ~MemLock() override {
      std::lock_guard lk(fs->mu_);
      fs->locks_.erase(path);
    }
  };
  std::lock_guard lk(mu_);
  if (!locks_.insert(path).second) return Status::IOError(path + " is locked");
  auto lock = std::make_unique<MemLock>();
  lock->fs = this;
  lock->path = path;
  *out = std::move(lock);
  return Status::OK();
}

// After a crash of either kind the machine starts again: no process holds
// a lock, and the failure injection of the run before is gone.
void MemFs::RestartLocked() {
  locks_.clear();
  frozen_ = false;
  crash_at_ = -1;
  step_filter_ = nullptr;
  writes_left_ = -1;
  syncs_left_ = -1;
}

void MemFs::ProcessCrash() {
  std::lock_guard lk(mu_);
  RestartLocked();
}

void MemFs::PowerLoss() {
  std::lock_guard lk(mu_);
  PowerLossLocked(LossMode::kDropAll, 0, nullptr);
}

void MemFs::PowerLoss(uint64_t seed) {
  std::lock_guard lk(mu_);
  PowerLossLocked(LossMode::kRandom, seed, nullptr);
}

void MemFs::PowerLoss(const PageChoice& keep_page) {
  std::lock_guard lk(mu_);
  PowerLossLocked(LossMode::kChosen, 0, keep_page);
}

void MemFs::PowerLossLocked(LossMode mode, uint64_t seed, const PageChoice& keep_page) {
  std::mt19937_64 rng(seed);
  const bool random = mode == LossMode::kRandom;
  // Directories: the durable state plus, per directory, a prefix of its
  // pending changes (a journal commits them in order).
  auto files = durable_;
  auto dirs = durable_dirs_;
  for (const auto& [dir, ops] : pending_) {
    const size_t keep = random ? static_cast<size_t>(rng() % (ops.size() + 1)) : 0;
    for (size_t i = 0; i < keep; ++i) {
      const DirOp& op = ops[i];
      switch (op.kind) {
        case DirOp::kCreate: files[op.a] = op.inode; break;
        case DirOp::kRemove: files.erase(op.a); break;
        case DirOp::kMkdir: dirs.insert(op.a); break;
        case DirOp::kRename: {
          auto it = files.find(op.a);
          if (it == files.end()) break;
          auto inode = it->second;
          files.erase(it);
          files[op.b] = inode;
          break;
        }
      }
    }
  }
  // A directory that did not survive takes its contents along.
  auto reachable = [&](std::string d) {
    while (!d.empty()) {
      if (!dirs.count(d)) return false;
      d = Parent(d);
    }
    return true;
  };
  for (auto it = dirs.begin(); it != dirs.end();) it = reachable(*it) ? std::next(it) : dirs.erase(it);
  for (auto it = files.begin(); it != files.end();) {
    it = reachable(Parent(it->first)) ? std::next(it) : files.erase(it);
  }
  // File data: each page written since the last Sync persists or not.
  std::set<Inode*> seen;
  auto settle = [&](const std::string& path, Inode& in) {
    if (!seen.insert(&in).second) return;
    if (in.truncated && random && (rng() & 1)) in.durable.clear();
    for (size_t p : in.dirty_pages) {
      if (random ? (rng() & 1) != 0 : mode == LossMode::kChosen && keep_page(path, p)) {
        PersistPage(in, p);
      }
    }
    in.data = in.durable;
    in.dirty_pages.clear();
    in.truncated = false;
  };
  for (auto& [name, inode] : files) settle(name, *inode);
  for (auto& [name, inode] : names_) settle(name, *inode);  // unreachable now; keep them consistent
  names_ = files;
  durable_ = files;
  dirs_ = dirs;
  durable_dirs_ = dirs;
  pending_.clear();
  RestartLocked();
}

bool MemFs::ReadFile(const std::string& path, std::string* data) {
  std::lock_guard lk(mu_);
  auto it = names_.find(path);
  if (it == names_.end()) return false;
  *data = it->second->data;
  return true;
}

void MemFs::WriteFile(const std::string& path, const std::string& data) {
  std::lock_guard lk(mu_);
  auto& inode = names_[path];
  if (!inode) inode = std::make_shared<Inode>();
  inode->data = inode->durable = data;
  inode->dirty_pages.clear();
  inode->truncated = false;
  durable_[path] = inode;
}

std::vector<size_t> MemFs::DirtyPages(const std::string& path) {
  std::lock_guard lk(mu_);
  auto it = names_.find(path);
  if (it == names_.end()) return {};
  return {it->second->dirty_pages.begin(), it->second->dirty_pages.end()};
}

std::vector<std::string> MemFs::Files(const std::string& dir) {
  std::vector<std::string> out;
  (void)List(dir, &out);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace casmem::testing
