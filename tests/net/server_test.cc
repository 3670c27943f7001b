// casmemd end to end: the real binary on an ephemeral port, spoken to over
// sockets. The seed's cases, pipelining, slow clients, Connection: close,
// limits, streaming, restart after SIGTERM and SIGKILL under load. HTTP
// framing errors are in server_framing_test.cc, timers in server_timers_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/net/server_fixture.h"

namespace casmem::testing {
namespace {

TEST_F(ServerTest, SeedCases) {
  Start();
  auto c = Client();
  // Set without a version returns the new version.
  HttpReply r = c->Request("POST", "/memory", R"({"key":"ledger","value":{"tasks":[]}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok","key":"ledger","version":1,"revision":1})");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  // List and get carry versions.
  r = c->Request("GET", "/memory");
  EXPECT_NE(r.body.find(R"("version":1)"), std::string::npos) << r.body;
  r = c->Request("GET", "/memory/ledger");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("version":1)"), std::string::npos);
  // Guarded set on match increments; mismatch is a 409 with both versions.
  r = c->Request("POST", "/memory", R"({"key":"ledger","value":{"tasks":[1]},"if_match_version":1})");
  EXPECT_EQ(r.body, R"({"status":"ok","key":"ledger","version":2,"revision":2})");
  r = c->Request("POST", "/memory", R"({"key":"ledger","value":{"tasks":[2]},"if_match_version":1})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, R"({"error":"if_match_version mismatch","expected_version":1,"current_version":2,"current_value":{"tasks":[1]}})");
  // Create-only on an absent key gives version 1; a guard on an absent key is a 409.
  r = c->Request("POST", "/memory", R"({"key":"seed","value":0,"if_match_version":0})");
  EXPECT_EQ(r.body, R"({"status":"ok","key":"seed","version":1,"revision":3})");
  r = c->Request("POST", "/memory", R"({"key":"ghost","value":0,"if_match_version":3})");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find(R"("current_version":null)"), std::string::npos);
  // Missing key and malformed JSON are 400.
  EXPECT_EQ(c->Request("POST", "/memory", R"({"value":1})").status, 400);
  EXPECT_EQ(c->Request("POST", "/memory", R"({"key":"x","value":)").status, 400);
  // Delete, and delete of an absent key.
  EXPECT_EQ(c->Request("DELETE", "/memory/seed").body, R"({"status":"deleted","revision":4})");
  EXPECT_EQ(c->Request("DELETE", "/memory/seed").body, R"({"status":"deleted"})");
  EXPECT_EQ(c->Request("GET", "/memory/seed").status, 404);
}

TEST_F(ServerTest, CreateOnlyRacersOverSeparateConnectionsHaveOneWinner) {
  Start();
  for (int round = 0; round < 5; ++round) {
    std::atomic<int> ok{0}, conflict{0};
    std::vector<std::thread> agents;
    for (int a = 0; a < 8; ++a) {
      agents.emplace_back([&, a] {
        auto c = HttpClient::Connect(server->port());
        HttpReply r = c->Request("POST", "/memory", R"({"key":"seed-)" + std::to_string(round) +
                                                         R"(","value":)" + std::to_string(a) +
                                                         R"(,"if_match_version":0})");
        (r.status == 200 ? ok : conflict)++;
      });
    }
    for (auto& t : agents) t.join();
    EXPECT_EQ(ok.load(), 1);
    EXPECT_EQ(conflict.load(), 7);
  }
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  auto c = Client();
  std::string batch;
  for (int i = 1; i <= 20; ++i) {
    batch += RawRequest("POST", "/memory", R"({"key":"p","value":)" + std::to_string(i) + "}");
    batch += RawRequest("GET", "/memory/p");
  }
  batch += RawRequest("GET", "/nope");
  ASSERT_TRUE(c->SendRaw(batch));
  for (int i = 1; i <= 20; ++i) {
    HttpReply w, g;
    ASSERT_TRUE(c->Read(&w));
    ASSERT_TRUE(c->Read(&g));
    EXPECT_EQ(w.body, R"({"status":"ok","key":"p","version":)" + std::to_string(i) +
                          R"(,"revision":)" + std::to_string(i) + "}");
    const std::string want =
        R"({"key":"p","value":)" + std::to_string(i) + R"(,"version":)" + std::to_string(i) + ",";
    EXPECT_EQ(g.body.substr(0, want.size()), want);
  }
  HttpReply last;
  ASSERT_TRUE(c->Read(&last));
  EXPECT_EQ(last.status, 404);
}

TEST_F(ServerTest, ASlowClientHoldingHalfARequestDelaysNoOne) {
  Start();
  auto slow = Client();
  ASSERT_TRUE(slow->SendRaw("POST /memory HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"key\":"));
  auto fast = Client();
  for (int i = 0; i < 50; ++i) {
    HttpReply r = fast->Request("POST", "/memory", R"({"key":"f","value":1})");
    ASSERT_EQ(r.status, 200);
  }
  HttpReply none;
  EXPECT_FALSE(slow->Read(&none, 100)) << "the half request gets no answer";
}

TEST_F(ServerTest, SlowClientIsCutOffByTheReadTimeout) {
  Start({"--read-timeout", "300ms"});
  auto slow = Client();
  ASSERT_TRUE(slow->SendRaw("GET /memory HTTP/1.1\r\nHo"));
  EXPECT_TRUE(slow->ClosedByPeer(5000));
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  Start();
  auto c = Client();
  HttpReply r = c->Request("GET", "/healthz", "", "Connection: close\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  EXPECT_EQ(r.Header("connection"), "close");
  EXPECT_TRUE(c->ClosedByPeer());
}

TEST_F(ServerTest, OversizedBodyIs413AndTheServerGoesOn) {
  Start({"--max-value-bytes", "1K"});
  auto c = Client();
  const std::string big = R"({"key":"k","value":")" + std::string(70 * 1024, 'x') + R"("})";
  HttpReply r = c->Request("POST", "/memory", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("error"), std::string::npos);
  const std::string over_value = R"({"key":"k","value":")" + std::string(2000, 'x') + R"("})";
  EXPECT_EQ(Client()->Request("POST", "/memory", over_value).status, 413);
  EXPECT_EQ(Client()->Request("GET", "/healthz").status, 200);
}

TEST_F(ServerTest, RoutesMethodsAndMalformedHttp) {
  Start();
  auto c = Client();
  EXPECT_EQ(c->Request("GET", "/elsewhere").status, 404);
  HttpReply r = c->Request("PUT", "/workspaces/w/memory/k");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("allow"), "GET, PATCH, DELETE");
  auto bad = Client();
  ASSERT_TRUE(bad->SendRaw("THIS IS NOT HTTP\r\n\r\n"));
  HttpReply b;
  ASSERT_TRUE(bad->Read(&b));
  EXPECT_EQ(b.status, 400);
}

TEST_F(ServerTest, TtlExpiresOverHttp) {
  Start();
  auto c = Client();
  c->Request("POST", "/memory", R"({"key":"t","value":1,"ttl_seconds":1})");
  HttpReply r = c->Request("GET", "/memory/t");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("expires_at"), std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(c->Request("GET", "/memory/t").status, 404);
  // Re-created at the next version; the expiry had a revision of its own
  // (revision 2: an `expire` change), so this write is revision 3.
  EXPECT_EQ(c->Request("POST", "/memory", R"({"key":"t","value":2,"if_match_version":0})").body,
            R"({"status":"ok","key":"t","version":2,"revision":3})");
}

TEST_F(ServerTest, LargeListIsStreamedChunked) {
  Start();
  auto c = Client();
  std::string batch;
  for (int i = 0; i < 2500; ++i) {
    batch += RawRequest("POST", "/workspaces/big/memory",
                        R"({"key":"k)" + std::to_string(10000 + i) + R"(","value":[1,2,3]})");
  }
  ASSERT_TRUE(c->SendRaw(batch));
  for (int i = 0; i < 2500; ++i) {
    HttpReply w;
    ASSERT_TRUE(c->Read(&w));
  }
  HttpReply r = c->Request("GET", "/workspaces/big/memory");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.chunked);
  size_t count = 0, pos = 0;
  while ((pos = r.body.find("\"key\"", pos)) != std::string::npos) ++count, ++pos;
  EXPECT_EQ(count, 2500u);
  EXPECT_EQ(r.body.front(), '[');
  EXPECT_EQ(r.body.back(), ']');
  // The connection stays usable after a streamed response.
  EXPECT_EQ(c->Request("GET", "/healthz").status, 200);
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitAreRefusedPolitely) {
  Start({"--max-connections", "2"});
  auto a = Client();
  auto b = Client();
  ASSERT_EQ(a->Request("GET", "/healthz").status, 200);
  ASSERT_EQ(b->Request("GET", "/healthz").status, 200);
  auto c = Client();
  HttpReply r;
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"error":"too many connections"})");
  a.reset();
  // Once a slot frees up, new connections are served again.
  for (int i = 0; i < 100; ++i) {
    auto d = Client();
    if (d->Request("GET", "/healthz").status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no connection accepted after one closed";
}

// The 503 leaves before the request is read: like any early refusal, the
// connection lingers (reads and discards) so that a client that writes
// its whole request first reads the 503 instead of a reset.
TEST_F(ServerTest, ABusyRefusalIsReadByAClientThatSendsItsWholeRequest) {
  Start({"--max-connections", "1"});
  auto a = Client();
  ASSERT_EQ(a->Request("GET", "/healthz").status, 200);
  auto c = Client();
  const std::string body(4 << 20, 'x');
  ASSERT_TRUE(c->SendRaw(RawRequest("POST", "/memory", body))) << std::strerror(c->last_error());
  HttpReply r;
  ASSERT_TRUE(c->Read(&r)) << std::strerror(c->last_error());
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(c->ClosedByPeer());
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
}

// The lingering close is not cut short by an idle clock that started
// before the refused request: it restarts when the lingering does.
TEST_F(ServerTest, LingeringIsNotCutByTheIdleTimeBeforeIt) {
  Start({"--idle-timeout", "2s", "--max-value-bytes", "1K"});
  auto c = Client();
  ASSERT_EQ(c->Request("GET", "/healthz").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1400));  // idle, but under the timeout
  const std::string part(256 << 10, 'x');
  constexpr int kParts = 12;
  ASSERT_TRUE(c->SendRaw("POST /memory HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                         std::to_string(part.size() * kParts) + "\r\n\r\n"));
  // The client sends its body over about 1.2 s without reading: past the
  // idle deadline counted from before the request.
  for (int i = 0; i < kParts; ++i) {
    ASSERT_TRUE(c->SendRaw(part)) << "part " << i << ": " << std::strerror(c->last_error());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  HttpReply r;
  ASSERT_TRUE(c->Read(&r)) << std::strerror(c->last_error());
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(c->ClosedByPeer());
}

TEST_F(ServerTest, MetricsAreServed) {
  Start();
  auto c = Client();
  c->Request("POST", "/memory", R"({"key":"m","value":1})");
  HttpReply r = c->Request("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("casmem_wal_fsync_seconds_count"), std::string::npos);
  EXPECT_NE(r.body.find(R"(casmem_http_requests_total{route="memory_collection",status="200"} 1)"),
            std::string::npos)
      << r.body;  // A refused write to a new workspace registers nothing.
  EXPECT_EQ(c->Request("POST", "/workspaces/never/memory", R"({"key":"k","value":1,"if_match_version":3})")
                .status,
            409);
  EXPECT_NE(c->Request("GET", "/metrics").body.find("casmem_workspaces 1\n"), std::string::npos);
}

TEST_F(ServerTest, RestartAfterSigtermKeepsKeysVersionsTtlsAndTombstones) {
  Start();
  auto c = Client();
  c->Request("POST", "/workspaces/a/memory", R"({"key":"k","value":{"x":1.10}})");
  c->Request("POST", "/workspaces/a/memory", R"({"key":"k","value":{"x":2}})");
  c->Request("POST", "/workspaces/a/memory", R"({"key":"ttl","value":1,"ttl_seconds":3600})");
  c->Request("POST", "/workspaces/a/memory", R"({"key":"gone","value":1})");
  c->Request("DELETE", "/workspaces/a/memory/gone");
  const HttpReply before_k = c->Request("GET", "/workspaces/a/memory/k");
  const HttpReply before_ttl = c->Request("GET", "/workspaces/a/memory/ttl");
  c.reset();
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
  EXPECT_NE(server->Stderr().find("stopped cleanly"), std::string::npos);
  Start();
  c = Client();
  EXPECT_EQ(c->Request("GET", "/workspaces/a/memory/k").body, before_k.body);
  EXPECT_EQ(c->Request("GET", "/workspaces/a/memory/ttl").body, before_ttl.body);
  EXPECT_EQ(c->Request("GET", "/workspaces/a/memory/gone").status, 404);
  EXPECT_EQ(c->Request("POST", "/workspaces/a/memory", R"({"key":"gone","value":2,"if_match_version":0})").body,
            R"({"status":"ok","key":"gone","version":2,"revision":6})");
}

// ConflictTurns end to end: on a hot key the first stale loser is answered
// at once; later ones wait, in arrival order, one per commit, and each
// gets the key's state as of its release.
TEST_F(ServerTest, StaleLosersOnAHotKeyAreAnsweredOnePerCommitInArrivalOrder) {
  Start({"--conflict-turn", "30s"});
  auto writer = Client();
  writer->Request("POST", "/memory", R"({"key":"hot","value":1})");
  writer->Request("POST", "/memory", R"({"key":"hot","value":2})");
  auto a = Client(), b = Client(), c = Client();
  HttpReply r = a->Request("POST", "/memory", R"({"key":"hot","value":"a","if_match_version":1})");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find(R"("current_version":2)"), std::string::npos) << r.body;
  ASSERT_TRUE(b->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":"b","if_match_version":1})")));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(c->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":"c","if_match_version":1})")));
  HttpReply rb, rc;
  EXPECT_FALSE(b->Read(&rb, 300)) << "b was answered before its turn: " << rb.body;
  // Other keys and reads are not held.
  EXPECT_EQ(writer->Request("POST", "/memory", R"({"key":"cold","value":1,"if_match_version":5})").status, 409);
  EXPECT_EQ(writer->Request("GET", "/memory/hot").status, 200);
  // a commits from its 409; the turn passes to b with version 3 in it.
  EXPECT_EQ(a->Request("POST", "/memory", R"({"key":"hot","value":"a","if_match_version":2})").body,
            R"({"status":"ok","key":"hot","version":3,"revision":3})");
  ASSERT_TRUE(b->Read(&rb, 5000));
  EXPECT_EQ(rb.status, 409);
  EXPECT_EQ(rb.body, R"({"error":"if_match_version mismatch","expected_version":1,"current_version":3,"current_value":"a"})");
  EXPECT_FALSE(c->Read(&rc, 300)) << "c was answered before its turn: " << rc.body;
  EXPECT_EQ(b->Request("POST", "/memory", R"({"key":"hot","value":"b","if_match_version":3})").status, 200);
  ASSERT_TRUE(c->Read(&rc, 5000));
  EXPECT_NE(rc.body.find(R"("current_version":4,"current_value":"b")"), std::string::npos) << rc.body;
  // b and c came while a held the turn: their writes waited for their
  // turns (deferred) rather than running and being held as 409s.
  const std::string metrics = writer->Request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("casmem_writes_deferred_total 2\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("casmem_conflicts_held_total 0\n"), std::string::npos) << metrics;
}

TEST_F(ServerTest, AHeldLoserIsAnsweredWhenTheTurnRunsOutOrAtShutdown) {
  Start({"--conflict-turn", "200ms"});
  auto writer = Client();
  writer->Request("POST", "/memory", R"({"key":"hot","value":1})");
  writer->Request("POST", "/memory", R"({"key":"hot","value":2})");
  auto a = Client(), b = Client();
  EXPECT_EQ(a->Request("POST", "/memory", R"({"key":"hot","value":0,"if_match_version":1})").status, 409);
  // a never retries: b gets the turn when a's runs out.
  ASSERT_TRUE(b->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":0,"if_match_version":1})")));
  HttpReply rb;
  ASSERT_TRUE(b->Read(&rb, 5000));
  EXPECT_NE(rb.body.find(R"("current_version":2)"), std::string::npos) << rb.body;
  EXPECT_EQ(server->Terminate(), 0);

  // A shutdown answers whoever still waits.
  Start({"--conflict-turn", "30s"});
  a = Client();
  b = Client();
  EXPECT_EQ(a->Request("POST", "/memory", R"({"key":"hot","value":0,"if_match_version":1})").status, 409);
  ASSERT_TRUE(b->SendRaw(RawRequest("POST", "/memory", R"({"key":"hot","value":0,"if_match_version":1})")));
  EXPECT_FALSE(b->Read(&rb, 300));
  EXPECT_EQ(server->Terminate(), 0) << server->Stderr();
  ASSERT_TRUE(b->Read(&rb, 1000));
  EXPECT_EQ(rb.status, 409);
}

TEST_F(ServerTest, ConflictTurnZeroAnswersEveryLoserAtOnce) {
  Start({"--conflict-turn", "0"});
  auto c = Client();
  c->Request("POST", "/memory", R"({"key":"hot","value":1})");
  c->Request("POST", "/memory", R"({"key":"hot","value":2})");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c->Request("POST", "/memory", R"({"key":"hot","value":0,"if_match_version":1})").status, 409);
  }
  EXPECT_NE(c->Request("GET", "/metrics").body.find("casmem_conflicts_held_total 0\n"), std::string::npos);
}

// Startup errors: one line on stderr after the log lines, exit status 1,
// and a busy port is found before the data directory is touched.
std::string LastLine(const std::string& text) {
  const size_t end = text.size() > 0 && text.back() == '\n' ? text.size() - 1 : text.size();
  const size_t begin = text.rfind('\n', end == 0 ? 0 : end - 1);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1));
}

TEST_F(ServerTest, BusyPortUnusableDirAndLogDamageStopItWithOneLine) {
  Start();
  const std::string other = dir + "-other";
  std::filesystem::remove_all(other);
  {
    Casmemd second(other, {"--listen", "127.0.0.1:" + std::to_string(server->port())});
    EXPECT_EQ(second.port(), 0);
    EXPECT_EQ(second.Terminate(), 1);
    EXPECT_EQ(LastLine(second.Stderr()), "casmemd: cannot listen on 127.0.0.1:" +
                                             std::to_string(server->port()) + ": Address already in use");
    EXPECT_FALSE(std::filesystem::exists(other)) << "the data dir was opened before the port check";
  }
  {
    // A data directory that cannot be one: a regular file is in the way.
    { std::ofstream(other) << "not a directory"; }
    Casmemd bad(other);
    EXPECT_EQ(bad.port(), 0);
    EXPECT_EQ(bad.Terminate(), 1);
    const std::string err = LastLine(bad.Stderr());
    EXPECT_EQ(err.rfind("casmemd: cannot open data directory " + other + ": ", 0), 0u) << err;
    std::filesystem::remove(other);
  }
  std::filesystem::remove(other + ".stderr");
  // Damage in the middle of the log (not a torn tail) refuses to start and
  // names the file and offset.
  auto c = Client();
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(c->Request("POST", "/memory", R"({"key":"k)" + std::to_string(i) + R"(","value":1})").status, 200);
  }
  server->Kill();  // no clean-shutdown snapshot: the log holds the records
  std::string segment;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/wal")) {
    if (e.path().extension() == ".wal" && e.path().filename().string().rfind("spare", 0) != 0) {
      segment = e.path().string();
    }
  }
  ASSERT_FALSE(segment.empty());
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(32 + 40);  // inside the first record, after the 32-byte segment header
    f.put('\x7f');
  }
  Casmemd damaged(dir);
  EXPECT_EQ(damaged.port(), 0);
  EXPECT_EQ(damaged.Terminate(), 1);
  const std::string err = LastLine(damaged.Stderr());
  EXPECT_EQ(err.rfind("casmemd: ", 0), 0u) << err;
  EXPECT_NE(err.find(std::filesystem::path(segment).filename().string()), std::string::npos) << err;
  EXPECT_NE(err.find("offset 32"), std::string::npos) << err;
}

TEST_F(ServerTest, SigkillUnderConcurrentLoadLosesNoAcknowledgedWrite) {
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Start();
    constexpr int kClients = 4;
    std::vector<std::atomic<int>> acked(kClients);
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < kClients; ++t) {
      clients.emplace_back([&, t] {
        auto c = HttpClient::Connect(server->port());
        const std::string key = "r" + std::to_string(round) + "c" + std::to_string(t);
        for (int i = 1; !stop; ++i) {
          HttpReply r = c->Request("POST", "/memory",
                                   R"({"key":")" + key + R"(","value":)" + std::to_string(i) + "}");
          if (r.status != 200) return;  // the server died under us
          acked[t] = i;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 100 * round));
    server->Kill();
    stop = true;
    for (auto& t : clients) t.join();
    Start();
    auto c = Client();
    for (int t = 0; t < kClients; ++t) {
      const std::string key = "r" + std::to_string(round) + "c" + std::to_string(t);
      HttpReply r = c->Request("GET", "/memory/" + key);
      if (acked[t] == 0) continue;
      ASSERT_EQ(r.status, 200) << key;
      const int value = std::stoi(r.body.substr(r.body.find("\"value\":") + 8));
      EXPECT_GE(value, acked[t].load()) << key << " lost an acknowledged write";
    }
    server->Kill();
  }
}

}  // namespace
}  // namespace casmem::testing
