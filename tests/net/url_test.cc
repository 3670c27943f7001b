// The one percent-coding rule of paths and queries (RFC 3986): `+` is a
// literal plus everywhere, a space is %20, and every string survives
// PercentEncode then PercentDecode (the Link header's next URL).
#include "net/url.h"

#include <gtest/gtest.h>

#include <memory>

#include "engine/store.h"
#include "net/handler.h"

namespace casmem::net {
namespace {

TEST(UrlTest, PlusIsALiteralPlusInPathsAndQueries) {
  std::string error;
  auto t = ParseTarget("/memory/a+b%20c?prefix=x+y%2By%20z&after=+", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->segments.back(), "a+b c");
  EXPECT_EQ(*QueryParam(*t, "prefix"), "x+y+y z");
  EXPECT_EQ(*QueryParam(*t, "after"), "+");
  EXPECT_EQ(*PercentDecode("1+1"), "1+1");
}

TEST(UrlTest, EncodeThenDecodeIsTheIdentity) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (const std::string& s : {all, std::string("a+b c"), std::string("+"), std::string()}) {
    EXPECT_EQ(*PercentDecode(PercentEncode(s)), s);
  }
  EXPECT_FALSE(PercentDecode("%"));
  EXPECT_FALSE(PercentDecode("%4"));
  EXPECT_FALSE(PercentDecode("%zz"));
}

TEST(UrlTest, KeysAndPrefixesWithPlusThroughTheHandler) {
  StoreOptions o;
  o.sweep_interval = std::chrono::milliseconds(0);
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(o, &store).ok());
  Metrics metrics;
  Handler h(store.get(), &metrics);
  auto call = [&](std::string_view m, std::string_view t, std::string_view b = "") {
    HandlerResult r = h.Handle(HttpRequest{m, t, b});
    EXPECT_TRUE(store->WaitVisible(r.visible_lsn).ok());
    return r.response;
  };
  for (const char* k : {"c++/1", "c++/2", "c /3"}) {
    ASSERT_EQ(call("POST", "/memory", std::string(R"({"key":")") + k + R"(","value":1})").status, 200);
  }
  EXPECT_EQ(call("GET", "/memory/c++%2F1").status, 200);
  EXPECT_EQ(call("GET", "/memory/c%2B%2B%2F1").status, 200);
  EXPECT_EQ(call("GET", "/memory/c%20%2F3").status, 200);
  EXPECT_EQ(call("GET", "/memory/c+%2F3").status, 404);  // + is not a space
  HttpResponse page = call("GET", "/memory?prefix=c++&limit=1");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("\"c++/1\""), std::string::npos) << page.body;
  std::string link;
  for (const auto& [name, v] : page.headers)
    if (name == "Link") link = v;
  EXPECT_EQ(link, "</workspaces/default/memory?after=c%2B%2B%2F1&limit=1&prefix=c%2B%2B>; rel=\"next\"");
  // Following the link gives the second c++ key and no space key.
  const std::string next = link.substr(1, link.find('>') - 1);
  HttpResponse second = call("GET", next);
  EXPECT_NE(second.body.find("\"c++/2\""), std::string::npos) << second.body;
  EXPECT_EQ(second.body.find("c /3"), std::string::npos);
  EXPECT_EQ(call("DELETE", "/memory/c++%2F2").status, 200);
  EXPECT_EQ(call("GET", "/memory/c++%2F2").status, 404);
}

}  // namespace
}  // namespace casmem::net
