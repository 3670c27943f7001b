// JSON-RPC 2.0 messages of the MCP endpoint (memory-api.md §10): the body
// of a POST /mcp split into messages (one, or a batch: a JSON array), each
// classified (request, notification, response, invalid) with its members
// kept as raw JSON text, so that a tool's `value` or `patch` reaches the
// memory handlers with every number's digits as the client wrote them.
//
// The body is validated once, whole (ValidJson: iterative, depth-bounded,
// every decoded string valid UTF-8); the raw-text helpers below assume
// text that passed it and never read past a value they are given.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace casmem::net::mcp {

// Most messages in one batch; a larger batch is refused whole (-32600).
inline constexpr size_t kMaxBatch = 32;
// Containers a body may nest: a batch array, a message, its params, a
// tool's arguments and a JSON Patch array around a value that may itself
// nest kMaxJsonDepth (the memory handlers check the value's own limit).
inline constexpr int kMaxBodyDepth = 128 + 5;

// JSON-RPC 2.0 error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
// A server error (JSON-RPC reserves -32000..-32099 for them): a request of
// a batch not run because the batch's answer already passed
// kMaxBatchAnswerBytes.
inline constexpr int kAnswerTooLarge = -32000;
inline constexpr size_t kMaxBatchAnswerBytes = 16u << 20;

// Whether `text` is exactly one JSON value (surrounding whitespace
// allowed) nesting at most `max_depth` containers, every decoded string
// (object keys too) valid UTF-8. *error: why not, a sentence.
bool ValidJson(std::string_view text, int max_depth, std::string* error);

enum class JsonType { kObject, kArray, kString, kNumber, kBool, kNull };
// The type of a raw value (first byte; `raw` has no leading whitespace).
JsonType TypeOf(std::string_view raw);
// The members of a raw object, in order, each as (decoded name, raw value).
using Members = std::vector<std::pair<std::string, std::string_view>>;
Members MembersOf(std::string_view object);
// The elements of a raw array, in order.
std::vector<std::string_view> ElementsOf(std::string_view array);
// The decoded string of a raw JSON string.
std::string StringOf(std::string_view raw);
// The raw value of the last member named `name`, if any (a repeated
// member: the last one wins, as in the memory API's bodies).
std::optional<std::string_view> Find(const Members& m, std::string_view name);

struct Message {
  enum class Kind { kRequest, kNotification, kResponse, kInvalid };
  Kind kind = Kind::kInvalid;
  // The raw id to answer with: a string or number as sent; "null" when
  // the message has none or it is of another type (an invalid message).
  std::string id = "null";
  std::string method;
  std::string_view params;  // raw; empty when absent
  std::string error;        // kInvalid: why (the -32600's message)
};

struct Body {
  bool batch = false;
  std::vector<Message> messages;
  // Set when the body as a whole is refused: kParseError (not JSON) or
  // kInvalidRequest (an empty or too large batch); `messages` is empty.
  int error_code = 0;
  std::string error;
};

// One message of a validated body.
Message ParseMessage(std::string_view raw);
// The whole body of a POST.
Body ParseBody(std::string_view body);

}  // namespace casmem::net::mcp
