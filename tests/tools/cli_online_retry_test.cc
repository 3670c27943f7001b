// How the CLI's online commands ride out a lost or closed connection and
// a cut watch stream, against a scripted server (cli_fake_server.h): a
// write is sent again with the same Idempotency-Key, a kept-alive
// connection closed while idle is reopened, a watch resumes from its last
// id without printing a transaction's changes twice, and `compacted`
// ends it with exit 1.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/tools/cli_fake_server.h"
#include "tests/tools/cli_test_util.h"
#include "tests/tools/run_cli.h"

namespace casmem::testing {
namespace {

std::string RequestLine(const std::string& request) { return request.substr(0, request.find("\r\n")); }

TEST(CliRetry, WriteLostBeforeItsAnswerIsSentAgainWithTheSameIdempotencyKey) {
  FakeServer server(2, [](FakeServer& s, int fd, int n) {
    if (s.ReadRequest(fd).empty()) return;
    if (n == 0) return;  // the connection drops before any answer
    FakeServer::Send(fd, FakeServer::JsonResponse(R"({"status":"ok","key":"k","version":3,"revision":9})",
                                                  "Connection: close\r\n"));
  });
  ASSERT_GT(server.port(), 0);
  CliRun r = RunCli({"--url", server.url(), "put", "k", "[1, 2]"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"status\":\"ok\",\"key\":\"k\",\"version\":3,\"revision\":9}\n");
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  const std::string key = FakeServer::HeaderOf(requests[0], "idempotency-key");
  EXPECT_GE(key.size(), 16u) << requests[0];
  EXPECT_EQ(FakeServer::HeaderOf(requests[1], "idempotency-key"), key);
  EXPECT_EQ(requests[0], requests[1]);  // the very same request
  EXPECT_NE(requests[0].find(R"({"key":"k","value":[1,2]})"), std::string::npos) << requests[0];
}

TEST(CliRetry, EachWriteHasItsOwnIdempotencyKey) {
  FakeServer server(2, [](FakeServer& s, int fd, int) {
    if (s.ReadRequest(fd).empty()) return;
    FakeServer::Send(fd, FakeServer::JsonResponse(R"({"status":"ok"})", "Connection: close\r\n"));
  });
  ASSERT_EQ(RunCli({"--url", server.url(), "put", "k", "1"}).exit_code, 0);
  ASSERT_EQ(RunCli({"--url", server.url(), "del", "k"}).exit_code, 0);
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(FakeServer::HeaderOf(requests[0], "idempotency-key"),
            FakeServer::HeaderOf(requests[1], "idempotency-key"));
}

TEST(CliRetry, KeptConnectionClosedWhileIdleIsReopened) {
  FakeServer server(2, [](FakeServer& s, int fd, int n) {
    if (s.ReadRequest(fd).empty()) return;
    if (n == 0) {  // kept alive as far as the client knows, then closed
      FakeServer::Send(fd, FakeServer::JsonResponse(
                               R"([{"key":"a","value":1,"version":1,"revision":1,"updated_at":"x"}])",
                               "Link: </workspaces/default/memory?after=a&limit=1>; rel=\"next\"\r\n"));
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    FakeServer::Send(fd, FakeServer::JsonResponse(
                             R"([{"key":"b","value":2,"version":1,"revision":2,"updated_at":"y"}])",
                             "Connection: close\r\n"));
  });
  CliRun r = RunCli({"--url", server.url(), "ls", "--keys", "--limit", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "a\nb\n");
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(RequestLine(requests[1]), "GET /workspaces/default/memory?after=a&limit=1 HTTP/1.1");
}

std::string SseHead() {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
}

std::string Event(const std::string& type, const std::string& id, const std::string& data) {
  return (id.empty() ? "" : "id: " + id + "\n") + "event: " + type + "\ndata: " + data + "\n\n";
}

// Stream 1 is cut inside a transaction (revision 7: k2 and k3, only k3
// carries the id); stream 2 resends it whole, then says `lagged`; stream 3
// says `compacted`.
TEST(CliRetry, WatchResumesFromItsLastIdAndStopsOnCompacted) {
  FakeServer server(3, [](FakeServer& s, int fd, int n) {
    if (s.ReadRequest(fd).empty()) return;
    std::string out = SseHead();
    if (n == 0) {
      out += ": heartbeat\n\n";
      out += Event("put", "6", R"({"key":"k1","value":1,"version":1,"revision":6})");
      out += Event("put", "", R"({"key":"k2","value":2,"version":1,"revision":7})");
    } else if (n == 1) {
      out += Event("put", "", R"({"key":"k2","value":2,"version":1,"revision":7})");
      out += Event("delete", "7", R"({"key":"k3","version":4,"revision":7})");
      out += Event("lagged", "", "{}");
    } else {
      out += Event("compacted", "", R"({"compact_revision":100})");
    }
    FakeServer::Send(fd, out);
  });
  CliRun r = RunCli({"--url", server.url(), "watch", "k", "--since", "5"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out,
            "{\"event\":\"put\",\"key\":\"k1\",\"value\":1,\"version\":1,\"revision\":6}\n"
            "{\"event\":\"put\",\"key\":\"k2\",\"value\":2,\"version\":1,\"revision\":7}\n"
            "{\"event\":\"delete\",\"key\":\"k3\",\"version\":4,\"revision\":7}\n");
  EXPECT_NE(r.err.find("compacted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("compact revision 100"), std::string::npos) << r.err;
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(RequestLine(requests[0]), "GET /workspaces/default/watch?since=5&prefix=k HTTP/1.1");
  EXPECT_EQ(RequestLine(requests[1]), "GET /workspaces/default/watch?since=6&prefix=k HTTP/1.1");
  EXPECT_EQ(RequestLine(requests[2]), "GET /workspaces/default/watch?since=7&prefix=k HTTP/1.1");
}

TEST(CliRetry, UpdateRetriesFromTheConflictBodyWithoutReadingAgain) {
  FakeServer server(1, [](FakeServer& s, int fd, int) {
    if (s.ReadRequest(fd).empty()) return;  // GET
    FakeServer::Send(fd, FakeServer::JsonResponse(R"({"key":"n","value":1,"version":1,"revision":1})"));
    if (s.ReadRequest(fd).empty()) return;  // PATCH at version 1: someone else wrote 10 at version 4
    const std::string conflict =
        R"({"error":"if_match_version mismatch","expected_version":1,"current_version":4,"current_value":10})";
    FakeServer::Send(fd, "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(conflict.size()) + "\r\n\r\n" + conflict);
    if (s.ReadRequest(fd).empty()) return;  // PATCH at version 4
    FakeServer::Send(fd, FakeServer::JsonResponse(R"({"status":"ok","key":"n","version":5,"value":11})",
                                                  "Connection: close\r\n"));
  });
  CliRun r = RunCli({"--url", server.url(), "update", "n", "--", "sh", "-c", "read v; echo $((v+1))"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(RequestLine(requests[1]), "PATCH /workspaces/default/memory/n?if_match_version=1 HTTP/1.1");
  EXPECT_NE(requests[1].find(R"([{"op":"replace","path":"","value":2}])"), std::string::npos) << requests[1];
  EXPECT_EQ(RequestLine(requests[2]), "PATCH /workspaces/default/memory/n?if_match_version=4 HTTP/1.1");
  EXPECT_NE(requests[2].find(R"([{"op":"replace","path":"","value":11}])"), std::string::npos) << requests[2];
}

}  // namespace
}  // namespace casmem::testing
