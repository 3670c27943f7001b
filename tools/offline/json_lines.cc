// Writing and reading dump lines. Values are copied as the store keeps
// them (compact JSON) on the way out and re-serialised with engine/json's
// writer on the way in, which keeps number digits and gives back the same
// bytes for a value the store wrote.
#include "tools/offline/json_lines.h"

#include <cinttypes>
#include <cstdio>
#include <set>

#include "common/rfc3339.h"
#include "engine/json_patch.h"
#include "engine/json_value.h"
#include "engine/names.h"
#include "engine/store.h"
#include "engine/store_internal.h"

namespace casmem::offline {
namespace {

void AppendString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          *out += buf;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// A JSON integer >= 0 that fits uint64 (no sign, fraction or exponent).
bool ParseU64(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

}  // namespace

void AppendDumpLine(std::string_view workspace, std::string_view key, const KeyState& state,
                    bool as_tombstone, std::string* out) {
  const bool tombstone = state.tombstone || as_tombstone;
  *out += "{\"workspace\":";
  AppendString(workspace, out);
  *out += ",\"key\":";
  AppendString(key, out);
  if (!tombstone) {
    *out += ",\"value\":";
    *out += state.value;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, ",\"version\":%" PRIu64 ",\"revision\":%" PRIu64, state.version,
                state.revision);
  *out += buf;
  // A key past its TTL died at its expiry.
  const int64_t updated = state.tombstone || !as_tombstone ? state.updated_at_ms : state.expires_at_ms;
  *out += ",\"updated_at\":\"" + FormatRfc3339(updated) + "\"";
  if (!tombstone && state.expires_at_ms != 0) {
    *out += ",\"expires_at\":\"" + FormatRfc3339(state.expires_at_ms) + "\"";
  }
  if (!tombstone && !state.writer.empty()) {
    *out += ",\"writer\":";
    AppendString(state.writer, out);
  }
  if (tombstone) {
    *out += ",\"tombstone\":true";
    if (state.expired || as_tombstone) *out += ",\"expired\":true";
  }
  *out += "}\n";
}

bool ParseDumpLine(std::string_view line, DumpLine* out, std::string* error) {
  *out = DumpLine{};
  json::Value doc;
  if (json::ParseJson(line, kMaxJsonDepth + 1, &doc, error) != json::ParseFailure::kNone) {
    return false;
  }
  if (!doc.is_object()) {
    *error = "not a JSON object";
    return false;
  }
  bool has_version = false, has_value = false, has_ws = false, has_key = false;
  std::set<std::string_view> seen;
  for (const json::Member& m : doc.members) {
    const json::Value& v = m.value;
    // A repeated member would leave the line meaning two things (a second
    // "value" was appended to the first: two JSON texts restored as one).
    if (!seen.insert(m.name).second) {
      *error = "\"" + m.name + "\" given twice";
      return false;
    }
    auto string_of = [&](std::string* dst) {
      if (v.kind != json::Value::Kind::kString) {
        *error = "\"" + m.name + "\" must be a string";
        return false;
      }
      *dst = v.text;
      return true;
    };
    auto time_of = [&](int64_t* dst) {
      std::string text;
      if (!string_of(&text)) return false;
      // After 1970 (0 is Store::Load's "not given"); ParseRfc3339's four-digit
      // years end before kMaxLoadTimeMs.
      if (!ParseRfc3339(text, dst) || *dst <= 0) {
        *error = "\"" + m.name + "\" is not an RFC 3339 time after 1970 (2026-11-28T10:15:30.123Z)";
        return false;
      }
      return true;
    };
    if (m.name == "workspace") {
      if (!string_of(&out->workspace)) return false;
      has_ws = true;
    } else if (m.name == "key") {
      if (!string_of(&out->key)) return false;
      has_key = true;
    } else if (m.name == "value") {
      if (json::SerializeJson(v, kMaxJsonDepth, SIZE_MAX, &out->value) !=
          json::SerializeFailure::kNone) {
        *error = "\"value\" nests deeper than " + std::to_string(kMaxJsonDepth);
        return false;
      }
      has_value = true;
    } else if (m.name == "version") {
      if (v.kind != json::Value::Kind::kNumber || !ParseU64(v.text, &out->version) ||
          out->version == 0 || out->version > kMaxLoadVersion) {
        *error = "\"version\" must be an integer from 1 to 9007199254740991 (2^53 - 1)";
        return false;
      }
      has_version = true;
    } else if (m.name == "updated_at") {
      if (!time_of(&out->updated_at_ms)) return false;
    } else if (m.name == "expires_at") {
      if (!time_of(&out->expires_at_ms)) return false;
    } else if (m.name == "writer") {
      if (!string_of(&out->writer)) return false;
    } else if (m.name == "tombstone" || m.name == "expired") {
      if (v.kind != json::Value::Kind::kTrue && v.kind != json::Value::Kind::kFalse) {
        *error = "\"" + m.name + "\" must be true or false";
        return false;
      }
      if (m.name == "tombstone") out->tombstone = v.kind == json::Value::Kind::kTrue;
    } else if (m.name == "revision") {
      // The source's revision: the restored store hands out its own.
    } else {
      *error = "unknown member \"" + m.name + "\"";
      return false;
    }
  }
  if (!has_ws || !has_key || !has_version) {
    *error = "\"workspace\", \"key\" and \"version\" are required";
    return false;
  }
  if (const char* why = StoredWorkspaceProblem(out->workspace)) {
    *error = std::string("workspace: ") + why;
    return false;
  }
  if (const char* why = KeyProblem(out->key)) {
    *error = std::string("key: ") + why;
    return false;
  }
  if (const char* why = WriterProblem(out->writer)) {
    *error = std::string("writer: ") + why;
    return false;
  }
  if (out->tombstone == has_value) {
    *error = out->tombstone ? "a tombstone has no \"value\"" : "\"value\" is required (or \"tombstone\":true)";
    return false;
  }
  if (out->tombstone) {
    out->expires_at_ms = 0;
    out->writer.clear();
  }
  return true;
}

}  // namespace casmem::offline
