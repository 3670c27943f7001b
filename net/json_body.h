// Parsing of the POST /memory body with RapidJSON's SAX reader: UTF-8
// validated, numbers kept as their source text, the `value` re-emitted as
// compact JSON with every number's digits unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace casmem::net {

inline constexpr uint64_t kMaxTtlSeconds = 315'360'000;

struct WriteBody {
  std::string key;
  std::string value;  // compact JSON
  std::optional<uint64_t> ttl_seconds;
  std::optional<uint64_t> if_match_version;
};

// Returns nullopt and sets *error (a sentence for the client) when the body
// is not a JSON object with the fields the API requires.
std::optional<WriteBody> ParseWriteBody(std::string_view body, std::string* error);

// Parses a non-negative decimal integer with no sign, fraction or exponent.
std::optional<uint64_t> ParseUnsigned(std::string_view text);

}  // namespace casmem::net
