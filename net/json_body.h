// Parsing of the POST /memory body with RapidJSON's SAX reader: iterative
// (no recursion, so no input can exhaust a thread's stack), nesting bounded
// by kMaxJsonDepth, every decoded string valid UTF-8, numbers kept as their
// source text, the `value` re-emitted as compact JSON with every number's
// digits unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace casmem::net {

inline constexpr uint64_t kMaxTtlSeconds = 315'360'000;
// How deeply a field's value may nest containers: `[]` and `{}` are 1
// level, `[[1]]` is 2. The body's own top-level object is not counted, so
// the body as a whole may be kMaxJsonDepth + 1 deep. Applies to `value` and
// to ignored fields alike (docs/api.md).
inline constexpr int kMaxJsonDepth = 128;

struct WriteBody {
  std::string key;
  std::string value;  // compact JSON
  std::optional<uint64_t> ttl_seconds;
  std::optional<uint64_t> if_match_version;
};

// Returns nullopt and sets *error (a sentence for the client) when the body
// is not a JSON object with the fields the API requires, nests deeper than
// kMaxJsonDepth, or holds a string (object keys included, anywhere in the
// body) that decodes to invalid UTF-8, such as an escaped lone surrogate.
// On success `value` is compact JSON that re-parses to the same value.
std::optional<WriteBody> ParseWriteBody(std::string_view body, std::string* error);

// Parses a non-negative decimal integer with no sign, fraction or exponent.
std::optional<uint64_t> ParseUnsigned(std::string_view text);

}  // namespace casmem::net
