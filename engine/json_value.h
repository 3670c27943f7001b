// A small JSON DOM for the patch engine (json_patch.cc): parse untrusted
// text into it, compare and edit values, serialise back to compact JSON.
// Numbers are kept as their exact source text and objects keep their
// member order (duplicate names too), so a value that is parsed and
// serialised unchanged comes back byte for byte when it was compact JSON
// written by RapidJSON's Writer (which is how the store keeps values).
//
// Depth: ParseJson bounds nesting, so the functions here that recurse
// (Equal, Depth, MinSize, the copy constructor and the destructor, one frame or a
// few per level) recurse at most as deep as the caller lets a value grow.
// json_patch.cc keeps every document it builds within kMaxJsonDepth (+ a
// patch operation's own two levels for a parsed patch), which makes their
// recursion bounded; SerializeJson is iterative regardless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace casmem::json {

struct Member;

// One JSON value. `text` is the decoded UTF-8 of a string or the source
// text of a number; `items` the elements of an array; `members` the
// members of an object, in order. Only the field of the value's kind is
// used; the others stay empty.
struct Value {
  enum class Kind : uint8_t { kNull, kFalse, kTrue, kNumber, kString, kArray, kObject };

  Value() = default;
  // Defined below Member: std::vector<Member> needs Member complete
  // wherever a Value may be destroyed (clang checks it in class scope).
  explicit Value(Kind k);
  static Value Number(std::string_view source_text);
  static Value String(std::string_view utf8);
  static Value Bool(bool b);

  bool is_object() const { return kind == Kind::kObject; }
  bool is_array() const { return kind == Kind::kArray; }
  bool is_null() const { return kind == Kind::kNull; }

  // The first member named `name`, or nullptr (linear: objects are small).
  Value* Find(std::string_view name);
  const Value* Find(std::string_view name) const;

  Kind kind = Kind::kNull;
  std::string text;
  std::vector<Value> items;
  std::vector<Member> members;
};

struct Member {
  std::string name;
  Value value;
};

inline Value::Value(Kind k) : kind(k) {}
inline Value Value::Bool(bool b) { return Value(b ? Kind::kTrue : Kind::kFalse); }

enum class ParseFailure { kNone, kSyntax, kTooDeep, kBadString };

// Parses exactly one JSON value (whitespace around it allowed) with
// RapidJSON's iterative SAX reader: invalid UTF-8 bytes, a string or name
// that decodes to invalid UTF-8 (an escaped lone surrogate such as
// "\udc00"), or containers nested deeper than max_depth (`[]` is 1) fail.
// On failure *error is a sentence for a client and *out is unspecified.
ParseFailure ParseJson(std::string_view text, int max_depth, Value* out, std::string* error);

// Nesting depth: a scalar is 0, `[]` and `{}` are 1, `[[1]]` is 2.
int Depth(const Value& v);

// A lower bound of the size of v's compact JSON, exact but for the quotes
// and colon of member names, commas and escapes. It adds up: a
// container's is 2 plus its elements' (plus its member names' bytes), so
// an edit can keep a running total of a document's (json_patch.cc).
size_t MinSize(const Value& v);

// Structural equality, as RFC 6902's `test`: numbers by mathematical value
// (NumberEqual), strings by code points (bytes: both are valid UTF-8),
// arrays element by element, objects as sets of members regardless of
// order.
bool Equal(const Value& a, const Value& b);

// Compares two JSON number texts by value without rounding: "1", "1.0",
// "10e-1" and "0.1E1" are equal; "-0" equals "0". Exponents beyond
// +-4e18 saturate (no such number fits a double; RapidJSON refuses most).
bool NumberEqual(std::string_view a, std::string_view b);

// The value of JSON number text that is an integer written without
// fraction or exponent and fits in int64 ("-0" is 0); false otherwise.
bool ParseInt64(std::string_view text, int64_t* out);

enum class SerializeFailure { kNone, kTooDeep, kTooLarge };

// Appends compact JSON of `v` to *out (strings escaped as RapidJSON's
// Writer escapes them, numbers as their text). Stops with kTooDeep when a
// container nests deeper than max_depth, with kTooLarge once *out would
// exceed max_bytes; *out is then unspecified. Iterative.
SerializeFailure SerializeJson(const Value& v, int max_depth, size_t max_bytes, std::string* out);

}  // namespace casmem::json
