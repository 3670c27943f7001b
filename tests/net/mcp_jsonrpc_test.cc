// The MCP endpoint's JSON-RPC layer (net/mcp_jsonrpc.h): validation
// (depth, Unicode, one value), raw member and element slices that keep a
// value's text as sent, and message classification.
#include <gtest/gtest.h>

#include <string>

#include "net/mcp_jsonrpc.h"

namespace casmem::net::mcp {
namespace {

TEST(McpJsonRpc, ValidJsonBoundsDepthAndChecksStrings) {
  std::string error;
  EXPECT_TRUE(ValidJson(" {\"a\":[1,2.50,{\"b\":null}]}\n", 3, &error)) << error;
  EXPECT_FALSE(ValidJson("[[[[1]]]]", 3, &error));
  EXPECT_NE(error.find("deeper"), std::string::npos);
  EXPECT_TRUE(ValidJson("[[[1]]]", 3, &error));
  EXPECT_FALSE(ValidJson(R"(["\udc00"])", 3, &error));
  EXPECT_FALSE(ValidJson(R"({"\ud800":1})", 3, &error));
  EXPECT_TRUE(ValidJson(R"(["\ud83d\ude00"])", 3, &error));
  EXPECT_FALSE(ValidJson("[\"\xff\"]", 3, &error));
  EXPECT_FALSE(ValidJson("{} {}", 3, &error));
  EXPECT_FALSE(ValidJson(std::string("{}\0", 3), 3, &error));
  EXPECT_FALSE(ValidJson("", 3, &error));
  // A deep body never recurses: a million brackets are refused quickly.
  EXPECT_FALSE(ValidJson(std::string(1'000'000, '['), kMaxBodyDepth, &error));
}

TEST(McpJsonRpc, MembersKeepRawText) {
  const std::string text = R"({ "key" : "a\"b" , "val\u0075e":{"n":12345678901234567890,"s":"]}"} ,"x":[1, [2]],"t":true,"z":-0.0e1})";
  std::string error;
  ASSERT_TRUE(ValidJson(text, 10, &error));
  const Members m = MembersOf(text);
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0].first, "key");
  EXPECT_EQ(m[0].second, R"("a\"b")");
  EXPECT_EQ(StringOf(m[0].second), "a\"b");
  EXPECT_EQ(m[1].first, "value");
  EXPECT_EQ(m[1].second, R"({"n":12345678901234567890,"s":"]}"})");
  EXPECT_EQ(m[2].second, "[1, [2]]");
  EXPECT_EQ(TypeOf(m[3].second), JsonType::kBool);
  EXPECT_EQ(m[4].second, "-0.0e1");
  EXPECT_EQ(TypeOf(m[4].second), JsonType::kNumber);
  const auto elements = ElementsOf(m[2].second);
  ASSERT_EQ(elements.size(), 2u);
  EXPECT_EQ(elements[1], "[2]");
  EXPECT_TRUE(ElementsOf("[ ]").empty());
  EXPECT_TRUE(MembersOf("{ }").empty());
  // A repeated member: the last wins.
  EXPECT_EQ(*Find(MembersOf(R"({"a":1,"a":2})"), "a"), "2");
  EXPECT_FALSE(Find(m, "nope"));
}

TEST(McpJsonRpc, ClassifiesMessages) {
  Message m = ParseMessage(R"({"jsonrpc":"2.0","id":"x\"1","method":"tools/call","params":{"name":"memory_get"}})");
  EXPECT_EQ(m.kind, Message::Kind::kRequest);
  EXPECT_EQ(m.id, R"("x\"1")");
  EXPECT_EQ(m.method, "tools/call");
  EXPECT_EQ(m.params, R"({"name":"memory_get"})");
  m = ParseMessage(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(m.kind, Message::Kind::kNotification);
  EXPECT_EQ(m.id, "null");
  EXPECT_EQ(ParseMessage(R"({"jsonrpc":"2.0","id":3,"result":{}})").kind, Message::Kind::kResponse);
  EXPECT_EQ(ParseMessage(R"({"jsonrpc":"2.0","id":3,"error":{"code":1}})").kind, Message::Kind::kResponse);
  for (const char* bad : {R"([])", R"({"id":1,"method":"ping"})", R"({"jsonrpc":2,"id":1,"method":"ping"})",
                          R"({"jsonrpc":"2.0","id":true,"method":"ping"})", R"({"jsonrpc":"2.0","id":1e3,"method":"ping"})",
                          R"({"jsonrpc":"2.0","result":{}})", R"({"jsonrpc":"2.0","id":1,"method":null})",
                          R"({"jsonrpc":"2.0","id":1,"method":"m","params":"p"})"}) {
    EXPECT_EQ(ParseMessage(bad).kind, Message::Kind::kInvalid) << bad;
  }
  // The id of an invalid message is kept when valid (its error names it).
  EXPECT_EQ(ParseMessage(R"({"jsonrpc":"2.0","id":4,"method":5})").id, "4");
}

TEST(McpJsonRpc, Bodies) {
  Body b = ParseBody(R"( {"jsonrpc":"2.0","id":1,"method":"ping"} )");
  EXPECT_FALSE(b.batch);
  ASSERT_EQ(b.messages.size(), 1u);
  b = ParseBody(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}, 7])");
  EXPECT_TRUE(b.batch);
  ASSERT_EQ(b.messages.size(), 2u);
  EXPECT_EQ(b.messages[1].kind, Message::Kind::kInvalid);
  EXPECT_EQ(ParseBody("[]").error_code, kInvalidRequest);
  EXPECT_EQ(ParseBody("{").error_code, kParseError);
  EXPECT_EQ(ParseBody("1e400").error_code, kParseError);
  std::string deep = R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"value":)";
  EXPECT_EQ(ParseBody(deep + std::string(128, '[') + std::string(128, ']') + "}}}").error_code, 0);
  EXPECT_EQ(ParseBody(deep + std::string(200, '[') + std::string(200, ']') + "}}}").error_code, kParseError);
}

}  // namespace
}  // namespace casmem::net::mcp
