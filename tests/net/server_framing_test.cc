// casmemd end to end, HTTP framing (RFC 9112): Transfer-Encoding that does
// not end in chunked (a request-smuggling desync), headers over the limit,
// and the lingering close that lets a client without `Expect:
// 100-continue` read the 413 (or 400) sent before its body was read.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "tests/net/server_fixture.h"

namespace casmem::testing {
namespace {

// The bytes that Beast 1.81 would parse as a second request if it took
// `chunked, gzip` for a bodiless request.
const std::string kSmuggled = RawRequest("POST", "/memory", R"({"key":"smuggled","value":1})");

std::string WithTransferEncoding(const std::string& codings, const std::string& version = "1.1") {
  return "POST /memory HTTP/" + version + "\r\nHost: x\r\nTransfer-Encoding: " + codings + "\r\n\r\n";
}

TEST_F(ServerTest, TransferEncodingNotEndingInChunkedIs400AndNothingAfterItIsRead) {
  Start();
  for (const std::string codings : {"chunked, gzip", "gzip", "chunked ,GZIP", "chunked\r\nTransfer-Encoding: gzip"}) {
    SCOPED_TRACE(codings);
    auto c = Client();
    ASSERT_TRUE(c->SendRaw(WithTransferEncoding(codings) + kSmuggled));
    HttpReply r;
    ASSERT_TRUE(c->Read(&r));
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("Transfer-Encoding"), std::string::npos) << r.body;
    EXPECT_EQ(r.Header("connection"), "close");
    HttpReply second;
    EXPECT_FALSE(c->Read(&second, 1000)) << "the body was parsed as a request: " << second.status;
    EXPECT_TRUE(c->ClosedByPeer());
  }
  // Chunked in an HTTP/1.0 request cannot be trusted either.
  auto old = Client();
  ASSERT_TRUE(old->SendRaw(WithTransferEncoding("chunked", "1.0") + "0\r\n\r\n" + kSmuggled));
  HttpReply r;
  ASSERT_TRUE(old->Read(&r));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(old->ClosedByPeer());
  EXPECT_EQ(Client()->Request("GET", "/memory/smuggled").status, 404);
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

// Codings that this server's own list parse and Beast's token_list read
// differently (Beast stops at a `;` that follows no token and then does not
// take the body as chunked), and both framings at once (RFC 9112 §6.3 rule
// 3): a 400 and the connection closed, never a body framed one way by the
// check and another by the parser.
TEST_F(ServerTest, TransferEncodingThatBeastDoesNotReadAsChunkedIs400) {
  Start();
  const std::string body = R"({"key":"k","value":1})";
  const std::string chunked_body = "15\r\n" + body + "\r\n0\r\n\r\n";
  const std::string next = RawRequest("GET", "/memory/k");
  struct Case {
    std::string head, body;
  };
  const Case cases[] = {
      // Content-Length framing (TE.CL desync): the rest would be a request.
      {"Transfer-Encoding: ;, chunked\r\nContent-Length: 21\r\n", body},
      {"Transfer-Encoding: ;, chunked\r\n", chunked_body},
      {"Transfer-Encoding:  ;q=1 , chunked\r\n", chunked_body},
      {"Transfer-Encoding: chunked,\r\n", chunked_body},
      {"Transfer-Encoding: chunked\r\nContent-Length: 21\r\n", chunked_body},
      {"Content-Length: 21\r\nTransfer-Encoding: chunked\r\n", chunked_body},
      {"Transfer-Encoding: \"chunked\"\r\n", chunked_body},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.head);
    auto c = Client();
    ASSERT_TRUE(c->SendRaw("POST /memory HTTP/1.1\r\nHost: x\r\n" + k.head + "\r\n" + k.body + next));
    HttpReply r;
    ASSERT_TRUE(c->Read(&r));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.Header("connection"), "close");
    HttpReply second;
    EXPECT_FALSE(c->Read(&second, 1000)) << "a second request was read: " << second.status;
    EXPECT_TRUE(c->ClosedByPeer());
  }
  EXPECT_EQ(Client()->Request("GET", "/memory/k").status, 404);
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

// Beast keeps a chunk-size line (with its extensions) or a trailer
// unconsumed until its CRLF and bounds neither: the connection's buffer
// is capped, and a line over the cap is a 400.
TEST_F(ServerTest, AnEndlessChunkSizeLineIs400) {
  Start();
  for (const std::string& line : {"1;x=" + std::string(4 << 20, 'a'),
                                  "0\r\nX-Trailer: " + std::string(4 << 20, 'a')}) {
    SCOPED_TRACE(line.substr(0, 8));
    auto c = Client();
    ASSERT_TRUE(c->SendRaw(WithTransferEncoding("chunked") + line)) << std::strerror(c->last_error());
    HttpReply r;
    ASSERT_TRUE(c->Read(&r)) << "no answer to a chunk line of " << line.size() << " bytes";
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(c->ClosedByPeer());
  }
  EXPECT_EQ(Client()->Request("GET", "/healthz").status, 200);
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

// RFC 9112 §6.1: no Transfer-Encoding in a response to HTTP/1.0. A listing
// long enough to be streamed is sent unframed and ends with the close.
TEST_F(ServerTest, AStreamedListingToHttp10IsUnframedAndClosed) {
  Start();
  constexpr int kKeys = 1500;
  auto w = Client();
  std::string batch;
  for (int i = 0; i < kKeys; ++i) {
    batch += RawRequest("POST", "/workspaces/old/memory", R"({"key":"k)" + std::to_string(i) + R"(","value":1})");
  }
  ASSERT_TRUE(w->SendRaw(batch));
  for (int i = 0; i < kKeys; ++i) {
    HttpReply r;
    ASSERT_TRUE(w->Read(&r));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  auto c = Client();
  ASSERT_TRUE(c->SendRaw("GET /workspaces/old/memory HTTP/1.0\r\nHost: x\r\n\r\n"));
  HttpReply r;
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("transfer-encoding"), "");
  EXPECT_EQ(r.Header("content-length"), "");
  ASSERT_FALSE(r.body.empty());
  EXPECT_EQ(r.body.front(), '[');
  EXPECT_EQ(r.body.back(), ']');
  size_t keys = 0;
  for (size_t pos = 0; (pos = r.body.find("\"key\"", pos)) != std::string::npos; ++pos) ++keys;
  EXPECT_EQ(keys, static_cast<size_t>(kKeys));
  EXPECT_TRUE(c->ClosedByPeer());
  // HTTP/1.1 still gets it chunked, on a connection that stays open.
  auto d = Client();
  ASSERT_TRUE(d->SendRaw(RawRequest("GET", "/workspaces/old/memory")));
  ASSERT_TRUE(d->Read(&r));
  EXPECT_TRUE(r.chunked);
  EXPECT_EQ(d->Request("GET", "/healthz").status, 200);
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

// A client that sends `Expect: 100-continue` waits for the interim 100
// before its body (curl waits a second, others longer).
TEST_F(ServerTest, Expect100ContinueIsAnswered) {
  Start({"--max-value-bytes", "1K"});
  const std::string body = R"({"key":"e","value":1})";
  auto c = Client();
  ASSERT_TRUE(c->SendRaw("POST /memory HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n"));
  HttpReply r;
  ASSERT_TRUE(c->Read(&r, 20'000)) << "no 100 Continue";
  EXPECT_EQ(r.status, 100);
  ASSERT_TRUE(c->SendRaw(body));
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200) << r.body;
  // The connection goes on; a chunked body is expected too.
  ASSERT_TRUE(c->SendRaw("POST /memory HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(c->Read(&r, 20'000)) << "no 100 Continue";
  EXPECT_EQ(r.status, 100);
  ASSERT_TRUE(c->SendRaw("15\r\n" + body + "\r\n0\r\n\r\n"));
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200) << r.body;
  // A body that would be refused is refused at once, without a 100.
  auto big = Client();
  ASSERT_TRUE(big->SendRaw("POST /memory HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                           std::to_string(64 << 20) + "\r\n\r\n"));
  ASSERT_TRUE(big->Read(&r, 20'000));
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(big->ClosedByPeer());
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

TEST_F(ServerTest, TransferCodingsBeforeChunkedAre501ButPlainChunkedWorks) {
  Start();
  auto c = Client();
  ASSERT_TRUE(c->SendRaw(WithTransferEncoding("gzip, chunked") + "0\r\n\r\n"));
  HttpReply r;
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 501);
  EXPECT_NE(r.body.find("error"), std::string::npos);
  EXPECT_TRUE(c->ClosedByPeer());
  // Chunked alone, in any case, is read as the body, and the connection
  // goes on.
  const std::string body = R"({"key":"c","value":[1,2]})";
  auto ok = Client();
  char rest_size[16];
  std::snprintf(rest_size, sizeof rest_size, "%zx", body.size() - 5);
  ASSERT_TRUE(ok->SendRaw(WithTransferEncoding("Chunked") + "5\r\n" + body.substr(0, 5) + "\r\n" +
                          rest_size + "\r\n" + body.substr(5) + "\r\n0\r\n\r\n"));
  ASSERT_TRUE(ok->Read(&r));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ok->Request("GET", "/memory/c").status, 200);
}

TEST_F(ServerTest, HeadersOverTheLimitAre431) {
  Start();
  auto c = Client();
  HttpReply r = c->Request("GET", "/healthz", "", "X-Big: " + std::string(20 * 1024, 'a') + "\r\n");
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(r.body, R"({"error":"request header fields too large"})");
  EXPECT_TRUE(c->ClosedByPeer());
  // Just under the limit is fine.
  EXPECT_EQ(Client()->Request("GET", "/healthz", "", "X-Big: " + std::string(15 * 1024, 'a') + "\r\n").status,
            200);  // Counted under its own status, not "other".
  const std::string metrics = Client()->Request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("status=\"431\"} 1"), std::string::npos) << metrics;
}

// Python's http.client, curl -H 'Expect:': the whole request is written
// before the response is read. The refusal comes after the header; without
// the lingering close the server closes with the body unread, the kernel
// answers the rest with a reset, and the client sees ECONNRESET or EPIPE
// instead of the answer.
TEST_F(ServerTest, ABodyRefusedEarlyIsAnsweredToAClientThatSendsItWhole) {
  Start({"--max-value-bytes", "1K"});
  const std::string big(4 << 20, 'x');
  struct Case {
    std::string head;
    int status;
  };
  const Case cases[] = {
      {"POST /memory HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n", 413},
      {"POST /memory HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.status);
    auto c = Client();
    ASSERT_TRUE(c->SendRaw(k.head + big)) << std::strerror(c->last_error());
    HttpReply r;
    ASSERT_TRUE(c->Read(&r)) << std::strerror(c->last_error());
    EXPECT_EQ(r.status, k.status);
    EXPECT_NE(r.body.find("error"), std::string::npos);
    EXPECT_TRUE(c->ClosedByPeer());
  }
  EXPECT_EQ(Client()->Request("GET", "/healthz").status, 200);
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

}  // namespace
}  // namespace casmem::testing
