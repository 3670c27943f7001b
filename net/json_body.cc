// ParseWriteBody: a SAX handler that walks the top-level object, captures
// `value` into a compact writer (numbers forwarded raw: RapidJSON 1.1's
// Writer::RawNumber would quote them) and type-checks the other fields.
// The reader runs in iterative mode and the handler bounds the depth and
// checks every decoded string, because RapidJSON itself does neither (its
// recursive mode overflows the stack on deep input, and it decodes an
// escaped lone low surrogate "\udc00" into the non-UTF-8 bytes ED B0 80).
#include "net/json_body.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "net/url.h"

namespace casmem::net {
namespace {

using rapidjson::SizeType;

enum class Field { kNone, kKey, kValue, kTtl, kIfMatch, kIgnored };

// Walks the body. depth_ counts containers outside `value` (1 = inside the
// top-level object); while `value` is captured every event goes to the
// compact writer instead and capture_depth_ counts. Invariant: the
// containers open are depth_ + capture_depth_ <= kMaxJsonDepth + 1. The
// first error wins and stops the parse.
class BodyHandler {
 public:
  explicit BodyHandler(WriteBody* out) : out_(out), writer_(value_buf_) {}

  bool Null() {
    if (capturing_) return Leaf(writer_.Null());
    return Scalar("null");
  }
  bool Bool(bool b) {
    if (capturing_) return Leaf(writer_.Bool(b));
    return Scalar("a boolean");
  }
  // Numbers arrive as RawNumber (kParseNumbersAsStringsFlag).
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char* s, SizeType len, bool) {
    if (capturing_) return Leaf(writer_.RawValue(s, len, rapidjson::kNumberType));
    return Scalar("a number", std::string_view(s, len));
  }
  bool String(const char* s, SizeType len, bool) {
    if (!ValidUtf8(std::string_view(s, len))) return BadString();
    if (capturing_) return Leaf(writer_.String(s, len));
    return Scalar("a string", std::string_view(s, len));
  }
  bool Key(const char* s, SizeType len, bool) {
    if (!ValidUtf8(std::string_view(s, len))) return BadString();
    if (capturing_) return writer_.Key(s, len);
    if (depth_ > 1) return true;  // inside an ignored field
    field_name_.assign(s, len);
    if (field_name_ == "key") field_ = Field::kKey;
    else if (field_name_ == "value") field_ = Field::kValue;
    else if (field_name_ == "ttl_seconds") field_ = Field::kTtl;
    else if (field_name_ == "if_match_version") field_ = Field::kIfMatch;
    else field_ = Field::kIgnored;
    if (field_ == Field::kValue) {  // a repeated "value": the last one wins
      value_buf_.Clear();
      writer_.Reset(value_buf_);
      capturing_ = true;
      capture_depth_ = 0;
    }
    return true;
  }
  bool StartObject() { return Open(true); }
  bool EndObject(SizeType) { return Close(true); }
  bool StartArray() { return Open(false); }
  bool EndArray(SizeType) { return Close(false); }

  // After a successful parse: are the required fields there?
  bool Finish(std::string* error) {
    if (!have_key_) error_ = "missing field \"key\"";
    else if (!have_value_) error_ = "missing field \"value\"";
    if (!error_.empty()) {
      *error = error_;
      return false;
    }
    out_->value.assign(value_buf_.GetString(), value_buf_.GetSize());
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  bool Error(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
    return false;
  }
  bool BadString() {
    return Error("a string in the body is not valid Unicode (invalid UTF-8 or a lone surrogate)");
  }
  // A scalar outside `value`.
  bool Scalar(const char* kind, std::string_view text = {}) {
    if (depth_ == 0) return Error("the body must be a JSON object");
    if (depth_ > 1 || field_ == Field::kIgnored) return true;
    const std::string bad = "\"" + field_name_ + "\" must not be " + kind;
    switch (field_) {
      case Field::kKey:
        if (std::string_view(kind) != "a string") return Error("\"key\" must be a string");
        out_->key.assign(text);
        have_key_ = true;
        return true;
      case Field::kTtl:
      case Field::kIfMatch: {
        std::optional<uint64_t>& slot =
            field_ == Field::kTtl ? out_->ttl_seconds : out_->if_match_version;
        if (std::string_view(kind) == "null") {  // null means "not given"
          slot.reset();
          return true;
        }
        if (std::string_view(kind) != "a number") {
          return Error("\"" + field_name_ + "\" must be an integer, not " + kind);
        }
        auto n = ParseUnsigned(text);
        if (!n) return Error("\"" + field_name_ + "\" must be a non-negative integer");
        if (field_ == Field::kTtl && (*n < 1 || *n > kMaxTtlSeconds)) {
          return Error("\"ttl_seconds\" must be an integer from 1 to 315360000");
        }
        slot = n;
        return true;
      }
      default:
        return Error(bad);
    }
  }
  // A complete scalar or container inside `value`.
  bool Leaf(bool ok) {
    if (capture_depth_ == 0) Done();
    return ok;
  }
  void Done() {
    capturing_ = false;
    have_value_ = true;
  }
  bool Open(bool object) {
    if (depth_ + capture_depth_ > kMaxJsonDepth) {
      return Error("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    if (capturing_) {
      ++capture_depth_;
      return object ? writer_.StartObject() : writer_.StartArray();
    }
    if (depth_ == 0 && !object) return Error("the body must be a JSON object");
    if (depth_ == 1 && field_ != Field::kIgnored) {
      return Error("\"" + field_name_ + "\" must not be an object or array");
    }
    ++depth_;
    return true;
  }
  bool Close(bool object) {
    if (capturing_) {
      const bool ok = object ? writer_.EndObject() : writer_.EndArray();
      if (--capture_depth_ == 0) Done();
      return ok;
    }
    --depth_;
    return true;
  }

  WriteBody* out_;
  rapidjson::StringBuffer value_buf_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
  int depth_ = 0;
  bool capturing_ = false;
  int capture_depth_ = 0;  // containers open inside `value`
  Field field_ = Field::kNone;
  std::string field_name_;
  bool have_key_ = false;
  bool have_value_ = false;
  std::string error_;
};

}  // namespace

std::optional<uint64_t> ParseUnsigned(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<WriteBody> ParseWriteBody(std::string_view body, std::string* error) {
  // A raw NUL is never JSON, and RapidJSON would take it for the end of
  // the input: `{"a":1}` NUL `garbage` would pass as `{"a":1}`.
  if (const size_t nul = body.find('\0'); nul != std::string_view::npos) {
    *error = "malformed JSON at offset " + std::to_string(nul) + ": a NUL byte";
    return std::nullopt;
  }
  WriteBody out;
  BodyHandler handler(&out);
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(body.data(), body.size());
  // Iterative: the reader keeps its own heap stack; depth is bounded by
  // the handler, which stops the parse (kParseErrorTermination).
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseIterativeFlag;
  rapidjson::ParseResult r = reader.Parse<kFlags>(ms, handler);
  if (!handler.error().empty()) {
    *error = handler.error();
    return std::nullopt;
  }
  if (r.IsError()) {
    *error = std::string("malformed JSON at offset ") + std::to_string(r.Offset()) + ": " +
             rapidjson::GetParseError_En(r.Code());
    return std::nullopt;
  }
  if (!handler.Finish(error)) return std::nullopt;
  return out;
}

}  // namespace casmem::net
