// MemFs implementation.
#include "tests/support/mem_fs.h"

#include <algorithm>

namespace casmem::testing {
namespace {
std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}
std::string Base(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
std::string Trim(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}
}  // namespace

class MemFile final : public wal::File {
 public:
  MemFile(MemFs* fs, std::string path, std::shared_ptr<MemFs::Inode> inode, bool writable)
      : fs_(fs), path_(std::move(path)), inode_(std::move(inode)), writable_(writable) {}

  Status WriteAt(uint64_t offset, std::string_view data) override {
    if (!writable_) return Status::IOError(path_ + ": not open for writing");
    Status s = fs_->CheckWrite(path_);
    if (!s.ok()) return s;
    std::lock_guard lk(fs_->mu_);
    std::string& d = inode_->data;
    if (d.size() < offset + data.size()) d.resize(offset + data.size(), '\0');
    std::copy(data.begin(), data.end(), d.begin() + static_cast<long>(offset));
    inode_->Touch(offset, offset + data.size());
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
    Status s = fs_->CheckSync(path_);
    if (!s.ok()) return s;
    std::lock_guard lk(fs_->mu_);
    MemFs::Inode& in = *inode_;
    in.durable.resize(in.data.size(), '\0');
    const size_t hi = std::min(in.dirty_hi, in.data.size());
    if (in.dirty_lo < hi) {
      std::copy(in.data.begin() + static_cast<long>(in.dirty_lo),
                in.data.begin() + static_cast<long>(hi),
                in.durable.begin() + static_cast<long>(in.dirty_lo));
    }
    in.dirty_lo = SIZE_MAX;
    in.dirty_hi = 0;
    return Status::OK();
  }
  Status Allocate(uint64_t length) override {
    Status s = fs_->CheckWrite(path_);
    if (!s.ok()) return s;
    std::lock_guard lk(fs_->mu_);
    if (inode_->data.size() < length) inode_->data.resize(length, '\0');  // zeros: not dirty
    return Status::OK();
  }
  Status Truncate(uint64_t length) override {
    Status s = fs_->CheckWrite(path_);
    if (!s.ok()) return s;
    std::lock_guard lk(fs_->mu_);
    const size_t old = inode_->data.size();
    inode_->data.resize(length, '\0');
    if (length > old) inode_->Touch(old, length);
    return Status::OK();
  }
  Status Size(uint64_t* size) override {
    std::lock_guard lk(fs_->mu_);
    *size = inode_->data.size();
    return Status::OK();
  }

 private:
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

Status MemFs::CheckWrite(const std::string& path) {
  if (frozen_) return Status::IOError(path + ": injected failure (frozen)");
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

Status MemFs::CheckSync(const std::string& path) {
  std::function<void()> hook;
  bool counts;
  {
    std::lock_guard lk(mu_);
    hook = sync_hook_;
    counts = path.find(sync_filter_) != std::string::npos;
  }
  if (hook) hook();
  syncs_.fetch_add(1);
  if (frozen_) return Status::IOError(path + ": injected failure (frozen)");
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
  sync_hook_ = std::move(hook);
}

Status MemFs::Open(const std::string& path, wal::OpenMode mode, std::unique_ptr<wal::File>* out) {
  if (mode != wal::OpenMode::kRead) {
    Status s = CheckWrite(path);
    if (!s.ok()) return s;
  }
  std::lock_guard lk(mu_);
  if (!dirs_.count(Parent(path))) return Status::IOError("open " + path + ": no such directory");
  auto it = names_.find(path);
  if (mode == wal::OpenMode::kCreateTrunc) {
    if (it == names_.end()) {
      it = names_.emplace(path, std::make_shared<Inode>()).first;
    } else {
      it->second->data.clear();
      it->second->Touch(0, 0);
    }
  } else if (it == names_.end()) {
    return Status::IOError("open " + path + ": No such file or directory");
  }
  *out = std::make_unique<MemFile>(this, path, it->second, mode != wal::OpenMode::kRead);
  return Status::OK();
}

Status MemFs::Rename(const std::string& from, const std::string& to) {
  Status s = CheckWrite(from);
  if (!s.ok()) return s;
  std::lock_guard lk(mu_);
  auto it = names_.find(from);
  if (it == names_.end()) return Status::IOError("rename " + from + ": no such file");
  names_[to] = it->second;
  names_.erase(from);
  return Status::OK();
}

Status MemFs::Remove(const std::string& path) {
  Status s = CheckWrite(path);
  if (!s.ok()) return s;
  std::lock_guard lk(mu_);
  if (names_.erase(path) == 0) return Status::IOError("unlink " + path + ": no such file");
  return Status::OK();
}

Status MemFs::CreateDirs(const std::string& path) {
  std::lock_guard lk(mu_);
  std::string p = Trim(path);
  while (!p.empty() && !dirs_.count(p)) {
    dirs_.insert(p);  // directories themselves are durable at once
    p = Parent(p);
  }
  dirs_.insert("");
  return Status::OK();
}

Status MemFs::SyncDir(const std::string& path) {
  const std::string dir = Trim(path);
  Status s = CheckSync(dir);
  if (!s.ok()) return s;
  std::lock_guard lk(mu_);
  for (auto it = durable_.begin(); it != durable_.end();) {
    it = Parent(it->first) == dir ? durable_.erase(it) : std::next(it);
  }
  for (const auto& [name, inode] : names_) {
    if (Parent(name) == dir) durable_[name] = inode;
  }
  return Status::OK();
}

Status MemFs::List(const std::string& dir, std::vector<std::string>* names) {
  std::lock_guard lk(mu_);
  names->clear();
  if (!dirs_.count(Trim(dir))) return Status::IOError("opendir " + dir + ": no such directory");
  for (const auto& [name, inode] : names_) {
    if (Parent(name) == Trim(dir)) names->push_back(Base(name));
  }
  return Status::OK();
}

bool MemFs::Exists(const std::string& path) {
  std::lock_guard lk(mu_);
  return names_.count(path) > 0 || dirs_.count(Trim(path)) > 0;
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

void MemFs::PowerLoss() {
  std::lock_guard lk(mu_);
  names_ = durable_;
  for (auto& [name, inode] : names_) {
    inode->data = inode->durable;
    inode->dirty_lo = SIZE_MAX;
    inode->dirty_hi = 0;
  }
  locks_.clear();
  frozen_ = false;
  writes_left_ = -1;
  syncs_left_ = -1;
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
  inode->dirty_lo = SIZE_MAX;
  inode->dirty_hi = 0;
  durable_[path] = inode;
}

std::vector<std::string> MemFs::Files(const std::string& dir) {
  std::vector<std::string> out;
  (void)List(dir, &out);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace casmem::testing
