// Response JSON builders.
#include "net/json_out.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>

namespace casmem::net {
namespace {
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
void Raw(Writer& w, std::string_view json) {
  w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

void WriteEntry(Writer& w, const Entry& e) {
  w.StartObject();
  w.Key("key");
  Str(w, e.key);
  w.Key("value");
  Raw(w, e.value);
  w.Key("version");
  w.Uint64(e.version);
  w.Key("updated_at");
  Str(w, FormatTimestamp(e.updated_at_ms));
  if (e.expires_at_ms != 0) {
    w.Key("expires_at");
    Str(w, FormatTimestamp(e.expires_at_ms));
  }
  w.EndObject();
}
}  // namespace

std::string FormatTimestamp(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string ErrorJson(std::string_view message) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("error");
  Str(w, message);
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

std::string EntryJson(const Entry& e) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  WriteEntry(w, e);
  return {sb.GetString(), sb.GetSize()};
}

void AppendEntryJson(const Entry& e, std::string* out) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  WriteEntry(w, e);
  out->append(sb.GetString(), sb.GetSize());
}

std::string WriteOkJson(std::string_view key, uint64_t version) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("status");
  w.String("ok");
  w.Key("key");
  Str(w, key);
  w.Key("version");
  w.Uint64(version);
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

std::string ConflictJson(std::optional<uint64_t> expected,
                         const std::optional<uint64_t>& current_version,
                         const std::optional<std::string>& current_value) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("error");
  w.String("if_match_version mismatch");
  w.Key("expected_version");
  if (expected) w.Uint64(*expected);
  else w.Null();
  w.Key("current_version");
  if (current_version) w.Uint64(*current_version);
  else w.Null();
  if (current_value) {
    w.Key("current_value");
    Raw(w, *current_value);
  }
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

}  // namespace casmem::net
