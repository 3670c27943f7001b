// What every offline command shares about the data directory it works on:
// the --data-dir option, the refusal while a casmemd holds the directory
// (its LOCK, wal::FileLock), and small file helpers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tools/offline/log_check.h"
#include "wal/file_ops.h"

namespace casmem::offline {

// Takes "--data-dir DIR" / "--data-dir=DIR" out of `args` (default
// "./data", like casmemd). False with *error set on a missing value.
bool TakeDataDir(std::vector<std::string>* args, std::string* dir, std::string* error);

// Removes the flag `name` from `args`; true when it was there.
bool TakeFlag(std::vector<std::string>* args, const std::string& name);
// Removes "NAME VALUE" / "NAME=VALUE"; true when present (*error set when
// the value is missing).
bool TakeOption(std::vector<std::string>* args, const std::string& name, std::string* value,
                std::string* error);

// Takes the directory's lock, as casmemd does, for as long as *lock lives,
// so no casmemd starts on it meanwhile. Returns 0, or prints the one-line
// error (exit 4: "casmemd is serving DIR") and returns it. The LOCK file
// is created when missing (as casmemd would create it).
int LockDataDir(const std::string& dir, std::unique_ptr<wal::FileLock>* lock);

// Exits 1 (not found) with a message when `dir` holds no wal/ or snap/.
int RequireDataDir(const std::string& dir);

// What check, repair and dump do first: RequireDataDir, LockDataDir, then
// CheckLog (log_check.h) into *check. Returns 0 with *lock held, or the
// exit code after printing the one-line error (4 when a file cannot be read).
int LockAndCheck(const std::string& dir, std::unique_ptr<wal::FileLock>* lock, LogCheck* check);

// The whole file, or an error status.
Status ReadFile(const std::string& path, std::string* out);

}  // namespace casmem::offline
