// casmem-bench over TLS (https:// targets) against an in-test Beast SSL
// server whose certificates the openssl CLI makes at test time (skipped
// when it is missing): --cacert verifies the server, its IP address or
// host name included; a certificate of another CA, or for another
// address, is refused unless --insecure; requests carry the token over
// TLS; the watch stream works over TLS; the handshake workload makes one
// full TLS connection per completed /healthz.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <set>

#include "bench/contention/handshake.h"
#include "bench/contention/peers.h"
#include "bench/contention/runner.h"
#include "tests/bench/recording_server.h"

namespace casmem::bench {
namespace {

using testing::CasmemOk;
using testing::MakeTlsCert;
using testing::Recorded;
using testing::RecordingServer;
using testing::Reply;
using testing::TlsCert;

class BenchTls : public ::testing::Test {
 protected:
  void SetUp() override {
    auto good = MakeTlsCert(dir_, "good", "casmem-test", "IP:127.0.0.1,DNS:localhost");
    auto other = MakeTlsCert(dir_, "other", "casmem-other", "IP:127.0.0.1,DNS:localhost");
    auto elsewhere = MakeTlsCert(dir_, "elsewhere", "elsewhere.example", "IP:127.0.0.2,DNS:elsewhere.example");
    if (!good || !other || !elsewhere) GTEST_SKIP() << "the openssl CLI is missing or failed";
    good_ = *good;
    other_ = *other;
    elsewhere_ = *elsewhere;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A read run over TLS: its result, and the error the driver gave when
  // it could not be made.
  // ops 0: for `seconds` (a run with --ops has no time limit).
  RunResult ReadRun(const std::string& target, const ClientOptions& client, std::string* error, uint64_t ops = 10,
                    double seconds = 5) {
    auto driver = MakeDriver(target, "bench", error, client);
    if (!driver) return {};
    RunConfig cfg;
    cfg.workload = "read";
    cfg.agents = 2;
    cfg.ops = ops;
    cfg.seconds = seconds;
    cfg.warmup_seconds = 0;
    cfg.key_prefix = "tls";
    return casmem::bench::Run(*driver, cfg);
  }

  static bool ConnectFailed(const RunResult& r, const std::string& what) {
    for (const auto& [k, v] : r.errors) {
      if (k.rfind("connect: ", 0) == 0 && k.find(what) != std::string::npos) return true;
    }
    return false;
  }

  const std::string dir_ = ::testing::TempDir() + "casmem-bench-tls-" + std::to_string(getpid());
  TlsCert good_, other_, elsewhere_;
};

TEST_F(BenchTls, CacertVerifiesTheServerAndTheTokenGoesOverTls) {
  RecordingServer server([](const Recorded& r, size_t) { return CasmemOk(r); }, good_);
  ClientOptions client;
  client.token = "tls-tok";
  client.tls.cacert = good_.cert;
  std::string error;
  for (const std::string host : {"127.0.0.1", "localhost"}) {  // IP entry, then DNS name (with SNI)
    const RunResult r = ReadRun("https://" + host + ":" + std::to_string(server.port()), client, &error);
    EXPECT_GE(r.commits, 10u) << host << ": " << error << " errors " << r.errors.size()
                              << (r.errors.empty() ? "" : " first " + r.errors.begin()->first);
  }
  EXPECT_EQ(server.handshakes_failed(), 0);
  const auto reqs = server.requests();
  ASSERT_FALSE(reqs.empty());
  for (const Recorded& r : reqs) EXPECT_EQ(r.authorization, "Bearer tls-tok") << r.target;
}

TEST_F(BenchTls, AnotherCasCertificateIsRefusedUnlessInsecure) {
  RecordingServer server([](const Recorded& r, size_t) { return CasmemOk(r); }, other_);
  const std::string target = "casmems://127.0.0.1:" + std::to_string(server.port());
  ClientOptions client;
  client.tls.cacert = good_.cert;
  std::string error;
  RunResult r = ReadRun(target, client, &error);
  EXPECT_EQ(r.commits, 0u);
  EXPECT_TRUE(ConnectFailed(r, "certificate verify failed")) << (r.errors.empty() ? "no error" : r.errors.begin()->first);
  EXPECT_TRUE(server.requests().empty()) << "a request went to an unverified server";

  client.tls.cacert.clear();
  client.tls.insecure = true;
  r = ReadRun(target, client, &error);
  EXPECT_GE(r.commits, 10u) << error;
}

TEST_F(BenchTls, TheCertificateMustNameTheTarget) {
  // Signed by the CA given, but for 127.0.0.2 / elsewhere.example.
  RecordingServer server([](const Recorded& r, size_t) { return CasmemOk(r); }, elsewhere_);
  ClientOptions client;
  client.tls.cacert = elsewhere_.cert;
  std::string error;
  const RunResult r = ReadRun("https://127.0.0.1:" + std::to_string(server.port()), client, &error);
  EXPECT_EQ(r.commits, 0u);
  EXPECT_TRUE(ConnectFailed(r, "certificate verify failed")) << (r.errors.empty() ? "no error" : r.errors.begin()->first);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(BenchTls, PlainClientOfATlsServerFails) {
  RecordingServer server([](const Recorded& r, size_t) { return CasmemOk(r); }, good_);
  std::string error;
  const RunResult r = ReadRun("casmem://127.0.0.1:" + std::to_string(server.port()), {}, &error, 0, 0.5);
  EXPECT_EQ(r.commits, 0u);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(BenchTls, WatchStreamOverTls) {
  RecordingServer server([](const Recorded& r, size_t) {
    if (r.target.find("/watch?") != std::string::npos) {
      Reply sse{200, "event: put\nid: 5\ndata: {}\n\n", "text/event-stream"};
      sse.close = true;
      return sse;
    }
    return CasmemOk(r);
  }, good_);
  ClientOptions client;
  client.token = "w";
  client.tls.cacert = good_.cert;
  std::string error;
  auto target = MakeWatchTarget("https://127.0.0.1:" + std::to_string(server.port()), "bench", &error, client);
  ASSERT_TRUE(target) << error;
  boost::asio::io_context io;
  bool opened = false;
  std::vector<uint64_t> revs;
  std::string why;
  WatchEvents ev;
  ev.on_open = [&] { opened = true; };
  ev.on_delivery = [&](uint64_t rev, uint64_t) { revs.push_back(rev); };
  ev.on_end = [&](const std::string& w, bool) { why = w; };
  auto stream = target->Watch(io, "p/", std::nullopt, ev);
  io.run();
  EXPECT_TRUE(opened) << why;
  EXPECT_EQ(revs, std::vector<uint64_t>{5});
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].authorization, "Bearer w");
}

// Every completed connection of the handshake workload is its own TLS
// connection (one handshake, one /healthz); plain targets are the
// reference.
TEST_F(BenchTls, HandshakeWorkloadMakesOneConnectionPerRequest) {
  for (const bool tls : {true, false}) {
    std::optional<TlsCert> cert;
    if (tls) cert = good_;
    RecordingServer server([](const Recorded& r, size_t) { return CasmemOk(r); }, cert);
    TargetUrl url;
    url.scheme = "casmem";
    url.tls = tls;
    url.host = "127.0.0.1";
    url.port = server.port();
    TlsOptions opts;
    opts.cacert = good_.cert;
    std::string error;
    auto security = MakeConnSecurity(url, "hs-tok", opts, &error);
    ASSERT_TRUE(security) << error;
    RunConfig cfg;
    cfg.agents = 2;
    cfg.ops = 20;
    cfg.warmup_seconds = 0;
    const RunResult r = RunHandshake("127.0.0.1", server.port(), security, cfg);
    EXPECT_GE(r.commits, 20u) << (r.errors.empty() ? "" : r.errors.begin()->first);
    EXPECT_TRUE(r.errors.empty()) << r.errors.begin()->first;
    const auto reqs = server.requests();
    EXPECT_EQ(static_cast<size_t>(server.connections()), reqs.size()) << "tls " << tls;
    for (const Recorded& q : reqs) {
      EXPECT_EQ(q.target, "/healthz");
      EXPECT_EQ(q.authorization, "Bearer hs-tok");
    }
    std::set<int> conns;
    for (const Recorded& q : reqs) conns.insert(q.connection);
    EXPECT_EQ(conns.size(), reqs.size()) << "a connection carried two requests";
  }
}

}  // namespace
}  // namespace casmem::bench
