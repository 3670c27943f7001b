// What the online commands share: their flag parser, local JSON checks
// (RapidJSON SAX, numbers kept digit for digit), the mapping from an HTTP
// answer to an exit code and a one-line error, URL building, durations,
// and writes carrying an Idempotency-Key (retried once on a lost
// connection with the same key, spec section 7).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tools/cli/command.h"
#include "tools/cli/http_client.h"

namespace casmem::cli {

// `update`: COMMAND failed (non-zero exit, signal, or output that is not
// JSON); nothing was written. Beyond command.h's codes, for this command.
inline constexpr int kExitCommandFailed = 5;

// The words of a command: options ("--name VALUE", "--name=VALUE", or a
// boolean "--name"), positional words ("-" and negative numbers such as
// "-5" are positional), and what follows a lone "--": for a command that
// runs `-- COMMAND` (update) those words are `rest`; for every other
// command they are positional words, never options (`get -- -k` reads the
// key "-k").
struct Flags {
  std::map<std::string, std::string, std::less<>> values;
  std::set<std::string, std::less<>> bools;
  std::vector<std::string> positional;
  bool has_rest = false;  // a lone "--" was given
  std::vector<std::string> rest;

  bool Has(std::string_view name) const { return values.count(name) || bools.count(name); }
  std::string Value(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? "" : it->second;
  }
};
// False with *error on an unknown option or a missing value.
bool ParseFlags(const std::vector<std::string>& args, const std::vector<std::string_view>& with_value,
                const std::vector<std::string_view>& boolean, Flags* out, std::string* error,
                bool rest_is_command = false);

// A JSON text checked and made compact. For an object or array root,
// `members` holds each member's name (empty for array elements) and
// compact text, in order.
struct Json {
  std::string compact;
  char kind = 0;  // '{', '[', '"' (string), 'n' (number), 't'/'f', '0' (null)
  std::vector<std::pair<std::string, std::string>> members;
  // The compact text of member `name` of an object; nullopt when absent.
  std::optional<std::string> Member(std::string_view name) const;
};
// Valid UTF-8 JSON (one value, surrounding whitespace allowed, no lone
// surrogate, nesting at most 512); false with a one-line *error.
bool ParseJson(std::string_view text, Json* out, std::string* error);
// The string a JSON string text (compact) holds; "" when it is not one.
std::string JsonStringValue(std::string_view json_text);
// A JSON string literal for `s` (quotes and escapes).
std::string JsonQuote(std::string_view s);
// A non-negative integer member's value (nullopt when absent, null, not
// an integer, negative, or beyond 2^64-1: never wrapped).
std::optional<uint64_t> IntMember(const Json& j, std::string_view name);

// The text of a value argument: "-" reads standard input, `file` (when
// not empty) that file. False with *error.
bool ReadSource(const std::string& arg, const std::string& file, std::string* out,
                std::string* error);

// Spec durations ("300ms", "5s", "10m", "24h", bare = seconds) in
// milliseconds, from 0 to kMaxDurationMs (10 years); false with *error.
inline constexpr long long kMaxDurationMs = 315360000LL * 1000;
bool ParseDurationMs(std::string_view text, long long* ms, std::string* error);
// The same as whole seconds in [1, 315360000] (a TTL); false with *error.
bool ParseTtlSeconds(std::string_view text, long long* seconds, std::string* error);
// A non-negative integer up to 2^64-1 (a version or revision), any number
// of digits; false otherwise (an overflow is refused, never wrapped).
bool ParseCount(std::string_view text, uint64_t* value);

// "/workspaces/{ws}" percent-encoded.
std::string WorkspacePath(const GlobalOptions& global);
// "/workspaces/{ws}/memory/{key}" percent-encoded.
std::string KeyPath(const GlobalOptions& global, std::string_view key);

// Sends a write with a fresh random Idempotency-Key; on a network failure
// sends it once more with the same key (the server answers a repeat it
// already applied from its record, without applying it twice).
bool SendWrite(HttpClient& client, std::string_view method, std::string_view target,
               std::string_view body, HeaderList headers, Response* out, std::string* error);
std::string NewIdempotencyKey();

// For an answer that is not 2xx: prints the one-line error (and, for a
// 409, the body on standard output) and returns the exit code: 404 -> 1,
// 409 -> 2, 400/413/415/422 -> 3, anything else (401, 403, 429, 5xx) -> 4.
// `what` names the subject ("key \"k\"") for a 404.
int FailStatus(const Response& r, std::string_view what);
// Prints `text` and a newline on standard output.
void PrintLine(std::string_view text);

// Checks the number of positional words; a usage error otherwise.
bool CheckPositional(const Flags& f, size_t min, size_t max, std::string_view usage,
                     std::string* error);

}  // namespace casmem::cli
