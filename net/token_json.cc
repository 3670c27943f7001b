// Token JSON (token_json.h), with RapidJSON's writer.
#include "net/token_json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "net/json_out.h"

namespace casmem::net {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(JsonWriter& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

void TokenObject(JsonWriter& w, const TokenInfo& t, const std::string* secret) {
  w.StartObject();
  w.Key("name");
  Str(w, t.name);
  w.Key("workspace");
  Str(w, t.workspace);
  w.Key("role");
  w.String(RoleName(t.role));
  w.Key("created_at");
  Str(w, FormatRfc3339(t.created_at_ms));
  w.Key("created_by");
  Str(w, t.created_by);
  if (secret != nullptr) {
    w.Key("secret");
    Str(w, *secret);
  }
  w.EndObject();
}

}  // namespace

std::string TokenJson(const TokenInfo& t, const std::string* secret) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  TokenObject(w, t, secret);
  return std::string(sb.GetString(), sb.GetSize());
}

std::string TokensJson(const std::vector<std::shared_ptr<const TokenInfo>>& tokens) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartArray();
  for (const auto& t : tokens) TokenObject(w, *t, nullptr);
  w.EndArray();
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace casmem::net
