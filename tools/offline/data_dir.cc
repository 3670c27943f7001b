// The --data-dir option and the data-directory lock of offline commands.
#include "tools/offline/data_dir.h"

#include "tools/cli/command.h"
#include "wal/log_reader.h"

namespace casmem::offline {

bool TakeOption(std::vector<std::string>* args, const std::string& name, std::string* value,
                std::string* error) {
  bool found = false;
  for (size_t i = 0; i < args->size();) {
    const std::string& a = (*args)[i];
    if (a == "--") break;
    if (a == name) {
      if (i + 1 >= args->size()) {
        *error = name + " needs a value";
        args->erase(args->begin() + i);
        return true;
      }
      *value = (*args)[i + 1];
      args->erase(args->begin() + i, args->begin() + i + 2);
      found = true;
    } else if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 &&
               a[name.size()] == '=') {
      *value = a.substr(name.size() + 1);
      args->erase(args->begin() + i);
      found = true;
    } else {
      ++i;
    }
  }
  return found;
}

bool TakeFlag(std::vector<std::string>* args, const std::string& name) {
  bool found = false;
  for (size_t i = 0; i < args->size();) {
    if ((*args)[i] == "--") break;
    if ((*args)[i] == name) {
      args->erase(args->begin() + i);
      found = true;
    } else {
      ++i;
    }
  }
  return found;
}

bool TakeDataDir(std::vector<std::string>* args, std::string* dir, std::string* error) {
  *dir = "./data";
  TakeOption(args, "--data-dir", dir, error);
  if (error->empty() && dir->empty()) *error = "--data-dir needs a directory";
  return error->empty();
}

int LockDataDir(const std::string& dir, std::unique_ptr<wal::FileLock>* lock) {
  Status s = wal::PosixFileSystem()->Lock(wal::JoinPath(dir, "LOCK"), lock);
  if (s.ok()) return cli::kExitOk;
  std::string why = s.ToString();
  if (why.find("is locked") != std::string::npos) {
    return cli::Fail(cli::kExitFailed, "casmemd is serving " + dir +
                                           ": stop it first (offline commands need the directory "
                                           "to themselves)");
  }
  return cli::Fail(cli::kExitFailed, "cannot lock data directory " + dir + ": " + why);
}

int RequireDataDir(const std::string& dir) {
  wal::FileSystem* fs = wal::PosixFileSystem();
  if (fs->Exists(wal::JoinPath(dir, "wal")) || fs->Exists(wal::JoinPath(dir, "snap"))) {
    return cli::kExitOk;
  }
  return cli::Fail(cli::kExitNotFound, fs->Exists(dir)
                                           ? dir + " is not a casmem data directory (no wal/ or snap/)"
                                           : "no data directory " + dir);
}

int LockAndCheck(const std::string& dir, std::unique_ptr<wal::FileLock>* lock, LogCheck* check) {
  if (int rc = RequireDataDir(dir)) return rc;
  if (int rc = LockDataDir(dir, lock)) return rc;
  Status s = CheckLog(dir, check);
  if (!s.ok()) return cli::Fail(cli::kExitFailed, s.ToString());
  return cli::kExitOk;
}

Status ReadFile(const std::string& path, std::string* out) {
  return wal::ReadWholeFile(wal::PosixFileSystem(), path, out);
}

}  // namespace casmem::offline
