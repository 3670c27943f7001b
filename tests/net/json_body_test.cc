// Input safety of POST bodies (issue 7): nesting bounded by kMaxJsonDepth in
// `value` and in ignored fields, arrays and objects alike, parsed without
// recursion; every decoded string valid Unicode (escaped lone surrogates
// refused, nothing stored); valid surrogate pairs still round-trip.
#include "net/json_body.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/store.h"
#include "net/handler.h"
#include "net/url.h"

namespace casmem::net {
namespace {

std::string Nested(int levels, char open, char close, const std::string& inner) {
  std::string s;
  for (int i = 0; i < levels; ++i) s += open == '{' ? std::string("{\"a\":") : std::string(1, open);
  s += inner;
  for (int i = 0; i < levels; ++i) s += close;
  return s;
}
std::string Arrays(int levels) { return Nested(levels, '[', ']', "1"); }
std::string Objects(int levels) { return Nested(levels, '{', '}', "1"); }

class JsonBodyTest : public ::testing::Test {
 protected:
  JsonBodyTest() {
    StoreOptions o;  // empty data_dir: memory only
    o.sweep_interval = std::chrono::milliseconds(0);
    o.max_value_bytes = 1 << 20;
    EXPECT_TRUE(Store::Open(o, &store).ok());
    handler = std::make_unique<Handler>(store.get(), &metrics);
  }
  HttpResponse Call(std::string_view method, std::string_view target, std::string_view body = "") {
    HandlerResult r = handler->Handle(HttpRequest{method, target, body});
    EXPECT_TRUE(store->WaitVisible(r.visible_lsn).ok());
    return r.response;
  }
  HttpResponse Post(const std::string& body) { return Call("POST", "/memory", body); }
  int Stored() { return static_cast<int>(store->List("default", "", "", 100).entries.size()); }

  std::unique_ptr<Store> store;
  Metrics metrics;
  std::unique_ptr<Handler> handler;
};

TEST_F(JsonBodyTest, ValueNestedExactlyAtTheLimitIsStored) {
  for (const std::string& v : {Arrays(kMaxJsonDepth), Objects(kMaxJsonDepth)}) {
    HttpResponse r = Post(R"({"key":"k","value":)" + v + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Call("GET", "/memory/k").body.find(v) != std::string::npos, true);
  }
}

TEST_F(JsonBodyTest, ValueNestedDeeperThanTheLimitIs400) {
  for (const std::string& v : {Arrays(kMaxJsonDepth + 1), Objects(kMaxJsonDepth + 1)}) {
    HttpResponse r = Post(R"({"key":"k","value":)" + v + "}");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("nested deeper than 128 levels"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Stored(), 0);
}

TEST_F(JsonBodyTest, IgnoredFieldNestedDeeperThanTheLimitIs400) {
  EXPECT_EQ(Post(R"({"key":"k","value":1,"meta":)" + Arrays(kMaxJsonDepth) + "}").status, 200);
  for (const std::string& v : {Arrays(kMaxJsonDepth + 1), Objects(kMaxJsonDepth + 1)}) {
    HttpResponse r = Post(R"({"key":"k2","meta":)" + v + R"(,"value":1})");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("nested deeper"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Stored(), 1);
}

// Without iterative parsing this overflows the stack (SIGSEGV), even
// unterminated: the recursive reader descends before it sees the end.
TEST_F(JsonBodyTest, HugeNestingIsRefusedWithoutRecursion) {
  const std::string deep(300'000, '[');
  EXPECT_EQ(Post(R"({"key":"k","value":)" + deep).status, 400);
  EXPECT_EQ(Post(R"({"key":"k","x":)" + std::string(300'000, '[')).status, 400);
  EXPECT_EQ(Post(deep).status, 400);
  std::string objs;
  for (int i = 0; i < 100'000; ++i) objs += R"({"a":)";
  EXPECT_EQ(Post(R"({"key":"k","value":)" + objs).status, 400);
  EXPECT_EQ(Stored(), 0);
}

// A NUL byte after the object hid the rest from RapidJSON (it reads NUL as
// the end): the body was stored as if the rest were not there.
TEST_F(JsonBodyTest, ANulByteAnywhereIs400AndNothingIsStored) {
  using namespace std::string_literals;
  for (const std::string& body : {R"({"key":"k","value":1})"s + '\0' + "{{{ not json",
                                  R"({"key":"k","value":1})"s + '\0',
                                  R"({"key":"k","value":"a)"s + '\0' + R"(b"})"}) {
    HttpResponse r = Post(body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("NUL byte"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Stored(), 0);
}

TEST_F(JsonBodyTest, LoneSurrogatesAre400AndNothingIsStored) {
  for (const char* body : {
           R"({"key":"k","value":"\udc00"})",           // lone low, the issue's case
           R"({"key":"k","value":"a\udfffb"})",         // lone low inside text
           R"({"key":"k","value":"\ud800"})",           // lone high at the end
           R"({"key":"k","value":"\ud800x"})",          // lone high before text
           R"({"key":"k","value":"\ud800\u0041"})",     // high then a non-surrogate
           R"({"key":"k","value":["ok",{"n":"\udc00"}]})",  // deep inside the value
           R"({"key":"k","value":{"\udc00":1}})",       // an object key in the value
           R"({"key":"\udc00","value":1})",             // the key
           R"({"key":"k","value":1,"meta":"\udc00"})",  // an ignored field
           R"({"key":"k","value":1,"\udc00":2})",       // an ignored field's name
       }) {
    HttpResponse r = Post(body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find("error"), std::string::npos);
  }
  EXPECT_EQ(Stored(), 0);
  EXPECT_EQ(Call("GET", "/memory/k").status, 404);
}

TEST_F(JsonBodyTest, SurrogatePairsRoundTrip) {
  // U+1F600 escaped as a pair, and sent raw; both come back as raw UTF-8.
  EXPECT_EQ(Post(R"({"key":"\ud83d\ude00","value":{"\ud83d\ude00":"x\ud83d\ude00y"}})").status, 200);
  HttpResponse r = Call("GET", "/memory/%F0%9F%98%80");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("{\"\xF0\x9F\x98\x80\":\"x\xF0\x9F\x98\x80y\"}"), std::string::npos)
      << r.body;
  EXPECT_TRUE(ValidUtf8(r.body));
}

TEST(ParseWriteBodyTest, AcceptedValuesAreValidUtf8AndCompact) {
  std::string error;
  auto b = ParseWriteBody(R"({ "key" : "k" , "value" : [ 1.10 , "\u00e9" , { } ] })", &error);
  ASSERT_TRUE(b) << error;
  EXPECT_EQ(b->value, "[1.10,\"\xC3\xA9\",{}]");
  EXPECT_FALSE(ParseWriteBody(R"({"key":"k","value":"\udc00"})", &error));
  EXPECT_NE(error.find("Unicode"), std::string::npos) << error;
}

}  // namespace
}  // namespace casmem::net
