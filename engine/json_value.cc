// The patch engine's JSON DOM: parsing with RapidJSON's iterative SAX
// reader into Value, number comparison on the decimal text, and the
// iterative compact serialiser.
#include "engine/json_value.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include "engine/names.h"

namespace casmem::json {
namespace {

using rapidjson::SizeType;

// Builds a Value from SAX events. stack_ holds the open containers,
// innermost last. A pointer in it stays valid while that container is
// open: only the innermost open container's vector grows, and no pointer
// to one of its elements is held then (its open child, if any, is on top
// and is what grows). The first error stops the parse.
class Builder {
 public:
  Builder(Value* root, int max_depth) : root_(root), max_depth_(max_depth) {}

  bool Null() { return Slot() != nullptr; }
  bool Bool(bool b) {
    Slot()->kind = b ? Value::Kind::kTrue : Value::Kind::kFalse;
    return true;
  }
  // Numbers arrive as RawNumber (kParseNumbersAsStringsFlag).
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char* s, SizeType len, bool) {
    Value* v = Slot();
    v->kind = Value::Kind::kNumber;
    v->text.assign(s, len);
    return true;
  }
  bool String(const char* s, SizeType len, bool) {
    const std::string_view str(s, len);
    if (!ValidUtf8(str)) return Fail(ParseFailure::kBadString);
    Value* v = Slot();
    v->kind = Value::Kind::kString;
    v->text.assign(str);
    return true;
  }
  bool Key(const char* s, SizeType len, bool) {
    const std::string_view name(s, len);
    if (!ValidUtf8(name)) return Fail(ParseFailure::kBadString);
    std::vector<Member>& ms = stack_.back()->members;
    if (ms.capacity() == 0) ms.reserve(4);
    ms.emplace_back().name.assign(name);
    return true;
  }
  bool StartObject() { return Open(Value::Kind::kObject); }
  bool StartArray() { return Open(Value::Kind::kArray); }
  bool EndObject(SizeType) { return Close(); }
  bool EndArray(SizeType) { return Close(); }

  ParseFailure failure() const { return failure_; }

 private:
  bool Fail(ParseFailure f) {
    if (failure_ == ParseFailure::kNone) failure_ = f;
    return false;
  }
  // Where the next value goes: a new null element or the member the last
  // Key made, filled in place (no temporary Value to move).
  Value* Slot() {
    if (stack_.empty()) return root_;
    Value* c = stack_.back();
    if (c->kind == Value::Kind::kArray) {
      if (c->items.capacity() == 0) c->items.reserve(4);  // skip the 1, 2 steps
      return &c->items.emplace_back();
    }
    return &c->members.back().value;  // Key came first
  }
  bool Open(Value::Kind kind) {
    if (static_cast<int>(stack_.size()) >= max_depth_) return Fail(ParseFailure::kTooDeep);
    Value* v = Slot();
    v->kind = kind;
    stack_.push_back(v);
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return true;
  }

  Value* root_;
  int max_depth_;
  std::vector<Value*> stack_;
  ParseFailure failure_ = ParseFailure::kNone;
};

// A JSON number's value as sign, significant digits (no leading or
// trailing zeros) and a power of ten: value = digits * 10^exp.
struct Decimal {
  bool negative = false;
  std::string digits;  // empty for zero
  int64_t exp = 0;
};

constexpr int64_t kExpCap = 4'000'000'000'000'000'000;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// False if `t` is not JSON number syntax.
bool ToDecimal(std::string_view t, Decimal* d) {
  size_t i = 0;
  if (i < t.size() && t[i] == '-') {
    d->negative = true;
    ++i;
  }
  const size_t int_begin = i;
  while (i < t.size() && IsDigit(t[i])) ++i;
  const std::string_view int_part = t.substr(int_begin, i - int_begin);
  if (int_part.empty()) return false;
  std::string_view frac_part;
  if (i < t.size() && t[i] == '.') {
    const size_t b = ++i;
    while (i < t.size() && IsDigit(t[i])) ++i;
    frac_part = t.substr(b, i - b);
    if (frac_part.empty()) return false;
  }
  int64_t e = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) eneg = t[i++] == '-';
    const size_t b = i;
    while (i < t.size() && IsDigit(t[i])) {
      // Past kExpCap / 10 another digit passes the cap: it stays there (the
      // multiplication would overflow int64 from about 9.2e17 on).
      e = e < kExpCap / 10 ? e * 10 + (t[i] - '0') : kExpCap;
      ++i;
    }
    if (i == b) return false;
    if (e > kExpCap) e = kExpCap;
    if (eneg) e = -e;
  }
  if (i != t.size()) return false;
  d->digits.reserve(int_part.size() + frac_part.size());
  d->digits.append(int_part).append(frac_part);
  const size_t first = d->digits.find_first_not_of('0');
  if (first == std::string::npos) {  // zero, whatever its sign
    d->digits.clear();
    d->negative = false;
    d->exp = 0;
    return true;
  }
  const size_t last = d->digits.find_last_not_of('0');
  const int64_t trailing = static_cast<int64_t>(d->digits.size() - 1 - last);
  d->digits = d->digits.substr(first, last + 1 - first);
  d->exp = e - static_cast<int64_t>(frac_part.size()) + trailing;
  return true;
}

void AppendEscaped(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    out->push_back('\\');
    switch (c) {
      case '"': out->push_back('"'); break;
      case '\\': out->push_back('\\'); break;
      case '\b': out->push_back('b'); break;
      case '\t': out->push_back('t'); break;
      case '\n': out->push_back('n'); break;
      case '\f': out->push_back('f'); break;
      case '\r': out->push_back('r'); break;
      default:
        out->append("u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xF]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

}  // namespace

Value Value::Number(std::string_view source_text) {
  Value v(Kind::kNumber);
  v.text.assign(source_text);
  return v;
}

Value Value::String(std::string_view utf8) {
  Value v(Kind::kString);
  v.text.assign(utf8);
  return v;
}

Value* Value::Find(std::string_view name) {
  for (Member& m : members) {
    if (m.name == name) return &m.value;
  }
  return nullptr;
}

const Value* Value::Find(std::string_view name) const {
  return const_cast<Value*>(this)->Find(name);
}

ParseFailure ParseJson(std::string_view text, int max_depth, Value* out, std::string* error) {
  *out = Value();  // the builder fills values in place
  // A raw NUL is never JSON, and RapidJSON would take it for the end of
  // the input: `{"a":1}` NUL `garbage` would pass as `{"a":1}`.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    *error = "malformed JSON at offset " + std::to_string(nul) + ": a NUL byte";
    return ParseFailure::kSyntax;
  }
  Builder builder(out, max_depth);
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  // Iterative: the reader keeps its own heap stack; the builder bounds the
  // depth and stops the parse (kParseErrorTermination).
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseIterativeFlag;
  const rapidjson::ParseResult r = reader.Parse<kFlags>(ms, builder);
  switch (builder.failure()) {
    case ParseFailure::kTooDeep:
      *error = "JSON nested deeper than " + std::to_string(max_depth) + " levels";
      return ParseFailure::kTooDeep;
    case ParseFailure::kBadString:
      *error = "a JSON string is not valid Unicode (invalid UTF-8 or a lone surrogate)";
      return ParseFailure::kBadString;
    default:
      break;
  }
  if (r.IsError()) {
    *error = std::string("malformed JSON at offset ") + std::to_string(r.Offset()) + ": " +
             rapidjson::GetParseError_En(r.Code());
    return ParseFailure::kSyntax;
  }
  return ParseFailure::kNone;
}

// Recursion: one frame per level of `v` (see the file comment).
int Depth(const Value& v) {
  int d = 0;
  if (v.kind == Value::Kind::kArray) {
    for (const Value& x : v.items) d = std::max(d, Depth(x));
    return d + 1;
  }
  if (v.kind == Value::Kind::kObject) {
    for (const Member& m : v.members) d = std::max(d, Depth(m.value));
    return d + 1;
  }
  return 0;
}

// Recursion: one frame per level of `v` (see the file comment).
size_t MinSize(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNull:
    case Value::Kind::kTrue: return 4;
    case Value::Kind::kFalse: return 5;
    case Value::Kind::kNumber: return v.text.size();
    case Value::Kind::kString: return v.text.size() + 2;
    case Value::Kind::kArray: {
      size_t n = 2;
      for (const Value& x : v.items) n += MinSize(x);
      return n;
    }
    case Value::Kind::kObject: {
      size_t n = 2;
      for (const Member& m : v.members) n += m.name.size() + MinSize(m.value);
      return n;
    }
  }
  return 0;
}

bool NumberEqual(std::string_view a, std::string_view b) {
  if (a == b) return true;
  Decimal x, y;
  if (!ToDecimal(a, &x) || !ToDecimal(b, &y)) return false;
  return x.negative == y.negative && x.exp == y.exp && x.digits == y.digits;
}

// Recursion: at most min(Depth(a), Depth(b)) + 1 frames deep.
bool Equal(const Value& a, const Value& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::Kind::kNumber:
      return NumberEqual(a.text, b.text);
    case Value::Kind::kString:
      return a.text == b.text;
    case Value::Kind::kArray:
      if (a.items.size() != b.items.size()) return false;
      for (size_t i = 0; i < a.items.size(); ++i) {
        if (!Equal(a.items[i], b.items[i])) return false;
      }
      return true;
    case Value::Kind::kObject: {
      if (a.members.size() != b.members.size()) return false;
      bool same_order = true;
      for (size_t i = 0; i < a.members.size(); ++i) {
        // Same position first (the usual case), else look the name up.
        const Member& m = a.members[i];
        const Value* other = &b.members[i].value;
        if (b.members[i].name != m.name) {
          same_order = false;
          other = b.Find(m.name);
        }
        if (other == nullptr || !Equal(m.value, *other)) return false;
      }
      if (same_order) return true;
      // Every name of a is in b and the sizes match; only duplicate names
      // could hide a name of b that a lacks ({"x","x"} vs {"x","y"}).
      for (const Member& m : b.members) {
        if (a.Find(m.name) == nullptr) return false;
      }
      return true;
    }
    default:
      return true;  // null, true, false
  }
}

bool ParseInt64(std::string_view t, int64_t* out) {
  bool negative = false;
  if (!t.empty() && t[0] == '-') {
    negative = true;
    t.remove_prefix(1);
  }
  if (t.empty() || t.size() > 19 || (t.size() > 1 && t[0] == '0')) return false;
  uint64_t mag = 0;
  for (char c : t) {
    if (!IsDigit(c)) return false;
    mag = mag * 10 + static_cast<uint64_t>(c - '0');  // 19 digits cannot wrap
  }
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (mag > limit) return false;
  *out = negative ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
  return true;
}

SerializeFailure SerializeJson(const Value& root, int max_depth, size_t max_bytes,
                               std::string* out) {
  const size_t base = out->size();
  struct Frame {
    const Value* v;
    size_t next;  // the next element or member to write
  };
  std::vector<Frame> stack;
  const Value* v = &root;  // the value to write next, nullptr when none
  for (;;) {
    if (v != nullptr) {
      switch (v->kind) {
        case Value::Kind::kNull: out->append("null"); break;
        case Value::Kind::kFalse: out->append("false"); break;
        case Value::Kind::kTrue: out->append("true"); break;
        case Value::Kind::kNumber: out->append(v->text); break;
        case Value::Kind::kString: AppendEscaped(v->text, out); break;
        case Value::Kind::kArray:
        case Value::Kind::kObject:
          if (static_cast<int>(stack.size()) >= max_depth) return SerializeFailure::kTooDeep;
          out->push_back(v->kind == Value::Kind::kArray ? '[' : '{');
          stack.push_back(Frame{v, 0});
          break;
      }
      if (out->size() - base > max_bytes) return SerializeFailure::kTooLarge;
      v = nullptr;
    }
    if (stack.empty()) return SerializeFailure::kNone;
    Frame& f = stack.back();
    if (f.v->kind == Value::Kind::kArray) {
      if (f.next < f.v->items.size()) {
        if (f.next > 0) out->push_back(',');
        v = &f.v->items[f.next++];
        continue;
      }
      out->push_back(']');
    } else {
      if (f.next < f.v->members.size()) {
        if (f.next > 0) out->push_back(',');
        const Member& m = f.v->members[f.next++];
        AppendEscaped(m.name, out);
        out->push_back(':');
        v = &m.value;
        continue;
      }
      out->push_back('}');
    }
    stack.pop_back();
    if (out->size() - base > max_bytes) return SerializeFailure::kTooLarge;
  }
}

}  // namespace casmem::json
