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
  // Each prefix in turn, from the root down. The directory asked for has
  // its parent synced even when it exists already: a process that crashed
  // between its mkdir and that sync left it existing but not durable.
  // (An intermediate directory in that state stays so until the file
  // system commits it on its own; only a first start can leave one.)
  std::string_view want(path);
  while (want.size() > 1 && want.back() == '/') want.remove_suffix(1);
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = want.find('/', pos + 1);
    const std::string partial(want.substr(0, pos));
    if (partial.empty() || partial == "/") continue;
    bool created = false;
    Status s = CreateDir(partial, &created);
    if (s.ok() && (created || pos == std::string::npos)) s = SyncDir(ParentDir(partial));
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace casmem::wal
