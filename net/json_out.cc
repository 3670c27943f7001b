// Response JSON builders.
#include "net/json_out.h"


#include "net/json_writer.h"

namespace casmem::net {
namespace {
using json::Done;
using json::Raw;
using json::Str;
using json::Writer;

void OptUint(Writer& w, const std::optional<uint64_t>& v) {
  if (v) w.Uint64(*v);
  else w.Null();
}

// The members every 409 shares after its own: the key's current state.
void CurrentState(Writer& w, const std::optional<uint64_t>& current_version,
                  const std::optional<std::string>& current_value,
                  const std::optional<std::string>& current_writer) {
  w.Key("current_version");
  OptUint(w, current_version);
  if (current_value) {
    w.Key("current_value");
    Raw(w, *current_value);
  }
  if (current_writer) {
    w.Key("current_writer");
    Str(w, *current_writer);
  }
}

void WriteEntry(Writer& w, const Entry& e) {
  w.StartObject();
  json::EntryMembers(w, e.key, e.value, e.version, e.revision, e.updated_at_ms, e.expires_at_ms,
                     e.writer);
  w.EndObject();
}
}  // namespace

void json::EntryMembers(Writer& w, std::string_view key, std::string_view value, uint64_t version,
                        uint64_t revision, int64_t updated_at_ms, int64_t expires_at_ms,
                        std::string_view writer) {
  w.Key("key");
  Str(w, key);
  w.Key("value");
  Raw(w, value);
  w.Key("version");
  w.Uint64(version);
  w.Key("revision");
  w.Uint64(revision);
  w.Key("updated_at");
  Str(w, FormatRfc3339(updated_at_ms));
  if (expires_at_ms != 0) {
    w.Key("expires_at");
    Str(w, FormatRfc3339(expires_at_ms));
  }
  if (!writer.empty()) {
    w.Key("writer");
    Str(w, writer);
  }
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

std::string WriteOkJson(std::string_view key, uint64_t version, uint64_t revision,
                        const std::string* value) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("status");
  w.String("ok");
  w.Key("key");
  Str(w, key);
  w.Key("version");
  w.Uint64(version);
  w.Key("revision");
  w.Uint64(revision);
  if (value != nullptr) {
    w.Key("value");
    Raw(w, *value);
  }
  w.EndObject();
  return Done(sb);
}

std::string DeleteOkJson(bool applied, uint64_t revision) {
  if (!applied) return R"({"status":"deleted"})";
  return R"({"status":"deleted","revision":)" + std::to_string(revision) + "}";
}

std::string PatchFailedJson(std::string_view message, int op_index,
                            const std::optional<uint64_t>& current_version,
                            const std::optional<std::string>& current_value,
                            const std::optional<std::string>& current_writer) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("error");
  Str(w, "patch failed: " + std::string(message));
  w.Key("op_index");
  w.Int(op_index);
  CurrentState(w, current_version, current_value, current_writer);
  w.EndObject();
  return Done(sb);
}

std::string TxnOkJson(uint64_t revision, const std::vector<std::string_view>& keys,
                      const std::vector<std::optional<uint64_t>>& versions) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("status");
  w.String("ok");
  w.Key("revision");
  w.Uint64(revision);
  w.Key("results");
  w.StartArray();
  for (size_t i = 0; i < keys.size(); ++i) {
    w.StartObject();
    w.Key("key");
    Str(w, keys[i]);
    w.Key("version");
    OptUint(w, i < versions.size() ? versions[i] : std::nullopt);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Done(sb);
}

std::string TxnFailedJson(const TxnFailure& f) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("error");
  w.String("transaction failed");
  w.Key("op_index");
  w.Int(f.op_index);
  w.Key("reason");
  Str(w, f.reason);
  if (f.patch_op_index) {
    w.Key("patch_op_index");
    w.Int(*f.patch_op_index);
  } else {
    w.Key("expected_version");
    OptUint(w, f.expected_version);
  }
  CurrentState(w, f.current_version, f.current_value, f.current_writer);
  w.EndObject();
  return Done(sb);
}

std::string ConflictJson(std::optional<uint64_t> expected,
                         const std::optional<uint64_t>& current_version,
                         const std::optional<std::string>& current_value,
                         const std::optional<std::string>& current_writer) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("error");
  w.String("if_match_version mismatch");
  w.Key("expected_version");
  OptUint(w, expected);
  CurrentState(w, current_version, current_value, current_writer);
  w.EndObject();
  return Done(sb);
}

}  // namespace casmem::net
