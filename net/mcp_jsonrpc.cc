// The JSON-RPC layer of the MCP endpoint (mcp_jsonrpc.h): validation with
// RapidJSON's SAX reader, then a small scanner over the validated text
// that hands out raw slices of members and elements.
#include "net/mcp_jsonrpc.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "engine/names.h"

namespace casmem::net::mcp {
namespace {

using rapidjson::SizeType;

// Counts open containers and checks decoded strings. Iterative parsing
// (no recursion) with this depth bound: no input exhausts a stack.
class Validator : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Validator> {
 public:
  explicit Validator(int max_depth) : max_depth_(max_depth) {}
  bool Default() { return true; }
  bool String(const char* s, SizeType len, bool) {
    if (ValidUtf8(std::string_view(s, len))) return true;
    problem_ = "a string is not valid Unicode (an escaped lone surrogate?)";
    return false;
  }
  bool Key(const char* s, SizeType len, bool copy) { return String(s, len, copy); }
  bool RawNumber(const char*, SizeType, bool) { return true; }
  bool StartObject() { return Open(); }
  bool StartArray() { return Open(); }
  bool EndObject(SizeType) { return --depth_, true; }
  bool EndArray(SizeType) { return --depth_, true; }
  const std::string& problem() const { return problem_; }

 private:
  bool Open() {
    if (++depth_ <= max_depth_) return true;
    problem_ = "JSON nested deeper than " + std::to_string(max_depth_) + " levels";
    return false;
  }
  int max_depth_;
  int depth_ = 0;
  std::string problem_;
};

bool Space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t SkipSpace(std::string_view t, size_t i) {
  while (i < t.size() && Space(t[i])) ++i;
  return i;
}

// The end of the string starting at t[i] == '"' (one past its closing quote).
size_t SkipString(std::string_view t, size_t i) {
  for (++i; i < t.size(); ++i) {
    if (t[i] == '\\') ++i;
    else if (t[i] == '"') return i + 1;
  }
  return t.size();
}

// The end of the value starting at t[i] (valid JSON assumed).
size_t SkipValue(std::string_view t, size_t i) {
  if (i >= t.size()) return i;
  if (t[i] == '"') return SkipString(t, i);
  if (t[i] == '{' || t[i] == '[') {
    int depth = 0;
    while (i < t.size()) {
      const char c = t[i];
      if (c == '"') {
        i = SkipString(t, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return i;
  }
  // A number or a literal: up to the next delimiter.
  while (i < t.size() && !Space(t[i]) && t[i] != ',' && t[i] != '}' && t[i] != ']') ++i;
  return i;
}

// Calls f(raw element or (name slice, raw value)) for each item of the
// container `t` (raw, starting with '{' or '[').
template <class F>
void EachItem(std::string_view t, bool object, F f) {
  size_t i = SkipSpace(t, 1);
  while (i < t.size() && t[i] != (object ? '}' : ']')) {
    std::string_view name;
    if (object) {
      const size_t end = SkipString(t, i);
      name = t.substr(i, end - i);
      i = SkipSpace(t, end);
      i = SkipSpace(t, i + 1);  // the ':'
    }
    const size_t end = SkipValue(t, i);
    f(name, t.substr(i, end - i));
    i = SkipSpace(t, end);
    if (i < t.size() && t[i] == ',') i = SkipSpace(t, i + 1);
  }
}

class StringCatcher : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, StringCatcher> {
 public:
  bool Default() { return false; }
  bool String(const char* s, SizeType len, bool) {
    out.assign(s, len);
    return true;
  }
  std::string out;
};

}  // namespace

bool ValidJson(std::string_view text, int max_depth, std::string* error) {
  Validator v(max_depth);
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseStopWhenDoneFlag;
  const rapidjson::ParseResult ok = reader.Parse<kFlags>(ms, v);
  if (!ok) {
    *error = !v.problem().empty() ? v.problem()
                                  : std::string("not JSON: ") + rapidjson::GetParseError_En(ok.Code()) +
                                        " at offset " + std::to_string(ok.Offset());
    return false;
  }
  // kParseStopWhenDoneFlag: one value, then only whitespace.
  if (SkipSpace(text, ms.Tell()) != text.size()) {
    *error = "not JSON: more than one value";
    return false;
  }
  return true;
}

JsonType TypeOf(std::string_view raw) {
  switch (raw.empty() ? 'n' : raw[0]) {
    case '{': return JsonType::kObject;
    case '[': return JsonType::kArray;
    case '"': return JsonType::kString;
    case 't': case 'f': return JsonType::kBool;
    case 'n': return JsonType::kNull;
    default: return JsonType::kNumber;
  }
}

Members MembersOf(std::string_view object) {
  Members out;
  EachItem(object, true, [&](std::string_view name, std::string_view value) {
    out.emplace_back(StringOf(name), value);
  });
  return out;
}

std::vector<std::string_view> ElementsOf(std::string_view array) {
  std::vector<std::string_view> out;
  EachItem(array, false, [&](std::string_view, std::string_view value) { out.push_back(value); });
  return out;
}

std::string StringOf(std::string_view raw) {
  if (raw.find('\\') == std::string_view::npos) {
    return raw.size() >= 2 ? std::string(raw.substr(1, raw.size() - 2)) : std::string();
  }
  StringCatcher c;
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(raw.data(), raw.size());
  reader.Parse<rapidjson::kParseStopWhenDoneFlag>(ms, c);
  return c.out;
}

std::optional<std::string_view> Find(const Members& m, std::string_view name) {
  std::optional<std::string_view> out;
  for (const auto& [k, v] : m)
    if (k == name) out = v;
  return out;
}

Message ParseMessage(std::string_view raw) {
  Message msg;
  if (TypeOf(raw) != JsonType::kObject) {
    msg.error = "a JSON-RPC message must be an object";
    return msg;
  }
  const Members m = MembersOf(raw);
  const auto id = Find(m, "id");
  if (id && (TypeOf(*id) == JsonType::kString || TypeOf(*id) == JsonType::kNumber)) {
    msg.id.assign(id->data(), id->size());
  }
  const auto version = Find(m, "jsonrpc");
  if (!version || TypeOf(*version) != JsonType::kString || StringOf(*version) != "2.0") {
    msg.error = "\"jsonrpc\" must be \"2.0\"";
    return msg;
  }
  if (id && msg.id == "null") {
    msg.error = "\"id\" must be a string or an integer";
    return msg;
  }
  if (id && TypeOf(*id) == JsonType::kNumber && id->find_first_of(".eE") != std::string_view::npos) {
    msg.error = "\"id\" must be a string or an integer";
    return msg;
  }
  const auto method = Find(m, "method");
  if (!method) {
    if (id && (Find(m, "result") || Find(m, "error"))) {
      msg.kind = Message::Kind::kResponse;
    } else {
      msg.error = "a request needs \"method\"";
    }
    return msg;
  }
  if (TypeOf(*method) != JsonType::kString) {
    msg.error = "\"method\" must be a string";
    return msg;
  }
  if (const auto params = Find(m, "params")) {
    if (TypeOf(*params) != JsonType::kObject && TypeOf(*params) != JsonType::kArray) {
      msg.error = "\"params\" must be an object";
      return msg;
    }
    msg.params = *params;
  }
  msg.method = StringOf(*method);
  msg.kind = id ? Message::Kind::kRequest : Message::Kind::kNotification;
  return msg;
}

Body ParseBody(std::string_view body) {
  Body out;
  std::string error;
  if (!ValidJson(body, kMaxBodyDepth, &error)) {
    out.error_code = kParseError;
    out.error = std::move(error);
    return out;
  }
  const size_t start = SkipSpace(body, 0);
  const std::string_view raw = body.substr(start, SkipValue(body, start) - start);
  if (TypeOf(raw) != JsonType::kArray) {
    out.messages.push_back(ParseMessage(raw));
    return out;
  }
  out.batch = true;
  const std::vector<std::string_view> items = ElementsOf(raw);
  if (items.empty() || items.size() > kMaxBatch) {
    out.error_code = kInvalidRequest;
    out.error = items.empty() ? "an empty batch" : "a batch of more than " + std::to_string(kMaxBatch) + " messages";
    return out;
  }
  for (std::string_view item : items) out.messages.push_back(ParseMessage(item));
  return out;
}

}  // namespace casmem::net::mcp
