// Response JSON builders.
#include "net/json_out.h"

#include <chrono>

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
  w.Key("key");
  Str(w, e.key);
  w.Key("value");
  Raw(w, e.value);
  w.Key("version");
  w.Uint64(e.version);
  w.Key("revision");
  w.Uint64(e.revision);
  w.Key("updated_at");
  Str(w, FormatTimestamp(e.updated_at_ms));
  if (e.expires_at_ms != 0) {
    w.Key("expires_at");
    Str(w, FormatTimestamp(e.expires_at_ms));
  }
  if (!e.writer.empty()) {
    w.Key("writer");
    Str(w, e.writer);
  }
  w.EndObject();
}
}  // namespace

// By hand rather than gmtime_r + snprintf (a visible share of a GET's CPU
// time): the civil date of the day number (std::chrono's calendar), then
// fixed-width digits.
std::string FormatTimestamp(int64_t ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds(ms)};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const int64_t in_day = (t - day).count();  // 0 .. 86'399'999
  char buf[32];
  char* p = buf;
  auto digits = [&p](int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p += width;
  };
  int year = static_cast<int>(ymd.year());
  if (year < 0) {  // never for a stored time; kept well-formed anyway
    *p++ = '-';
    year = -year;
  }
  digits(year, year > 9999 ? 5 : 4);
  *p++ = '-';
  digits(static_cast<unsigned>(ymd.month()), 2);
  *p++ = '-';
  digits(static_cast<unsigned>(ymd.day()), 2);
  *p++ = 'T';
  digits(in_day / 3'600'000, 2);
  *p++ = ':';
  digits(in_day / 60'000 % 60, 2);
  *p++ = ':';
  digits(in_day / 1000 % 60, 2);
  *p++ = '.';
  digits(in_day % 1000, 3);
  *p++ = 'Z';
  return std::string(buf, p);
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
