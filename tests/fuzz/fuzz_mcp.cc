// Fuzz target: the MCP endpoint's JSON-RPC layer (net/mcp_jsonrpc.h) on
// any bytes. Invariants: ParseBody never crashes or recurses without
// bound; a body it accepts is one message or a batch of 1..kMaxBatch, and
// ValidJson agrees with the strict validator on it; every raw slice it
// hands out (a message, its params, their members and elements) is itself
// exactly one JSON value, so what reaches the memory handlers is what the
// client sent; an id to answer with is "null", a JSON string or an integer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/mcp_jsonrpc.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace casmem::net::mcp;

// Every member and element slice below `raw`, to a few levels.
void CheckSlices(std::string_view raw, int levels) {
  FUZZ_CHECK(casmem::fuzz::IsOneJsonValue(raw));
  if (levels == 0) return;
  if (TypeOf(raw) == JsonType::kObject) {
    for (const auto& [name, value] : MembersOf(raw)) CheckSlices(value, levels - 1);
  } else if (TypeOf(raw) == JsonType::kArray) {
    for (std::string_view e : ElementsOf(raw)) CheckSlices(e, levels - 1);
  } else if (TypeOf(raw) == JsonType::kString) {
    (void)StringOf(raw);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Body body = ParseBody(in);
  std::string error;
  const bool valid = ValidJson(in, kMaxBodyDepth, &error);
  if (body.error_code == kParseError) {
    FUZZ_CHECK(!valid && body.messages.empty());
    return 0;
  }
  FUZZ_CHECK(valid);
  FUZZ_CHECK(casmem::fuzz::IsOneJsonValue(in));
  if (body.error_code != 0) {
    FUZZ_CHECK(body.error_code == kInvalidRequest && body.batch && body.messages.empty());
    return 0;
  }
  FUZZ_CHECK(!body.messages.empty() && body.messages.size() <= kMaxBatch);
  FUZZ_CHECK(body.batch || body.messages.size() == 1);
  for (const Message& m : body.messages) {
    FUZZ_CHECK(m.id == "null" || TypeOf(m.id) == JsonType::kString || TypeOf(m.id) == JsonType::kNumber);
    FUZZ_CHECK(casmem::fuzz::IsOneJsonValue(m.id));
    if (m.kind == Message::Kind::kInvalid) FUZZ_CHECK(!m.error.empty());
    if (m.kind == Message::Kind::kRequest) FUZZ_CHECK(m.id != "null");
    if (m.kind == Message::Kind::kNotification) FUZZ_CHECK(m.id == "null");
    if (!m.params.empty()) CheckSlices(m.params, 3);
  }
  return 0;
}
