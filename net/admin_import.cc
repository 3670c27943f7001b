// POST /admin/import (admin tokens; docs/api.md): key states written as
// another store or system had them, keeping their versions (Store::Load),
// for `casmem import-pg` and later `casmem dump | casmem import`.
//
// Body: JSON Lines (Content-Type: application/x-ndjson), one object per
// line, blank lines ignored:
//   {"workspace","key","value" | "tombstone":true,"version",
//    "updated_at"?,"expires_at"?,"writer"?}
// times RFC 3339 as the API prints them ("2026-11-28T10:15:30.123Z"; any
// offset and 0-9 fraction digits are accepted, kept to the millisecond).
// Other members (a dump line's "revision") are ignored.
//
// Contract: every item is validated before any is applied, so a bad item
// is a 400 naming its (0-based) index and nothing changes. Then each item
// goes through Store::Load in order: "imported", or "kept_newer" when the
// key already has the same or a newer version here (a re-run is a no-op).
// The 200 waits (visible_lsn) for the newest record any item wrote or was
// compared with. Only a log failure can stop a batch part way (503): the
// items before it may be applied, and sending the batch again is safe.
// Clients' workspace names only: the store's own ("casmem:tokens") is
// not a name an item can give.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/rfc3339.h"
#include "engine/json_patch.h"
#include "engine/json_value.h"
#include "engine/names.h"
#include "net/handler.h"
#include "net/handler_internal.h"
#include "net/json_body.h"
#include "net/write_headers.h"

namespace casmem::net {

namespace {

constexpr size_t kMaxImportItems = 10'000;

struct ImportItem {
  std::string workspace, key;
  std::string value;  // compact JSON; empty for a tombstone
  uint64_t version = 0;
  int64_t updated_at_ms = 0;  // 0 = now
  int64_t expires_at_ms = 0;  // 0 = none
  std::string writer;
};

// One line's item; false with *error (naming the field) if it is not one.
bool ParseItem(std::string_view line, uint64_t max_value_bytes, ImportItem* item,
               std::string* error, int* status) {
  *status = 400;
  json::Value v;
  // The item object is one level above its value.
  if (json::ParseJson(line, casmem::kMaxJsonDepth + 1, &v, error) != json::ParseFailure::kNone) {
    return false;
  }
  if (!v.is_object()) {
    *error = "not a JSON object";
    return false;
  }
  const json::Value *ws = nullptr, *key = nullptr, *value = nullptr, *tomb = nullptr,
                    *version = nullptr, *updated = nullptr, *expires = nullptr, *writer = nullptr;
  for (const json::Member& m : v.members) {
    const json::Value** slot = m.name == "workspace"    ? &ws
                               : m.name == "key"        ? &key
                               : m.name == "value"      ? &value
                               : m.name == "tombstone"  ? &tomb
                               : m.name == "version"    ? &version
                               : m.name == "updated_at" ? &updated
                               : m.name == "expires_at" ? &expires
                               : m.name == "writer"     ? &writer
                                                        : nullptr;
    if (slot == nullptr) continue;  // other members (a dump's "revision") are ignored
    if (*slot != nullptr) {
      *error = "\"" + m.name + "\" given twice";
      return false;
    }
    *slot = &m.value;
  }
  if (ws == nullptr || ws->kind != json::Value::Kind::kString) {
    *error = "\"workspace\" must be a string";
    return false;
  }
  if (const char* p = WorkspaceProblem(ws->text)) {
    *error = std::string("\"workspace\": ") + p;
    return false;
  }
  if (key == nullptr || key->kind != json::Value::Kind::kString) {
    *error = "\"key\" must be a string";
    return false;
  }
  if (const char* p = KeyProblem(key->text)) {
    *error = std::string("\"key\": ") + p;
    return false;
  }
  item->workspace = ws->text;
  item->key = key->text;
  const bool is_tombstone = tomb != nullptr && tomb->kind == json::Value::Kind::kTrue;
  if (tomb != nullptr && !is_tombstone && tomb->kind != json::Value::Kind::kFalse) {
    *error = "\"tombstone\" must be true or false";
    return false;
  }
  if (is_tombstone == (value != nullptr)) {
    *error = is_tombstone ? "an item has \"value\" or \"tombstone\": true, not both"
                          : "\"value\" missing (or \"tombstone\": true)";
    return false;
  }
  item->value.clear();
  if (value != nullptr) {
    switch (json::SerializeJson(*value, casmem::kMaxJsonDepth, max_value_bytes, &item->value)) {
      case json::SerializeFailure::kNone: break;
      case json::SerializeFailure::kTooDeep:
        *error = "\"value\" nests deeper than " + std::to_string(casmem::kMaxJsonDepth) + " levels";
        return false;
      case json::SerializeFailure::kTooLarge:
        *status = 413;
        *error = "\"value\" larger than " + std::to_string(max_value_bytes) + " bytes";
        return false;
    }
  }
  std::optional<uint64_t> ver;
  if (version != nullptr && version->kind == json::Value::Kind::kNumber) ver = ParseUnsigned(version->text);
  if (!ver || *ver == 0 || *ver > kMaxLoadVersion) {
    *error = "\"version\" must be an integer from 1 to 9007199254740991 (2^53 - 1)";
    return false;
  }
  item->version = *ver;
  auto time = [error](const json::Value* t, const char* name, int64_t* out) {
    *out = 0;
    if (t == nullptr || t->is_null()) return true;
    if (t->kind != json::Value::Kind::kString || !ParseRfc3339(t->text, out) || *out <= 0) {
      *error = std::string("\"") + name +
               "\" must be an RFC 3339 time after 1970 such as \"2026-11-28T10:15:30.123Z\"";
      return false;
    }
    return true;
  };
  if (!time(updated, "updated_at", &item->updated_at_ms)) return false;
  if (!time(expires, "expires_at", &item->expires_at_ms)) return false;
  if (is_tombstone) item->expires_at_ms = 0;  // a tombstone has no TTL
  item->writer.clear();
  if (writer != nullptr && !writer->is_null()) {
    bool ok = writer->kind == json::Value::Kind::kString && writer->text.size() <= kMaxWriterBytes;
    for (char c : ok ? writer->text : std::string()) ok = ok && c >= 0x20 && c <= 0x7e;
    if (!ok) {
      *error = "\"writer\" must be 1-128 printable ASCII characters";
      return false;
    }
    item->writer = writer->text;
  }
  return true;
}

}  // namespace

HandlerResult AdminImport(Store* store, const HttpRequest& req) {
  if (req.method != "POST") return MethodNotAllowed("POST");
  // One media type (what `casmem dump` prints); a form or text/plain POST
  // from a web page never reaches the store.
  if (MediaType(req.content_type) != "application/x-ndjson") {
    HttpResponse r = Handler::Error(415, "POST /admin/import needs Content-Type: application/x-ndjson "
                                         "(one JSON object per line)");
    r.headers.emplace_back("Accept-Post", "application/x-ndjson");
    return ResultOf(std::move(r));
  }
  const uint64_t max_value = store->options().max_value_bytes;
  std::vector<ImportItem> items;
  std::string_view body = req.body;
  while (!body.empty()) {
    const size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (items.size() == kMaxImportItems) {
      return ResultOf(Handler::Error(
          400, "at most " + std::to_string(kMaxImportItems) + " items per request"));
    }
    ImportItem item;
    std::string error;
    int status = 400;
    if (!ParseItem(line, max_value, &item, &error, &status)) {
      return ResultOf(Handler::Error(status, "item " + std::to_string(items.size()) + ": " + error));
    }
    items.push_back(std::move(item));
  }

  rapidjson::StringBuffer results;
  rapidjson::Writer<rapidjson::StringBuffer> w(results);
  w.StartArray();
  uint64_t imported = 0, kept = 0, visible_lsn = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const ImportItem& it = items[i];
    const WriteResult res = store->Load(LoadRequest{it.workspace, it.key, it.value, it.version,
                                                    it.updated_at_ms, it.expires_at_ms, it.writer});
    visible_lsn = std::max(visible_lsn, res.visible_lsn);
    w.StartObject();
    if (res.outcome == Outcome::kOk) {
      ++imported;
      w.Key("status");
      w.String("imported");
      w.Key("revision");
      w.Uint64(res.revision);
    } else if (res.outcome == Outcome::kConflict) {
      ++kept;
      w.Key("status");
      w.String("kept_newer");
      w.Key("current_version");
      w.Uint64(res.current_version.value_or(0));
    } else {
      // Validated above, so only the log can refuse (kStorageFailed, kBusy).
      HandlerResult r = ResultOf(StorageResponse(res.outcome, res.error)
                                     .value_or(Handler::Error(500, "item " + std::to_string(i) + ": " + res.error)));
      r.visible_lsn = 0;
      return r;
    }
    w.EndObject();
  }
  w.EndArray();
  std::string out = "{\"imported\":" + std::to_string(imported) +
                    ",\"kept_newer\":" + std::to_string(kept) + ",\"results\":";
  out.append(results.GetString(), results.GetSize());
  out += '}';
  HandlerResult r = ResultOf(Json(200, std::move(out)));
  r.visible_lsn = visible_lsn;
  r.is_write = true;
  return r;
}

}  // namespace casmem::net
