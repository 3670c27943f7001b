// The RapidJSON writer shorthands the JSON builders of net/ share
// (json_out.cc, change_json.cc): compact output, string_view strings,
// stored values inserted verbatim.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace casmem::net::json {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void Str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
// `json` is compact JSON already (a stored value): copied as is.
inline void Raw(Writer& w, std::string_view json) {
  w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}
inline std::string Done(const rapidjson::StringBuffer& sb) { return {sb.GetString(), sb.GetSize()}; }

// The members of an entry (memory-api.md §1), inside an object the caller
// opened: key, value, version, revision, updated_at, expires_at when
// `expires_at_ms` != 0, writer when not empty (json_out.cc).
void EntryMembers(Writer& w, std::string_view key, std::string_view value, uint64_t version,
                  uint64_t revision, int64_t updated_at_ms, int64_t expires_at_ms,
                  std::string_view writer);

}  // namespace casmem::net::json
