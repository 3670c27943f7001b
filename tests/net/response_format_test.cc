// FormatResponseHead: its bytes, literally for a few responses, and equal
// to what Beast's message + serializer wrote for the same response (how
// the session built every response before) across statuses, versions,
// keep-alive, extra headers and bodies.
#include "net/response_format.h"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <sstream>

namespace casmem::net {
namespace {

namespace http = boost::beast::http;

// The session's former path: ToBeast, keep_alive(), prepare_payload().
std::string BeastBytes(const HttpResponse& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "casmemd");
  res.set(http::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.body() = r.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  std::ostringstream os;
  os << res;
  return os.str();
}

std::string Formatted(const HttpResponse& r, unsigned version, bool keep_alive) {
  std::string head = "stale bytes that must go";
  FormatResponseHead(r, version, keep_alive, &head);
  return head + r.body;
}

TEST(ResponseFormat, LiteralBytes) {
  HttpResponse ok;
  ok.body = R"({"key":"a"})";
  ok.headers.emplace_back("ETag", "\"3\"");
  EXPECT_EQ(Formatted(ok, 11, true),
            "HTTP/1.1 200 OK\r\nServer: casmemd\r\nContent-Type: application/json\r\n"
            "ETag: \"3\"\r\nContent-Length: 11\r\n\r\n{\"key\":\"a\"}");
  EXPECT_EQ(Formatted(ok, 11, false),
            "HTTP/1.1 200 OK\r\nServer: casmemd\r\nContent-Type: application/json\r\n"
            "ETag: \"3\"\r\nConnection: close\r\nContent-Length: 11\r\n\r\n{\"key\":\"a\"}");
  HttpResponse busy;
  busy.status = 503;
  busy.headers.emplace_back("Retry-After", "1");
  EXPECT_EQ(Formatted(busy, 10, true),
            "HTTP/1.0 503 Service Unavailable\r\nServer: casmemd\r\nContent-Type: application/json\r\n"
            "Retry-After: 1\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(Formatted(busy, 10, false),
            "HTTP/1.0 503 Service Unavailable\r\nServer: casmemd\r\nContent-Type: application/json\r\n"
            "Retry-After: 1\r\nContent-Length: 0\r\n\r\n");
}

TEST(ResponseFormat, SameBytesAsBeast) {
  const int statuses[] = {200, 201, 204, 400, 404, 405, 409, 412, 413, 415, 422, 428, 431, 500, 501, 503, 299, 599};
  const std::string bodies[] = {"", "{}", std::string(70'000, 'x')};
  for (int status : statuses) {
    for (unsigned version : {10u, 11u}) {
      for (bool keep_alive : {true, false}) {
        for (const std::string& body : bodies) {
          for (int extra = 0; extra < 3; ++extra) {
            // Beast refuses a body on a 204 (prepare_payload throws).
            if (status == 204 && !body.empty()) continue;
            HttpResponse r;
            r.status = status;
            r.body = body;
            if (status == 200 && extra == 2) r.content_type = "text/plain; version=0.0.4";
            if (extra >= 1) r.headers.emplace_back("Allow", "GET, POST");
            if (extra >= 2) r.headers.emplace_back("Link", "</memory?after=k>; rel=\"next\"");
            SCOPED_TRACE(testing::Message() << status << " HTTP/" << version << " keep_alive=" << keep_alive
                                            << " body=" << body.size() << " extra=" << extra);
            EXPECT_EQ(Formatted(r, version, keep_alive), BeastBytes(r, version, keep_alive));
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace casmem::net
