// The CLI against a broken or hostile server (cli_fake_server.h): an
// endless answer body and an endless SSE line are refused instead of
// growing memory, versions beyond a long long are handled as uint64
// (never wrapped), a next-page link that does not move forward stops
// `ls`; keys that start with '-' are reached after a lone `--`; and an
// answer that trickles in ends at --timeout.
#include <gtest/gtest.h>
#include <poll.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/tools/cli_fake_server.h"
#include "tests/tools/run_cli.h"

namespace casmem::testing {
namespace {

std::string RequestLine(const std::string& request) { return request.substr(0, request.find("\r\n")); }

// Waits (at most 20 s) until the client closes fd.
void WaitForClose(int fd) {
  char buf[4096];
  for (int i = 0; i < 200; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0 && ::read(fd, buf, sizeof buf) <= 0) return;
  }
}

// 80 MiB of chunked body (a JSON string, so that an unbounded client
// would even accept it), or less when the client stops reading.
TEST(CliHostile, EndlessAnswerBodyIsRefusedWithExit4) {
  FakeServer server(1, [](FakeServer& s, int fd, int) {
    if (s.ReadRequest(fd).empty()) return;
    FakeServer::Send(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n");
    const std::string mib(1 << 20, 'x');
    char head[32];
    const std::string first = "{\"key\":\"k\",\"value\":\"" + mib;
    std::snprintf(head, sizeof head, "%zx\r\n", first.size());
    FakeServer::Send(fd, std::string(head) + first + "\r\n");
    for (int i = 0; i < 80; ++i) {
      std::snprintf(head, sizeof head, "%zx\r\n", mib.size());
      const std::string chunk = std::string(head) + mib + "\r\n";
      if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(chunk.size())) {
        return;  // the client gave up
      }
    }
    const std::string last = "\",\"version\":1,\"revision\":1}";
    std::snprintf(head, sizeof head, "%zx\r\n", last.size());
    FakeServer::Send(fd, std::string(head) + last + "\r\n0\r\n\r\n");
  });
  ASSERT_GT(server.port(), 0);
  CliRun r = RunCli({"--url", server.url(), "get", "k"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("over 64 MiB"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

// A stream whose line never ends: the watch drops it as broken (and says
// so) instead of keeping it; the reconnection's 404 ends the command.
TEST(CliHostile, EndlessSseLineIsABrokenStream) {
  FakeServer server(2, [](FakeServer& s, int fd, int n) {
    if (s.ReadRequest(fd).empty()) return;
    if (n == 1) {
      const std::string body = R"({"error":"no such workspace"})";
      FakeServer::Send(fd, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
      return;
    }
    FakeServer::Send(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                         "data: ");
    const std::string mib(1 << 20, 'x');
    for (int i = 0; i < 20; ++i) {
      if (::send(fd, mib.data(), mib.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(mib.size())) return;
    }
    WaitForClose(fd);  // no newline ever: only the client can end this
  });
  ASSERT_GT(server.port(), 0);
  CliRun r = RunCli({"--url", server.url(), "watch", "--since", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("bad event stream"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("over 16 MiB"), std::string::npos) << r.err;
}

// Versions near 2^64 from the server are kept exactly; one beyond it is a
// bad answer, not a wrapped (or undefined) number.
TEST(CliHostile, UpdateKeepsAMaxUint64VersionExactly) {
  FakeServer server(2, [](FakeServer& s, int fd, int n) {
    if (s.ReadRequest(fd).empty()) return;
    if (n == 0) {
      FakeServer::Send(fd, FakeServer::JsonResponse(
                               R"({"key":"k","value":1,"version":18446744073709551615,"revision":3})",
                               "Connection: close\r\n"));
    } else {
      FakeServer::Send(fd, FakeServer::JsonResponse(R"({"status":"ok"})", "Connection: close\r\n"));
    }
  });
  CliRun r = RunCli({"--url", server.url(), "update", "k", "--", "cat"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(RequestLine(requests[1]),
            "PATCH /workspaces/default/memory/k?if_match_version=18446744073709551615 HTTP/1.1");
}

TEST(CliHostile, UpdateRefusesAVersionBeyondUint64) {
  FakeServer server(1, [](FakeServer& s, int fd, int) {
    if (s.ReadRequest(fd).empty()) return;
    FakeServer::Send(fd, FakeServer::JsonResponse(
                             R"({"key":"k","value":1,"version":36893488147419103233,"revision":3})",
                             "Connection: close\r\n"));
  });
  CliRun r = RunCli({"--url", server.url(), "update", "k", "--", "cat"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("bad answer"), std::string::npos) << r.err;
  EXPECT_EQ(server.requests().size(), 1u);  // nothing written
}

TEST(CliHostile, IfVersionTakesAnyUint64AndRefusesMore) {
  FakeServer server(1, [](FakeServer& s, int fd, int) {
    if (s.ReadRequest(fd).empty()) return;
    FakeServer::Send(fd, FakeServer::JsonResponse(R"({"status":"ok"})", "Connection: close\r\n"));
  });
  CliRun big = RunCli({"--url", server.url(), "del", "k", "--if-version", "18446744073709551616"});
  EXPECT_EQ(big.exit_code, 3) << big.err;
  CliRun r = RunCli({"--url", server.url(), "del", "k", "--if-version", "18446744073709551615"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(RequestLine(requests[0]),
            "DELETE /workspaces/default/memory/k?if_match_version=18446744073709551615 HTTP/1.1");
}

TEST(CliHostile, KeysStartingWithADashAfterALoneDoubleDash) {
  FakeServer server(3, [](FakeServer& s, int fd, int) {
    if (s.ReadRequest(fd).empty()) return;
    FakeServer::Send(fd, FakeServer::JsonResponse(R"({"key":"-k","value":1,"version":1,"revision":1})",
                                                  "Connection: close\r\n"));
  });
  CliRun put = RunCli({"--url", server.url(), "put", "--", "-k", "1"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
  CliRun get = RunCli({"--url", server.url(), "get", "--", "-k"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  CliRun url = RunCli({"--url", server.url(), "get", "--", "--url"});
  EXPECT_EQ(url.exit_code, 0) << url.err;
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_NE(requests[0].find(R"({"key":"-k","value":1})"), std::string::npos) << requests[0];
  EXPECT_EQ(RequestLine(requests[1]), "GET /workspaces/default/memory/-k HTTP/1.1");
  EXPECT_EQ(RequestLine(requests[2]), "GET /workspaces/default/memory/--url HTTP/1.1");
}

// Every page names itself as the next one: ls stops after the second
// request instead of looping.
TEST(CliHostile, LsStopsWhenTheNextLinkDoesNotMoveForward) {
  FakeServer server(1, [](FakeServer& s, int fd, int) {
    for (int i = 0; i < 5; ++i) {
      if (s.ReadRequest(fd).empty()) return;
      FakeServer::Send(fd, FakeServer::JsonResponse(
                               R"([{"key":"a","value":1,"version":1,"revision":1,"updated_at":"x"}])",
                               "Link: </workspaces/default/memory?after=a&limit=1>; rel=\"next\"\r\n"));
    }
  });
  CliRun r = RunCli({"--url", server.url(), "ls", "--keys", "--limit", "1"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("does not move forward"), std::string::npos) << r.err;
  EXPECT_EQ(server.requests().size(), 2u);
}

// A server that answers one byte every 100 ms (a 1000-byte body: 100 s)
// never stretches a request past --timeout: the deadline covers the whole
// answer, not each read. The same limit from $CASMEM_TIMEOUT.
TEST(CliHostile, ATricklingAnswerEndsAtTheTimeout) {
  for (const bool from_env : {false, true}) {
    FakeServer server(1, [](FakeServer& s, int fd, int) {
      if (s.ReadRequest(fd).empty()) return;
      FakeServer::Send(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           "Content-Length: 1000\r\n\r\n\"");
      for (int i = 0; i < 1000; ++i) {
        pollfd p{fd, POLLIN, 100};
        if (::poll(&p, 1, 100) > 0) return;  // the client gave up (closed)
        if (::write(fd, "a", 1) != 1) return;
      }
    });
    const CliRun r = from_env ? RunCli({"--url", server.url(), "get", "k"}, "",
                                       {{"CASMEM_TIMEOUT", "1500ms"}}, 30)
                              : RunCli({"--url", server.url(), "--timeout", "2s", "get", "k"}, "", {}, 30);
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_NE(r.err.find(from_env ? "within 1500 ms (--timeout)" : "within 2 s (--timeout)"),
              std::string::npos)
        << r.err;
  }
}

TEST(CliHostile, TimeoutMustBeADurationAboveZero) {
  for (const char* bad : {"0", "soon", "-1s", "5d"}) {
    const CliRun r = RunCli({"--timeout", bad, "get", "k"});
    EXPECT_EQ(r.exit_code, 3) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("--timeout"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace casmem::testing
