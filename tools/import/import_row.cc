// CheckRow (import_row.h).
#include "tools/import/import_row.h"

#include <charconv>

#include "engine/json_patch.h"
#include "engine/json_value.h"
#include "engine/names.h"
#include "engine/store.h"

namespace casmem::importer {

RowVerdict CheckRow(const PgRow& row, const WorkspaceMap& map, int64_t now_ms,
                    uint64_t max_value_bytes, ImportItem* item, std::string* reason) {
  auto invalid = [reason](std::string why) {
    *reason = std::move(why);
    return RowVerdict::kInvalid;
  };
  if (!row.workspace_id || !row.key || !row.version) {
    return invalid("NULL in workspace_id, key or version");
  }
  const auto mapped = map.find(*row.workspace_id);
  item->workspace = mapped == map.end() ? *row.workspace_id : mapped->second;
  if (const char* p = WorkspaceProblem(item->workspace)) {
    return invalid("workspace_id: " + std::string(p) + " (map it with --workspace-map ID=NAME)");
  }
  if (const char* p = KeyProblem(*row.key)) return invalid(std::string("key: ") + p);
  item->key = *row.key;
  uint64_t version = 0;
  const std::string& vt = *row.version;
  // The whole text: "3.9" or "7 apples" is no version (from_chars alone
  // reads 3 and 7).
  const auto [end, ec] = std::from_chars(vt.data(), vt.data() + vt.size(), version);
  if (ec != std::errc() || end != vt.data() + vt.size() || version < 1 || version > kMaxLoadVersion) {
    return invalid("version " + vt + " is not an integer from 1 to 9007199254740991 (2^53 - 1)");
  }
  // Refused here rather than by the target, so that both targets count
  // the row invalid (POST /admin/import refuses a whole batch for one).
  if (row.updated_at_ms.value_or(0) > kMaxLoadTimeMs || row.expires_at_ms.value_or(0) > kMaxLoadTimeMs) {
    return invalid("updated_at or expires_at after 9999-12-31T23:59:59.999Z");
  }
  item->version = version;
  item->updated_at_ms = row.updated_at_ms.value_or(0) > 0 ? *row.updated_at_ms : 0;
  item->expires_at_ms = 0;
  item->value.clear();
  if (row.expires_at_ms && *row.expires_at_ms <= now_ms) {
    // Gone for every purpose, as it was in PostgreSQL; its version stays
    // taken (a re-created key continues after it), the tombstone dated
    // when the TTL ran out.
    if (*row.expires_at_ms > 0) item->updated_at_ms = *row.expires_at_ms;
    return RowVerdict::kExpired;
  }
  if (row.expires_at_ms) item->expires_at_ms = *row.expires_at_ms;
  json::Value v;
  std::string error;
  // An SQL NULL value is what the original handler answered for it: null.
  if (json::ParseJson(row.value.value_or("null"), kMaxJsonDepth, &v, &error) != json::ParseFailure::kNone) {
    return invalid("value: " + error);
  }
  switch (json::SerializeJson(v, kMaxJsonDepth, max_value_bytes, &item->value)) {
    case json::SerializeFailure::kNone: break;
    case json::SerializeFailure::kTooDeep:
      return invalid("value nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    case json::SerializeFailure::kTooLarge:
      return invalid("value larger than " + std::to_string(max_value_bytes) + " bytes");
  }
  return RowVerdict::kImport;
}

}  // namespace casmem::importer
