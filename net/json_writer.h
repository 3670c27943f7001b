// The RapidJSON writer shorthands the JSON builders of net/ share
// (json_out.cc, change_json.cc): compact output, string_view strings,
// stored values inserted verbatim.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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

}  // namespace casmem::net::json
