// FileSystem / File: the only way wal/ and engine/ touch the disk. The
// POSIX implementation is the real one; tests substitute an in-memory
// file system that injects failures and drops unsynced data (power loss).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace casmem::wal {

class File {
 public:
  virtual ~File() = default;
  // Writes all of `data` at `offset` (extending the file if needed).
  virtual Status WriteAt(uint64_t offset, std::string_view data) = 0;
  // Reads up to `n` bytes at `offset` into `buf`; `*got` < n only at EOF.
  virtual Status ReadAt(uint64_t offset, size_t n, char* buf, size_t* got) = 0;
  // fdatasync: data and the metadata needed to read it back.
  virtual Status Sync() = 0;
  // Reserves space up to `length` bytes (file reads back zeros there).
  virtual Status Allocate(uint64_t length) = 0;
  virtual Status Size(uint64_t* size) = 0;
};

enum class OpenMode {
  kRead,         // existing file, read only
  kReadWrite,    // existing file
  kCreateTrunc,  // create or truncate, read-write
};

// Held while a process owns a data directory; released on destruction.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Status Open(const std::string& path, OpenMode mode, std::unique_ptr<File>* out) = 0;
  // Atomically replaces `to` with `from` (rename(2)).
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // Creates the one directory `path` (its parent exists); an existing
  // directory is fine. *created says whether this call made it.
  virtual Status CreateDir(const std::string& path, bool* created) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // Creates `path` and missing parents; ok if it exists. Durable on
  // return: the parent of every directory it creates, and of `path`
  // itself, is synced, so a crash cannot take away a directory whose
  // files were synced later.
  Status CreateDirs(const std::string& path);
  // Names (not paths) of the regular files in `dir`, unsorted.
  virtual Status List(const std::string& dir, std::vector<std::string>* names) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Takes an exclusive advisory lock on `path` (created if missing); fails
  // at once if another process holds it.
  virtual Status Lock(const std::string& path, std::unique_ptr<FileLock>* out) = 0;
};

// The process-wide POSIX file system.
FileSystem* PosixFileSystem();

std::string JoinPath(std::string_view dir, std::string_view name);
// The directory holding `path`: "a/b" -> "a", "/a" -> "/", "a" -> ".".
std::string ParentDir(std::string_view path);

}  // namespace casmem::wal
