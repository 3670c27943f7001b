// The checks a PostgreSQL row passes before it is imported (memory-api.md
// §1): its workspace id (as is, or as --workspace-map renames it), key,
// value (re-emitted as compact JSON, numbers' digits kept) and version,
// and whether its TTL has already run out.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "tools/import/pg_source.h"

namespace casmem::importer {

// A key state to load (Store::Load, POST /admin/import).
struct ImportItem {
  std::string workspace, key;
  std::string value;  // compact JSON; empty for a tombstone
  uint64_t version = 0;
  int64_t updated_at_ms = 0;  // 0 = the time of the import
  int64_t expires_at_ms = 0;  // 0 = no TTL
  bool tombstone() const { return value.empty(); }
};

enum class RowVerdict {
  kImport,   // a live key
  kExpired,  // expires_at <= now: *item is a tombstone keeping the version
  kInvalid,  // *reason says why; skipped
};

// --workspace-map: PostgreSQL workspace_id -> casmem workspace name.
using WorkspaceMap = std::map<std::string, std::string>;

RowVerdict CheckRow(const PgRow& row, const WorkspaceMap& map, int64_t now_ms,
                    uint64_t max_value_bytes, ImportItem* item, std::string* reason);

}  // namespace casmem::importer
