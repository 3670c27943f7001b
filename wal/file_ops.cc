// Path helpers and FileSystem::CreateDirs, shared by every FileSystem so
// the durability of directory creation is one piece of code.
#include "wal/file_ops.h"

namespace casmem::wal {

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

std::string ParentDir(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

Status FileSystem::CreateDirs(const std::string& path) {
  // Each prefix in turn, from the root down.
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string partial = path.substr(0, pos);
    if (partial.empty() || partial == "/") continue;
    bool created = false;
    Status s = CreateDir(partial, &created);
    if (s.ok() && created) s = SyncDir(ParentDir(partial));
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace casmem::wal
