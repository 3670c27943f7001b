// Fuzz target: ParseWriteBody, the POST body parser. Input: the body bytes.
// Invariants: a refusal says why; an accepted body has a valid UTF-8 key
// and a value that is exactly one compact JSON value, valid UTF-8, nested
// at most kMaxJsonDepth deep, and a fixed point (re-parsing a body built
// from it gives the same key and value back).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/names.h"
#include "net/json_body.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

// Deepest container nesting of compact JSON, skipping strings.
int Depth(std::string_view json) {
  int depth = 0, max = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max = std::max(max, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max;
}

std::string Quote(std::string_view s) {  // JSON string of valid UTF-8 `s`
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace casmem::net;
  using casmem::ValidUtf8;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto parsed = ParseWriteBody(body, &error);
  if (!parsed) {
    FUZZ_CHECK(!error.empty());
    FUZZ_CHECK(ValidUtf8(error) || !ValidUtf8(body));
    return 0;
  }
  FUZZ_CHECK(ValidUtf8(parsed->key));
  FUZZ_CHECK(ValidUtf8(parsed->value));
  FUZZ_CHECK(casmem::fuzz::IsOneJsonValue(parsed->value));
  FUZZ_CHECK(parsed->value.find_first_of(" \t\r\n") == std::string::npos ||
             parsed->value.find('"') != std::string::npos);  // compact outside strings
  FUZZ_CHECK(Depth(parsed->value) <= kMaxJsonDepth);
  if (parsed->ttl_seconds) FUZZ_CHECK(*parsed->ttl_seconds >= 1 && *parsed->ttl_seconds <= kMaxTtlSeconds);

  std::string again = "{\"key\":" + Quote(parsed->key) + ",\"value\":" + parsed->value + "}";
  auto reparsed = ParseWriteBody(again, &error);
  FUZZ_CHECK(reparsed);
  FUZZ_CHECK(reparsed->key == parsed->key);
  FUZZ_CHECK(reparsed->value == parsed->value);
  return 0;
}
