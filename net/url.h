// URL pieces of the memory API: percent-decoding of path segments and
// query parameters (RFC 3986), percent-encoding for Link headers, and
// UTF-8 validation of keys that arrive in a URL.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/names.h"  // ValidUtf8: keys that arrive in a URL

namespace casmem::net {

// Decodes %XX escapes; nullopt on a malformed escape. One rule for paths
// and queries (RFC 3986): `+` is a literal plus everywhere, a space is
// %20. PercentEncode writes %2B and %20, so PercentDecode(PercentEncode(s))
// == s for every s, and the Link header's next URL round-trips.
std::optional<std::string> PercentDecode(std::string_view s);
// Encodes everything but RFC 3986 unreserved characters.
std::string PercentEncode(std::string_view s);

struct Target {
  std::vector<std::string> segments;  // decoded path segments
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
};

// Splits "/a/b%2Fc?x=1&y" into segments and query pairs, each decoded by
// PercentDecode (so `+` stays `+`). nullopt (with *error set) when an
// escape is malformed.
std::optional<Target> ParseTarget(std::string_view target, std::string* error);

// Last value of `name`, if present.
const std::string* QueryParam(const Target& t, std::string_view name);

}  // namespace casmem::net
