// The patch engine's JSON DOM (engine/json_value.h): parsing limits and
// checks, exact round trips against RapidJSON's own Writer, number
// comparison, int64 parsing and the serialiser's limits.
#include "engine/json_value.h"

#include <gtest/gtest.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace casmem::json {
namespace {

// Compact JSON as the store writes it: RapidJSON's SAX reader into its
// Writer, numbers forwarded raw (as net/json_body.cc does).
struct RawForward : rapidjson::Writer<rapidjson::StringBuffer> {
  using Writer::Writer;
  bool RawNumber(const char* s, rapidjson::SizeType len, bool) {
    return RawValue(s, len, rapidjson::kNumberType);
  }
};
std::string RapidCompact(std::string_view text) {
  rapidjson::StringBuffer buf;
  RawForward w(buf);
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag;
  EXPECT_FALSE(reader.Parse<kFlags>(ms, w).IsError()) << text;
  return std::string(buf.GetString(), buf.GetSize());
}

std::string RoundTrip(std::string_view text, int max_depth = 128) {
  Value v;
  std::string error;
  EXPECT_EQ(ParseJson(text, max_depth, &v, &error), ParseFailure::kNone) << error << " in " << text;
  std::string out;
  EXPECT_EQ(SerializeJson(v, max_depth, SIZE_MAX, &out), SerializeFailure::kNone);
  return out;
}

ParseFailure ParseOnly(std::string_view text, int max_depth = 128) {
  Value v;
  std::string error;
  const ParseFailure f = ParseJson(text, max_depth, &v, &error);
  if (f != ParseFailure::kNone) {
    EXPECT_FALSE(error.empty());
  }
  return f;
}

Value Parse(std::string_view text) {
  Value v;
  std::string error;
  EXPECT_EQ(ParseJson(text, 128, &v, &error), ParseFailure::kNone) << error;
  return v;
}

TEST(JsonValue, RoundTripMatchesRapidJsonWriter) {
  const char* cases[] = {
      "null", "true", "false", "0", "-0", "1.10", "1E+2", "1e-7", "-12.5e+003",
      "12345678901234567890", "123456789012345678901234567890.000000000000000001",
      "\"\"", "\"plain\"", "\"q\\\"b\\\\s/\"", "\"\\/\"",
      "\"\\b\\f\\n\\r\\t\\u0001\\u001f\\u0000 \\u007f\"",
      "\"\\u00e9\\u2028\\u2029 \xc3\xa9 \\ud83d\\ude00 \xf0\x9f\x98\x80\"",
      "[]", "{}", "[[],{}]", " [ 1 , 2 ,\n 3 ] ", "{\"a\":1,\"b\":[true,false,null]}",
      "{\"z\":1,\"a\":2,\"z\":3}",  // order and duplicates kept
      "{\"k\\n\\u0000\":{\"\":\"\"}}",
  };
  for (const char* c : cases) {
    EXPECT_EQ(RoundTrip(c), RapidCompact(c)) << c;
  }
  EXPECT_EQ(RoundTrip("12345678901234567890"), "12345678901234567890");
  EXPECT_EQ(RoundTrip("[1.10,-0,1E+2]"), "[1.10,-0,1E+2]");
  EXPECT_EQ(RoundTrip("\"a\\u0001\""), "\"a\\u0001\"");
}

TEST(JsonValue, ParseReplacesWhatTheOutputHeld) {
  Value v = Parse("{\"a\":[1,2]}");
  std::string error, out;
  ASSERT_EQ(ParseJson("\"s\"", 128, &v, &error), ParseFailure::kNone);
  ASSERT_EQ(SerializeJson(v, 128, 100, &out), SerializeFailure::kNone);
  EXPECT_EQ(out, "\"s\"");
  ASSERT_EQ(ParseJson("null", 128, &v, &error), ParseFailure::kNone);
  out.clear();
  ASSERT_EQ(SerializeJson(v, 128, 100, &out), SerializeFailure::kNone);
  EXPECT_EQ(out, "null");
  EXPECT_TRUE(v.members.empty());
}

TEST(JsonValue, RefusesWhatIsNotOneValidValue) {
  EXPECT_EQ(ParseOnly(""), ParseFailure::kSyntax);
  EXPECT_EQ(ParseOnly("[1,]"), ParseFailure::kSyntax);
  EXPECT_EQ(ParseOnly("1 2"), ParseFailure::kSyntax);
  EXPECT_EQ(ParseOnly("{\"a\"}"), ParseFailure::kSyntax);
  EXPECT_EQ(ParseOnly("01"), ParseFailure::kSyntax);
  EXPECT_EQ(ParseOnly("\"\xff\""), ParseFailure::kSyntax);       // invalid UTF-8 byte
  EXPECT_EQ(ParseOnly("\"\xc0\xaf\""), ParseFailure::kSyntax);   // overlong
  EXPECT_EQ(ParseOnly("\"\\udc00\""), ParseFailure::kBadString);  // lone low surrogate
  EXPECT_EQ(ParseOnly("[\"ok\",\"x\\udfff\"]"), ParseFailure::kBadString);
  EXPECT_EQ(ParseOnly("{\"\\udc00\":1}"), ParseFailure::kBadString);  // in a name
  EXPECT_NE(ParseOnly("\"\\ud800\""), ParseFailure::kNone);      // lone high surrogate
  EXPECT_EQ(ParseOnly("\"\\ud83d\\ude00\""), ParseFailure::kNone);
  // A NUL byte: RapidJSON alone reads it as the end and accepts the rest.
  using namespace std::string_literals;
  EXPECT_EQ(ParseOnly("{\"a\":1}\0 {{{ not json"s), ParseFailure::kSyntax);
  EXPECT_EQ(ParseOnly("[1]\0"s), ParseFailure::kSyntax);
}

TEST(JsonValue, DepthIsBounded) {
  auto nested = [](int n) { return std::string(n, '[') + std::string(n, ']'); };
  EXPECT_EQ(ParseOnly(nested(128)), ParseFailure::kNone);
  EXPECT_EQ(ParseOnly(nested(129)), ParseFailure::kTooDeep);
  EXPECT_EQ(ParseOnly(nested(3), 3), ParseFailure::kNone);
  EXPECT_EQ(ParseOnly(nested(4), 3), ParseFailure::kTooDeep);
  EXPECT_EQ(ParseOnly("{\"a\":{\"b\":{\"c\":1}}}", 3), ParseFailure::kNone);
  EXPECT_EQ(ParseOnly("{\"a\":{\"b\":{\"c\":[]}}}", 3), ParseFailure::kTooDeep);
  // Far deeper than any stack: refused without recursion (a recursive
  // parser or a recursive destructor of the partial DOM would crash).
  EXPECT_EQ(ParseOnly(std::string(1'000'000, '[')), ParseFailure::kTooDeep);

  EXPECT_EQ(Depth(Parse("1")), 0);
  EXPECT_EQ(Depth(Parse("[]")), 1);
  EXPECT_EQ(Depth(Parse("[{},[[1]],{\"a\":{\"b\":[]}}]")), 4);
}

TEST(JsonValue, NumbersCompareByValue) {
  EXPECT_TRUE(NumberEqual("1", "1.0"));
  EXPECT_TRUE(NumberEqual("1", "1.000e0"));
  EXPECT_TRUE(NumberEqual("10", "1e1"));
  EXPECT_TRUE(NumberEqual("100", "1E+2"));
  EXPECT_TRUE(NumberEqual("0.1E1", "10e-1"));
  EXPECT_TRUE(NumberEqual("-0", "0"));
  EXPECT_TRUE(NumberEqual("-0.0e5", "0"));
  EXPECT_TRUE(NumberEqual("0.00120", "12e-4"));
  EXPECT_TRUE(NumberEqual("12345678901234567890", "1234567890123456789e1"));
  EXPECT_FALSE(NumberEqual("1", "-1"));
  EXPECT_FALSE(NumberEqual("1", "10"));
  EXPECT_FALSE(NumberEqual("0.1", "0.01"));
  EXPECT_FALSE(NumberEqual("1.5", "15"));
  // Equal as doubles, different as numbers: no rounding through a double.
  EXPECT_FALSE(NumberEqual("12345678901234567890", "12345678901234567891"));
  EXPECT_FALSE(NumberEqual("9007199254740993", "9007199254740992"));
  EXPECT_FALSE(NumberEqual("0.1", "0.10000000000000000001"));
  // Exponents far past int64 (found by fuzz_patch: the exponent's digits
  // overflowed int64 from 10^18 on: undefined behaviour, which the ASan +
  // UBSan build stops at, and a wrapped exponent otherwise).
  const std::string huge = "1e" + std::string(19, '9'), tiny = "1e-" + std::string(19, '9');
  EXPECT_TRUE(NumberEqual(huge, huge));
  EXPECT_FALSE(NumberEqual(huge, tiny));
  EXPECT_FALSE(NumberEqual(huge, "1"));
  EXPECT_FALSE(NumberEqual(tiny, "1"));
  EXPECT_FALSE(NumberEqual("1e1" + std::string(30, '0'), "1e-1" + std::string(30, '0')));
}

TEST(JsonValue, StructuralEquality) {
  EXPECT_TRUE(Equal(Parse("{\"a\":1,\"b\":[1,2]}"), Parse("{\"b\":[1.0,2],\"a\":1e0}")));
  EXPECT_FALSE(Equal(Parse("[1,2]"), Parse("[2,1]")));
  EXPECT_FALSE(Equal(Parse("{\"a\":1}"), Parse("{\"a\":1,\"b\":2}")));
  EXPECT_FALSE(Equal(Parse("{\"a\":1,\"b\":2}"), Parse("{\"a\":1,\"c\":2}")));
  EXPECT_FALSE(Equal(Parse("{\"x\":1,\"x\":1}"), Parse("{\"x\":1,\"y\":1}")));
  EXPECT_FALSE(Equal(Parse("1"), Parse("\"1\"")));
  EXPECT_FALSE(Equal(Parse("null"), Parse("false")));
  EXPECT_FALSE(Equal(Parse("true"), Parse("false")));
  EXPECT_TRUE(Equal(Parse("\"\\u00e9\""), Parse("\"\xc3\xa9\"")));
  EXPECT_FALSE(Equal(Parse("[[]]"), Parse("[{}]")));
}

TEST(JsonValue, Int64Text) {
  int64_t n = 0;
  ASSERT_TRUE(ParseInt64("9223372036854775807", &n));
  EXPECT_EQ(n, INT64_MAX);
  ASSERT_TRUE(ParseInt64("-9223372036854775808", &n));
  EXPECT_EQ(n, INT64_MIN);
  ASSERT_TRUE(ParseInt64("-0", &n));
  EXPECT_EQ(n, 0);
  ASSERT_TRUE(ParseInt64("-17", &n));
  EXPECT_EQ(n, -17);
  for (const char* bad : {"9223372036854775808", "-9223372036854775809", "99999999999999999999",
                          "5.0", "1e2", "01", "-", "", "+1", " 1", "0x10", "--1"}) {
    EXPECT_FALSE(ParseInt64(bad, &n)) << bad;
  }
}

TEST(JsonValue, SerializerLimits) {
  const Value v = Parse("{\"a\":[1,2,3],\"b\":\"xyz\"}");
  const std::string want = "{\"a\":[1,2,3],\"b\":\"xyz\"}";
  std::string out;
  EXPECT_EQ(SerializeJson(v, 128, want.size(), &out), SerializeFailure::kNone);
  EXPECT_EQ(out, want);
  for (size_t max = 0; max < want.size(); ++max) {
    out.clear();
    EXPECT_EQ(SerializeJson(v, 128, max, &out), SerializeFailure::kTooLarge) << max;
  }
  out.clear();
  EXPECT_EQ(SerializeJson(v, 2, 1000, &out), SerializeFailure::kNone);
  out.clear();
  EXPECT_EQ(SerializeJson(v, 1, 1000, &out), SerializeFailure::kTooDeep);
  // Appends: the limit counts only the bytes it adds.
  out = "prefix";
  EXPECT_EQ(SerializeJson(v, 128, want.size(), &out), SerializeFailure::kNone);
  EXPECT_EQ(out, "prefix" + want);
}

}  // namespace
}  // namespace casmem::json
