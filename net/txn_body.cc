// ParseTxnBody: a SAX handler over the transaction body. It walks three
// fixed levels (the body object, the `ops` array, each op object), skips
// members it does not know, and captures `value`, `patch` and `merge` into
// a compact writer (numbers forwarded raw). Each op is checked when its
// object closes, the key rules across ops once the body has parsed.
#include "net/txn_body.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <unordered_map>

#include "engine/names.h"
#include "net/json_body.h"

namespace casmem::net {
namespace {

using rapidjson::SizeType;

// Members an op may have; a bit each in TxnHandler::seen_.
enum Member : unsigned {
  kOp = 1, kKey = 2, kValue = 4, kPatch = 8, kMerge = 16, kIfMatch = 32, kTtl = 64, kVersion = 128,
  kIgnoredMember = 0,
};

const char* MemberName(unsigned m) {
  switch (m) {
    case kOp: return "op";
    case kKey: return "key";
    case kValue: return "value";
    case kPatch: return "patch";
    case kMerge: return "merge";
    case kIfMatch: return "if_match_version";
    case kTtl: return "ttl_seconds";
    case kVersion: return "version";
    default: return "?";
  }
}

unsigned MemberOf(std::string_view name) {
  for (unsigned m = kOp; m <= kVersion; m <<= 1)
    if (name == MemberName(m)) return m;
  return kIgnoredMember;
}

// Levels: 0 outside the body, 1 in the body object, 2 in `ops`, 3 in an
// op object. skip_ > 0 while inside an ignored member's containers;
// capturing_ while a value member is copied to the writer (capture_depth_
// containers open). The first error wins and stops the parse.
class TxnHandler {
 public:
  explicit TxnHandler(std::vector<TxnBodyOp>* ops) : ops_(ops), writer_(buf_) {}

  bool Null() { return capturing_ ? Leaf(writer_.Null()) : Scalar(Kind::kNull, {}); }
  bool Bool(bool b) { return capturing_ ? Leaf(writer_.Bool(b)) : Scalar(Kind::kOther, "a boolean"); }
  bool Int(int) { return false; }  // numbers arrive as RawNumber
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char* s, SizeType len, bool) {
    if (capturing_) return Leaf(writer_.RawValue(s, len, rapidjson::kNumberType));
    return Scalar(Kind::kNumber, std::string_view(s, len));
  }
  bool String(const char* s, SizeType len, bool) {
    if (!ValidUtf8(std::string_view(s, len))) return BadString();
    if (capturing_) return Leaf(writer_.String(s, len));
    return Scalar(Kind::kString, std::string_view(s, len));
  }
  bool Key(const char* s, SizeType len, bool) {
    const std::string_view name(s, len);
    if (!ValidUtf8(name)) return BadString();
    if (capturing_) return writer_.Key(s, len);
    if (skip_ > 0) return true;
    if (level_ == 1) {
      in_ops_ = name == "ops";
      if (in_ops_ && saw_ops_) return Error("\"ops\" given twice");
      return true;
    }
    // level_ == 3
    member_ = MemberOf(name);
    if (member_ == kValue || member_ == kPatch || member_ == kMerge) {
      buf_.Clear();
      writer_.Reset(buf_);
      capturing_ = true;
      capture_first_ = true;
      capture_depth_ = 0;
    }
    return true;
  }
  bool StartObject() { return Open(true); }
  bool EndObject(SizeType) { return Close(true); }
  bool StartArray() { return Open(false); }
  bool EndArray(SizeType) { return Close(false); }

  // After a successful parse: `ops` given, and the key rules across ops.
  bool Finish() {
    if (!saw_ops_) return Error("missing field \"ops\"");
    std::unordered_map<std::string_view, size_t> written;  // key -> op writing it
    for (size_t i = 0; i < ops_->size(); ++i) {
      const TxnBodyOp& op = (*ops_)[i];
      auto it = written.find(op.key);
      if (it != written.end()) {
        const std::string by = std::to_string(it->second);
        return Error(OpPrefix(i) + (op.type == TxnOp::Type::kCheck
                                        ? "a check of a key must come before its write (op " + by + ")"
                                        : "key already written by op " + by));
      }
      if (op.type != TxnOp::Type::kCheck) written.emplace(op.key, i);
    }
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  enum class Kind { kNull, kNumber, kString, kOther };

  static std::string OpPrefix(size_t i) { return "op " + std::to_string(i) + ": "; }
  bool Error(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
    return false;
  }
  bool OpError(const std::string& msg) { return Error(OpPrefix(ops_->size() - 1) + msg); }
  bool BadString() {
    return Error("a string in the body is not valid Unicode (invalid UTF-8 or a lone surrogate)");
  }
  TxnBodyOp& Cur() { return ops_->back(); }

  // A scalar outside any captured value.
  bool Scalar(Kind kind, std::string_view text) {
    if (skip_ > 0) return true;
    switch (level_) {
      case 0: return Error("the body must be a JSON object");
      case 1:
        if (in_ops_) return Error("\"ops\" must be an array");
        return true;
      case 2: return Error(OpPrefix(ops_->size()) + "an op must be a JSON object");
      default: break;
    }
    const char* name = MemberName(member_);
    switch (member_) {
      case kIgnoredMember: return true;
      case kOp:
      case kKey: {
        if (kind != Kind::kString) return OpError(std::string("\"") + name + "\" must be a string");
        seen_ |= member_;
        if (member_ == kKey) {
          Cur().key.assign(text);
          return true;
        }
        if (text == "set") op_type_ = TxnOp::Type::kSet;
        else if (text == "patch") op_type_ = TxnOp::Type::kPatch;
        else if (text == "delete") op_type_ = TxnOp::Type::kDelete;
        else if (text == "check") op_type_ = TxnOp::Type::kCheck;
        else return OpError("\"op\" must be \"set\", \"patch\", \"delete\" or \"check\"");
        return true;
      }
      default: {  // kIfMatch, kTtl, kVersion
        std::optional<uint64_t>& slot =
            member_ == kTtl ? Cur().ttl_seconds : member_ == kIfMatch ? guard_ : check_version_;
        if (kind == Kind::kNull) {  // null means "not given"
          seen_ &= ~member_;
          slot.reset();
          return true;
        }
        if (kind != Kind::kNumber) {
          return OpError(std::string("\"") + name + "\" must be an integer");
        }
        auto n = ParseUnsigned(text);
        if (!n) return OpError(std::string("\"") + name + "\" must be a non-negative integer");
        if (member_ == kTtl && (*n < 1 || *n > kMaxTtlSeconds)) {
          return OpError("\"ttl_seconds\" must be an integer from 1 to 315360000");
        }
        seen_ |= member_;
        slot = n;
        return true;
      }
    }
  }

  // A complete scalar or container inside a captured value.
  bool Leaf(bool ok) {
    if (capture_first_ && member_ == kPatch) {
      return OpError("\"patch\" must be an array of operations");
    }
    capture_first_ = false;
    if (capture_depth_ == 0) EndCapture();
    return ok;
  }
  void EndCapture() {
    capturing_ = false;
    seen_ |= member_;
    std::string text(buf_.GetString(), buf_.GetSize());
    if (member_ == kValue) {
      Cur().value = std::move(text);
    } else {
      Cur().patch_text = std::move(text);
      Cur().merge = member_ == kMerge;
      // The last of `patch` / `merge` wins, as a repeated member does.
      seen_ &= ~(member_ == kMerge ? kPatch : kMerge);
    }
  }

  bool Open(bool object) {
    if (capturing_) {
      if (capture_first_ && member_ == kPatch && object) {
        return OpError("\"patch\" must be an array of operations");
      }
      capture_first_ = false;
      // A `patch` holds its array and operation objects around each
      // value, as a PATCH body does (JsonPatch::Parse allows + 2).
      const int limit = kMaxJsonDepth + (member_ == kPatch ? 2 : 0);
      if (capture_depth_ >= limit) return TooDeep();
      ++capture_depth_;
      return object ? writer_.StartObject() : writer_.StartArray();
    }
    if (skip_ > 0) {
      if (skip_ + level_ > kMaxJsonDepth + 3) return TooDeep();
      ++skip_;
      return true;
    }
    switch (level_) {
      case 0:
        if (!object) return Error("the body must be a JSON object");
        level_ = 1;
        return true;
      case 1:
        if (!in_ops_) {
          skip_ = 1;
          return true;
        }
        if (object) return Error("\"ops\" must be an array");
        saw_ops_ = true;
        level_ = 2;
        return true;
      case 2:
        if (!object) return Error(OpPrefix(ops_->size()) + "an op must be a JSON object");
        if (ops_->size() >= kMaxTxnOps) {
          return Error("a transaction holds at most " + std::to_string(kMaxTxnOps) + " ops");
        }
        ops_->emplace_back();
        seen_ = 0;
        guard_.reset();
        check_version_.reset();
        level_ = 3;
        return true;
      default:
        if (member_ != kIgnoredMember) {
          return OpError(std::string("\"") + MemberName(member_) + "\" must not be an object or array");
        }
        skip_ = 1;
        return true;
    }
  }

  bool Close(bool object) {
    if (capturing_) {
      const bool ok = object ? writer_.EndObject() : writer_.EndArray();
      if (--capture_depth_ == 0) EndCapture();
      return ok;
    }
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    switch (level_) {
      case 2:
        if (ops_->empty()) return Error("\"ops\" must hold 1 to 128 operations");
        level_ = 1;
        in_ops_ = false;
        return true;
      case 3:
        level_ = 2;
        return FinishOp();
      default:
        level_ = 0;
        return true;
    }
  }

  // The op object just closed: required members there, none of another type.
  bool FinishOp() {
    if (!(seen_ & kOp)) return OpError("missing field \"op\"");
    if (!(seen_ & kKey)) return OpError("missing field \"key\"");
    TxnBodyOp& op = Cur();
    op.type = op_type_;
    if (const char* problem = KeyProblem(op.key)) return OpError(problem);
    unsigned allowed = kOp | kKey;
    const char* type_name = "";
    switch (op_type_) {
      case TxnOp::Type::kSet:
        if (!(seen_ & kValue)) return OpError("missing field \"value\"");
        allowed |= kValue | kIfMatch | kTtl;
        type_name = "set";
        break;
      case TxnOp::Type::kPatch:
        if (!(seen_ & (kPatch | kMerge))) return OpError("a patch op needs \"patch\" or \"merge\"");
        allowed |= kPatch | kMerge | kIfMatch | kTtl;
        type_name = "patch";
        break;
      case TxnOp::Type::kDelete:
        allowed |= kIfMatch;
        type_name = "delete";
        break;
      case TxnOp::Type::kCheck:
        if (!(seen_ & kVersion)) return OpError("missing field \"version\"");
        allowed |= kVersion;
        type_name = "check";
        break;
    }
    for (unsigned m = kOp; m <= kVersion; m <<= 1) {
      if ((seen_ & m) && !(allowed & m)) {
        return OpError(std::string("\"") + MemberName(m) + "\" does not apply to a " + type_name +
                       " op");
      }
    }
    op.version = op_type_ == TxnOp::Type::kCheck ? check_version_ : guard_;
    return true;
  }

  bool TooDeep() {
    return Error("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }

  std::vector<TxnBodyOp>* ops_;
  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
  int level_ = 0;
  int skip_ = 0;
  bool in_ops_ = false;
  bool saw_ops_ = false;
  unsigned member_ = kIgnoredMember;
  unsigned seen_ = 0;  // members of the current op given (non-null)
  std::optional<uint64_t> guard_, check_version_;  // of the current op
  TxnOp::Type op_type_ = TxnOp::Type::kSet;
  bool capturing_ = false;
  bool capture_first_ = false;
  int capture_depth_ = 0;
  std::string error_;
};

}  // namespace

std::optional<std::vector<TxnBodyOp>> ParseTxnBody(std::string_view body, std::string* error) {
  // A raw NUL is never JSON, and RapidJSON would take it for the end of
  // the input: `{"a":1}` NUL `garbage` would pass as `{"a":1}`.
  if (const size_t nul = body.find('\0'); nul != std::string_view::npos) {
    *error = "malformed JSON at offset " + std::to_string(nul) + ": a NUL byte";
    return std::nullopt;
  }
  std::vector<TxnBodyOp> ops;
  TxnHandler handler(&ops);
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(body.data(), body.size());
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
  if (!handler.Finish()) {
    *error = handler.error();
    return std::nullopt;
  }
  return ops;
}

}  // namespace casmem::net
