// Preconditions and retries in the handler (issue 8 review): If-Match on
// DELETE is the guard (never ignored), on POST a 400; a repeated query
// parameter is a 400; a PATCH's media type is part of its Idempotency-Key
// fingerprint.
#include <gtest/gtest.h>

#include "tests/net/handler_fixture.h"

namespace casmem::net {
namespace {

HttpRequest With(std::string_view method, std::string_view target, std::string_view body) {
  HttpRequest r;
  r.method = method;
  r.target = target;
  r.body = body;
  return r;
}

TEST_F(HandlerTest, IfMatchGuardsADeleteAndIsRefusedOnPost) {
  ASSERT_EQ(Call("POST", "/memory", R"({"key":"k","value":1})").status, 200);
  HttpRequest del = With("DELETE", "/memory/k", "");
  del.if_match = "\"9\"";
  HandlerResult r = handler->Handle(del);
  EXPECT_EQ(r.response.status, 409) << r.response.body;
  EXPECT_EQ(Call("GET", "/memory/k").status, 200) << "a failed precondition deleted the key";
  del.target = "/memory/k?if_match_version=1";
  EXPECT_EQ(handler->Handle(del).response.status, 400) << "If-Match and the query disagree";
  del.target = "/memory/k";
  del.if_match = "\"1\"";
  EXPECT_EQ(handler->Handle(del).response.status, 200);
  EXPECT_EQ(Call("GET", "/memory/k").status, 404);

  HttpRequest post = With("POST", "/memory", R"({"key":"k","value":2})");
  post.if_match = "\"1\"";
  r = handler->Handle(post);
  EXPECT_EQ(r.response.status, 400);
  EXPECT_NE(r.response.body.find("If-Match"), std::string::npos) << r.response.body;
  EXPECT_EQ(Call("GET", "/memory/k").status, 404) << "nothing written";
}

TEST_F(HandlerTest, ARepeatedQueryParameterIsRefused) {
  ASSERT_EQ(Call("POST", "/memory", R"({"key":"k","value":{"n":1}})").status, 200);
  HttpRequest p = With("PATCH", "/memory/k?if_match_version=1&if_match_version=5", R"({"n":2})");
  p.content_type = "application/merge-patch+json";
  EXPECT_EQ(handler->Handle(p).response.status, 400);
  EXPECT_EQ(Call("DELETE", "/memory/k?if_match_version=1&if_match_version=1").status, 400);
  EXPECT_EQ(Call("GET", "/memory?limit=1&limit=2").status, 400);
  EXPECT_EQ(Call("GET", "/memory/k").status, 200);
}

TEST_F(HandlerTest, APatchsMediaTypeIsPartOfItsFingerprint) {
  ASSERT_EQ(Call("POST", "/memory", R"({"key":"c","value":{"n":1}})").status, 200);
  HttpRequest p = With("PATCH", "/memory/c", R"([{"op":"increment","path":"/n","value":1}])");
  p.content_type = "application/json-patch+json";
  p.idempotency_key = "k1";
  ASSERT_EQ(handler->Handle(p).response.status, 200);
  p.content_type = "Application/JSON-Patch+json; charset=utf-8";
  EXPECT_EQ(handler->Handle(p).response.status, 200) << "the same type, written otherwise";
  p.content_type = "application/merge-patch+json";
  EXPECT_EQ(handler->Handle(p).response.status, 422) << "the same bytes as a merge patch";
}

}  // namespace
}  // namespace casmem::net
