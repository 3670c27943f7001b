// Where imported key states go: a stopped server's data directory
// (dir_target.cc, Store::Load directly) or a running casmemd
// (http_target.cc, POST /admin/import in batches). Both keep versions and
// never write over the same or a newer version.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tools/cli/command.h"
#include "tools/import/import_row.h"

namespace casmem::importer {

// What happened to the rows handed to a target (each row counted once).
struct ImportCounts {
  uint64_t imported = 0;    // live rows written with their version
  uint64_t kept_newer = 0;  // live rows whose key is at the same or a newer version here
  uint64_t expired = 0;     // rows past their TTL: a tombstone keeping the version, unless newer here
  uint64_t invalid = 0;     // rows the target refused (reasons on standard error)
};

class ImportTarget {
 public:
  virtual ~ImportTarget() = default;
  // Hands over one item (`expired`: a tombstone for a row past its TTL).
  // A target may hold items back to send them together; counts are
  // updated once it knows. False with *error when the target failed (the
  // import stops; what was counted as imported is applied).
  virtual bool Add(const ImportItem& item, bool expired, ImportCounts* counts, std::string* error) = 0;
  // Sends what is held back and waits until everything is durable.
  virtual bool Finish(ImportCounts* counts, std::string* error) = 0;
};

// The data directory of a stopped casmemd (made if missing). nullptr with
// *error and *exit_code (cli::Exit) when it cannot be opened, including
// while a casmemd serves it.
std::unique_ptr<ImportTarget> OpenDirTarget(const std::string& dir, uint64_t max_value_bytes,
                                            std::string* error, int* exit_code);

// A running casmemd at global.url with an admin token (global.token).
std::unique_ptr<ImportTarget> OpenHttpTarget(const cli::GlobalOptions& global);

// Prints an invalid row's reason on standard error, the first few only.
void ReportInvalid(const std::string& where, const std::string& reason);

}  // namespace casmem::importer
