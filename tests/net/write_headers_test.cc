// Idempotency-Key and Casmem-Writer validation, and the request
// fingerprint: equal for a repeat, different when any part differs, and
// no two different requests running into each other.
#include "net/write_headers.h"

#include <gtest/gtest.h>

namespace casmem::net {
namespace {

TEST(WriteHeadersTest, IdempotencyKeyIsOneTo255VisibleAscii) {
  std::string error;
  HttpRequest req{"POST", "/memory", "{}"};
  EXPECT_TRUE(ParseWriteHeaders(req, &error));
  for (std::string key : {std::string("a"), std::string(255, 'x'), std::string("!~retry-7:abc")}) {
    req.idempotency_key = key;
    auto h = ParseWriteHeaders(req, &error);
    ASSERT_TRUE(h) << key;
    EXPECT_EQ(h->idempotency_key, key);
  }
  for (std::string key : {std::string(""), std::string(256, 'x'), std::string("a b"),
                          std::string("a\tb"), std::string("\xC3\xA9"), std::string("a\x7f")}) {
    req.idempotency_key = key;
    EXPECT_FALSE(ParseWriteHeaders(req, &error)) << key;
    EXPECT_NE(error.find("Idempotency-Key"), std::string::npos);
  }
}

TEST(WriteHeadersTest, WriterIsOneTo128PrintableAsciiSpacesIncluded) {
  std::string error;
  HttpRequest req{"POST", "/memory", "{}"};
  for (std::string w : {std::string("dev-lead"), std::string("dev lead #2"), std::string(128, 'w')}) {
    req.writer = w;
    auto h = ParseWriteHeaders(req, &error);
    ASSERT_TRUE(h) << w;
    EXPECT_EQ(h->writer, w);
  }
  for (std::string w : {std::string(""), std::string(129, 'w'), std::string("a\tb"),
                        std::string("\xC3\xA9"), std::string("nul\0x", 5)}) {
    req.writer = w;
    EXPECT_FALSE(ParseWriteHeaders(req, &error)) << w;
    EXPECT_NE(error.find("Casmem-Writer"), std::string::npos);
  }
}

TEST(WriteHeadersTest, FingerprintIsSixteenBytesAndTellsRequestsApart) {
  const HttpRequest base{"POST", "/memory?x=1", R"({"key":"k","value":1})"};
  const std::string fp = RequestFingerprint(base);
  EXPECT_EQ(fp.size(), 16u);
  EXPECT_EQ(RequestFingerprint(base), fp);
  HttpRequest other = base;
  other.idempotency_key = "k";  // not part of the request's identity
  other.writer = "w";
  EXPECT_EQ(RequestFingerprint(other), fp);

  std::vector<HttpRequest> different = {
      {"PATCH", "/memory?x=1", base.body},
      {"POST", "/memory?x=2", base.body},
      {"POST", "/memory?x=1", R"({"key":"k","value":2})"},
      // Length prefixes: moving bytes from one field to the next changes it.
      {"POST", "/memory?x=1{", R"("key":"k","value":1})"},
      {"POS", "T/memory?x=1", base.body},
  };
  HttpRequest with_if_match = base;
  with_if_match.if_match = "\"3\"";
  different.push_back(with_if_match);
  HttpRequest empty_if_match = base;
  empty_if_match.if_match = "";  // an empty If-Match is not an absent one
  different.push_back(empty_if_match);
  for (const HttpRequest& r : different) {
    EXPECT_NE(RequestFingerprint(r), fp) << r.method << " " << r.target << " " << r.body;
  }
  EXPECT_NE(RequestFingerprint(with_if_match), RequestFingerprint(empty_if_match));
}

}  // namespace
}  // namespace casmem::net
