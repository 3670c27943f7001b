// JSON Pointer (RFC 6901) for the patch engine: parsing "/a~1b/~0c" into
// reference tokens, and reading an array index token.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace casmem::json {

// A parsed pointer. `text` is the source (for messages); `tokens` are the
// unescaped reference tokens; no tokens is the whole document ("").
struct JsonPointer {
  std::string text;
  std::vector<std::string> tokens;
};

// False with *error set when `text` is neither "" nor starts with "/", or
// has a "~" not followed by "0" or "1". Any other token is accepted here;
// whether it names something is decided against a document.
bool ParseJsonPointer(std::string_view text, JsonPointer* out, std::string* error);

// An array index token: "0" or digits without a leading zero. nullopt for
// anything else ("-", "01", "+1", "1.0", "") and for an index too large to
// be a position in any array.
std::optional<size_t> ArrayIndex(std::string_view token);

// True iff `prefix` is a proper prefix of `p` (p names a descendant).
bool IsProperPrefix(const JsonPointer& prefix, const JsonPointer& p);

}  // namespace casmem::json
