// HTTPS end to end (memory-api.md §9, issue 11): casmemd with --tls-cert
// and --tls-key, on certificates made at test time with the openssl
// command. In process (a Server on a memory-only Store): round trips,
// pipelining, a watch stream, a parked long-poll, the protocol floor, the
// handshake timeout, a plain HTTP client on the HTTPS port, reloads (good
// and bad) and the graceful stop. Against the real binary: SIGHUP reloads,
// SIGHUP without TLS does not kill, bad files fail the start.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "engine/store.h"
#include "net/metrics.h"
#include "net/server.h"
#include "tests/net/server_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/tls_client.h"

namespace casmem::net {
namespace {

using casmem::testing::Casmemd;
using casmem::testing::CertFingerprint;
using casmem::testing::FreshDir;
using casmem::testing::HttpClient;
using casmem::testing::HttpReply;
using casmem::testing::MakeTestCertificate;
using casmem::testing::RawRequest;
using casmem::testing::TlsClient;
using casmem::testing::TlsClientOptions;

const std::string kJson = "Content-Type: application/json\r\n";

std::string TestName() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

// A directory with cert.pem/key.pem (CN=first) and, made on demand, other
// pairs to install over them.
class TlsFiles {
 public:
  TlsFiles() : dir_(FreshDir("tls-" + TestName())) {
    std::filesystem::create_directories(dir_);
    ok_ = MakeTestCertificate(cert(), key(), "first");
    if (ok_) std::filesystem::copy_file(cert(), first());
  }
  ~TlsFiles() { std::filesystem::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string cert() const { return dir_ + "/cert.pem"; }
  std::string key() const { return dir_ + "/key.pem"; }
  std::string dir() const { return dir_; }
  // A copy of the first certificate: what clients trust once cert.pem changes.
  std::string first() const { return dir_ + "/first.pem"; }
  // Makes a new pair (CN=`cn`) and copies it over cert.pem/key.pem, as a
  // renewal in place does. Its fingerprint, or "" on failure.
  std::string Renew(const std::string& cn) {
    const std::string c = dir_ + "/" + cn + ".crt", k = dir_ + "/" + cn + ".key";
    if (!MakeTestCertificate(c, k, cn)) return "";
    std::filesystem::copy_file(c, cert(), std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(k, key(), std::filesystem::copy_options::overwrite_existing);
    return CertFingerprint(cert());
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
}

class ServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(files.ok()) << "openssl req failed";
    StoreOptions o;  // empty data_dir: memory only
    o.sweep_interval = std::chrono::milliseconds(0);
    ASSERT_TRUE(Store::Open(o, &store).ok());
  }
  void StartServer(ServerOptions so = {}) {
    so.port = 0;
    so.tls_cert = files.cert();
    so.tls_key = files.key();
    server = std::make_unique<Server>(store.get(), &metrics, so);
    Status s = server->Listen();
    ASSERT_TRUE(s.ok()) << s.message();
    const std::string bound = server->bound_address();
    port = std::stoi(bound.substr(bound.rfind(':') + 1));
    runner = std::thread([this] { server->Run(); });
  }
  void TearDown() override {
    if (server) server->Stop();
    if (runner.joinable()) runner.join();
    if (store) (void)store->Close();
    server.reset();
    store.reset();
  }
  std::unique_ptr<TlsClient> Client(std::string* error = nullptr) {
    std::string e;
    auto c = TlsClient::Connect(port, TlsClientOptions{ca.empty() ? files.cert() : ca, 0}, &e);
    if (error != nullptr) *error = e;
    EXPECT_TRUE(c) << e;
    return c;
  }
  // Waits (up to 20 s) for the handshake failure count to reach `n`; the
  // count. The server counts after the client has seen the close.
  uint64_t HandshakeFailures(uint64_t n) {
    for (int i = 0; i < 2000 && CountedHandshakeFailures() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return CountedHandshakeFailures();
  }
  // Waits (up to 20 s) until casmem_waiting_requests is `n`; whether it got there.
  bool WaitWaiting(int n) {
    const std::string line = "\ncasmem_waiting_requests " + std::to_string(n) + "\n";
    for (int i = 0; i < 2000; ++i) {
      if (metrics.Render(*store).find(line) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  uint64_t CountedHandshakeFailures() {
    const std::string text = metrics.Render(*store);
    const std::string name = "\ncasmem_tls_handshake_failures_total ";
    const size_t at = text.find(name);
    return at == std::string::npos ? ~0ULL : std::stoull(text.substr(at + name.size()));
  }

  TlsFiles files;
  std::string ca;  // what Client() trusts; empty: files.cert()
  Metrics metrics;
  std::unique_ptr<Store> store;
  std::unique_ptr<Server> server;
  std::thread runner;
  int port = 0;
};

TEST_F(ServerTlsTest, RoundTripsAndConflictOverHttps) {
  StartServer();
  ASSERT_TRUE(server->tls());
  auto c = Client();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->PeerFingerprint(), CertFingerprint(files.cert()));
  EXPECT_EQ(c->Request("GET", "/healthz").status, 200);
  HttpReply r = c->Request("POST", "/workspaces/w/memory", R"({"key":"k","value":{"a":1}})", kJson);
  EXPECT_EQ(r.status, 200) << r.body;
  r = c->Request("GET", "/workspaces/w/memory/k");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("value":{"a":1})"), std::string::npos) << r.body;
  r = c->Request("POST", "/workspaces/w/memory", R"({"key":"k","value":2,"if_match_version":7})", kJson);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find(R"("current_version":1)"), std::string::npos) << r.body;
  // A large body crosses many TLS records both ways.
  const std::string big(300 * 1024, 'x');
  r = c->Request("POST", "/workspaces/w/memory", R"({"key":"big","value":")" + big + R"("})", kJson);
  EXPECT_EQ(r.status, 200) << r.body;
  r = c->Request("GET", "/workspaces/w/memory/big");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(big), std::string::npos);
}

TEST_F(ServerTlsTest, KeepAlivePipeliningAndContinue) {
  StartServer();
  auto c = Client();
  ASSERT_TRUE(c);
  std::string batch;
  for (int i = 0; i < 5; ++i) {
    batch += RawRequest("POST", "/workspaces/w/memory", R"({"key":"p)" + std::to_string(i) + R"(","value":1})", kJson);
  }
  batch += RawRequest("GET", "/workspaces/w/memory?prefix=p");
  ASSERT_TRUE(c->SendRaw(batch));
  HttpReply r;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c->Read(&r)) << i;
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("\"key\":\"p" + std::to_string(i) + "\""), std::string::npos) << r.body;
  }
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200);
  for (int i = 0; i < 5; ++i) EXPECT_NE(r.body.find("\"p" + std::to_string(i) + "\""), std::string::npos);
  // Expect: 100-continue: the interim 100, then the body, then the answer.
  const std::string body = R"({"key":"c","value":3})";
  ASSERT_TRUE(c->SendRaw("POST /workspaces/w/memory HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n" + kJson +
                         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 100);
  ASSERT_TRUE(c->SendRaw(body));
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200) << r.body;
  // Connection: close ends the connection after its answer.
  ASSERT_TRUE(c->SendRaw(RawRequest("GET", "/healthz", "", "Connection: close\r\n")));
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(c->ClosedByPeer());
  EXPECT_TRUE(c->CloseNotified());
}

TEST_F(ServerTlsTest, WatchStreamGetsEvents) {
  StartServer();
  auto w = Client();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->SendRaw(RawRequest("GET", "/workspaces/w/watch?since=0")));
  std::string got;
  ASSERT_TRUE(w->ReadUntil("retry:", &got)) << got;
  EXPECT_NE(got.find("text/event-stream"), std::string::npos) << got;
  auto c = Client();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->Request("POST", "/workspaces/w/memory", R"({"key":"watched","value":42})", kJson).status, 200);
  ASSERT_TRUE(w->ReadUntil("\n\n", &got));  // the rest of the retry line
  ASSERT_TRUE(w->ReadUntil("\"watched\"", &got)) << got;
  ASSERT_TRUE(w->ReadUntil("\n\n", &got)) << got;
  EXPECT_NE(got.find("42"), std::string::npos) << got;
  // The graceful stop ends the stream with close_notify.
  server->Stop();
  EXPECT_TRUE(w->ClosedByPeer(10'000));
  EXPECT_TRUE(w->CloseNotified());
}

TEST_F(ServerTlsTest, ParkedLongPollAndTheRequestBehindIt) {
  StartServer();
  auto c = Client();
  ASSERT_TRUE(c);
  HttpReply r = c->Request("POST", "/workspaces/w/memory", R"({"key":"q","value":1})", kJson);
  ASSERT_EQ(r.status, 200) << r.body;
  // A blocking read parks; a request pipelined behind it waits its turn.
  ASSERT_TRUE(c->SendRaw(RawRequest("GET", "/workspaces/w/memory/q?wait_version=1&wait=20s") +
                         RawRequest("GET", "/healthz")));
  EXPECT_FALSE(c->Read(&r, 300));
  auto other = Client();
  ASSERT_TRUE(other);
  EXPECT_EQ(other->Request("POST", "/workspaces/w/memory", R"({"key":"q","value":2})", kJson).status, 200);
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"value\":2"), std::string::npos) << r.body;
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("ok"), std::string::npos) << r.body;
  // The connection is still usable after its parked read.
  EXPECT_EQ(c->Request("GET", "/workspaces/w/memory/q").status, 200);
}

TEST_F(ServerTlsTest, ParkedRequestOfAClientThatLeftEnds) {
  StartServer();
  auto c = Client();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->SendRaw(RawRequest("GET", "/workspaces/w/changes?since=0&wait=60s")));
  ASSERT_TRUE(WaitWaiting(1));
  c.reset();  // a TCP close, no close_notify: read through TLS as the end
  EXPECT_TRUE(WaitWaiting(0));
}

TEST_F(ServerTlsTest, LargeListingStreamsChunkedAndHttp10EndsWithCloseNotify) {
  StartServer();
  auto c = Client();
  ASSERT_TRUE(c);
  // More keys than one page (Handler::kStreamPage): the listing streams.
  constexpr int kKeys = 1100;
  for (int base = 0; base < kKeys; base += 100) {
    std::string batch;
    for (int i = base; i < base + 100; ++i) {
      batch += RawRequest("POST", "/workspaces/w/memory", R"({"key":"k)" + std::to_string(10000 + i) + R"(","value":1})",
                          kJson);
    }
    ASSERT_TRUE(c->SendRaw(batch));
    HttpReply r;
    for (int i = base; i < base + 100; ++i) {
      ASSERT_TRUE(c->Read(&r)) << i;
      ASSERT_EQ(r.status, 200) << r.body;
    }
  }
  HttpReply r = c->Request("GET", "/workspaces/w/memory");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.chunked);
  EXPECT_NE(r.body.find("\"k10000\""), std::string::npos);
  EXPECT_NE(r.body.find("\"k11099\""), std::string::npos);
  // HTTP/1.0 has no chunks: the body ends with the connection, which a
  // TLS client believes only from a close_notify (a bare TCP close reads
  // as a truncation, and Read fails).
  ASSERT_TRUE(c->SendRaw("GET /workspaces/w/memory HTTP/1.0\r\n\r\n"));
  HttpReply r10;
  ASSERT_TRUE(c->Read(&r10));
  EXPECT_EQ(r10.status, 200);
  EXPECT_FALSE(r10.chunked);
  EXPECT_EQ(r10.body, r.body);
}

TEST_F(ServerTlsTest, RefusedBodyIsDrainedNotReset) {
  ServerOptions so;
  so.max_body_bytes = 1024;
  StartServer(so);
  auto c = Client();
  ASSERT_TRUE(c);
  // No Expect: 100-continue: the whole body follows its head at once. The
  // 413 goes first; the body must be read and dropped after it, or the
  // client's send ends in a reset.
  const std::string body(2 << 20, 'x');
  ASSERT_TRUE(c->SendRaw("POST /workspaces/w/memory HTTP/1.1\r\nHost: x\r\n" + kJson +
                         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  HttpReply r;
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(c->ClosedByPeer(20'000));
}

TEST_F(ServerTlsTest, StopEndsIdleConnectionsWithCloseNotify) {
  StartServer();
  auto c = Client();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->Request("GET", "/healthz").status, 200);
  server->Stop();
  // ClosedByPeer: a close_notify (or a TCP close) within the time.
  EXPECT_TRUE(c->ClosedByPeer(10'000));
  EXPECT_TRUE(c->CloseNotified());
  runner.join();
}

TEST_F(ServerTlsTest, Tls11ClientIsRefused) {
  StartServer();
  std::string error;
  auto old = TlsClient::Connect(port, TlsClientOptions{files.cert(), TLS1_1_VERSION}, &error);
  EXPECT_FALSE(old);
  // Refused by the server (its protocol_version alert), not by the client.
  EXPECT_NE(error.find("protocol version"), std::string::npos) << error;
  EXPECT_EQ(HandshakeFailures(1), 1u);
  // The same client with TLS 1.2 gets in.
  auto tls12 = TlsClient::Connect(port, TlsClientOptions{files.cert(), TLS1_2_VERSION}, &error);
  ASSERT_TRUE(tls12) << error;
  EXPECT_EQ(tls12->Request("GET", "/healthz").status, 200);
}

TEST_F(ServerTlsTest, ClientThatNeverHandshakesIsCutByReadTimeout) {
  ServerOptions so;
  so.read_timeout = std::chrono::milliseconds(500);
  StartServer(so);
  auto raw = HttpClient::Connect(port);
  ASSERT_TRUE(raw);
  EXPECT_TRUE(raw->ClosedByPeer(20'000));
  EXPECT_EQ(HandshakeFailures(1), 1u);
  // One that sent half a ClientHello too.
  auto half = HttpClient::Connect(port);
  ASSERT_TRUE(half);
  ASSERT_TRUE(half->SendRaw(std::string("\x16\x03\x01\x02\x00\x01", 6)));
  EXPECT_TRUE(half->ClosedByPeer(20'000));
  EXPECT_EQ(HandshakeFailures(2), 2u);
}

TEST_F(ServerTlsTest, MaxConnectionsRefusesTheOneTooMany) {
  ServerOptions so;
  so.max_connections = 1;
  StartServer(so);
  auto first = Client();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->Request("GET", "/healthz").status, 200);
  std::string error;
  EXPECT_FALSE(TlsClient::Connect(port, TlsClientOptions{files.cert(), 0}, &error));
  EXPECT_EQ(first->Request("GET", "/healthz").status, 200);
  first.reset();  // its slot frees once the server has seen it go
  std::unique_ptr<TlsClient> next;
  for (int i = 0; i < 200 && !next; ++i) {
    next = TlsClient::Connect(port, TlsClientOptions{files.cert(), 0}, &error);
    if (!next) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(next) << error;
  EXPECT_EQ(next->Request("GET", "/healthz").status, 200);
}

TEST_F(ServerTlsTest, PlainHttpClientGetsA400) {
  StartServer();
  auto raw = HttpClient::Connect(port);
  ASSERT_TRUE(raw);
  HttpReply r = raw->Request("GET", "/healthz");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("HTTPS"), std::string::npos) << r.body;
  EXPECT_TRUE(raw->ClosedByPeer());
  // TLS clients are served as before.
  auto c = Client();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->Request("GET", "/healthz").status, 200);
}

TEST_F(ServerTlsTest, ReloadServesNewCertificateToNewConnections) {
  StartServer();
  const std::string first = CertFingerprint(files.cert());
  auto old = Client();
  ASSERT_TRUE(old);
  EXPECT_EQ(old->PeerFingerprint(), first);
  EXPECT_EQ(old->Request("GET", "/healthz").status, 200);
  const std::string second = files.Renew("second");
  ASSERT_FALSE(second.empty());
  ASSERT_NE(second, first);
  Status s = server->ReloadTls();
  ASSERT_TRUE(s.ok()) << s.message();
  auto fresh = Client();
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->PeerFingerprint(), second);
  EXPECT_EQ(fresh->Request("GET", "/healthz").status, 200);
  // The keep-alive connection of before goes on with its own.
  EXPECT_EQ(old->Request("POST", "/workspaces/w/memory", R"({"key":"k","value":1})", kJson).status, 200);
  EXPECT_EQ(old->PeerFingerprint(), first);
}

TEST_F(ServerTlsTest, BadReloadKeepsTheOldCertificate) {
  StartServer();
  const std::string first = CertFingerprint(files.cert());
  ca = files.first();
  WriteFile(files.cert(), "not a certificate\n");
  Status s = server->ReloadTls();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(files.cert()), std::string::npos) << s.message();
  auto c = Client();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->PeerFingerprint(), first);
  // A key that does not match the certificate is refused too: a valid
  // new pair, then another pair's key over its key.
  ASSERT_FALSE(files.Renew("third").empty());
  ASSERT_TRUE(MakeTestCertificate(files.dir() + "/fourth.crt", files.dir() + "/fourth.key", "fourth"));
  std::filesystem::copy_file(files.dir() + "/fourth.key", files.key(), std::filesystem::copy_options::overwrite_existing);
  s = server->ReloadTls();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.message();
  c = Client();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->PeerFingerprint(), first);
}

TEST_F(ServerTlsTest, BadFilesFailListen) {
  WriteFile(files.key(), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  ServerOptions so;
  so.port = 0;
  so.tls_cert = files.cert();
  so.tls_key = files.key();
  Server bad(store.get(), &metrics, so);
  Status s = bad.Listen();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(files.key()), std::string::npos) << s.message();
  s = Server::ProbeListen(so);
  EXPECT_FALSE(s.ok());
  so.tls_key = files.dir() + "/missing.pem";
  s = Server::ProbeListen(so);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing.pem"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();
}

// ---- the real binary ----

class CasmemdTlsTest : public casmem::testing::ServerTest {
 protected:
  // Waits until the daemon's log holds `text` (false after 20 s).
  bool WaitLog(const std::string& text) {
    for (int i = 0; i < 2000; ++i) {
      if (server->Stderr().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  TlsFiles files;
};

TEST_F(CasmemdTlsTest, SighupReloadsTheCertificate) {
  ASSERT_TRUE(files.ok());
  Start({"--tls-cert", files.cert(), "--tls-key", files.key()});
  const std::string first = CertFingerprint(files.cert());
  std::string error;
  auto old = TlsClient::Connect(server->port(), TlsClientOptions{files.cert(), 0}, &error);
  ASSERT_TRUE(old) << error;
  EXPECT_EQ(old->PeerFingerprint(), first);
  EXPECT_EQ(old->Request("GET", "/healthz").status, 200);
  // A bad file first: logged, and the old certificate stays.
  const std::string good_cert = files.dir() + "/first-copy.pem";
  std::filesystem::copy_file(files.cert(), good_cert);
  WriteFile(files.cert(), "junk\n");
  ASSERT_EQ(::kill(server->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitLog("TLS reload failed")) << server->Stderr();
  auto same = TlsClient::Connect(server->port(), TlsClientOptions{good_cert, 0}, &error);
  ASSERT_TRUE(same) << error;
  EXPECT_EQ(same->PeerFingerprint(), first);
  // Then a renewal.
  const std::string second = files.Renew("second");
  ASSERT_FALSE(second.empty());
  ASSERT_EQ(::kill(server->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitLog("TLS: reloaded")) << server->Stderr();
  auto fresh = TlsClient::Connect(server->port(), TlsClientOptions{files.cert(), 0}, &error);
  ASSERT_TRUE(fresh) << error;
  EXPECT_EQ(fresh->PeerFingerprint(), second);
  EXPECT_EQ(fresh->Request("GET", "/healthz").status, 200);
  EXPECT_EQ(old->Request("GET", "/healthz").status, 200);
  EXPECT_EQ(server->Terminate(), 0);
}

TEST_F(CasmemdTlsTest, SighupWithoutTlsDoesNotKill) {
  Start();
  ASSERT_EQ(::kill(server->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitLog("nothing to reload")) << server->Stderr();
  auto c = Client();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->Request("GET", "/healthz").status, 200);
  EXPECT_EQ(server->Terminate(), 0);
}

TEST_F(CasmemdTlsTest, BadFilesFailTheStartBeforeTheStoreOpens) {
  ASSERT_TRUE(files.ok());
  WriteFile(files.cert(), "junk\n");
  server = std::make_unique<Casmemd>(dir, std::vector<std::string>{"--tls-cert", files.cert(), "--tls-key", files.key()});
  EXPECT_EQ(server->port(), 0);
  EXPECT_EQ(server->Terminate(), 1);
  const std::string err = server->Stderr();
  EXPECT_NE(err.find("casmemd: bad TLS certificate " + files.cert() + ": PEM routines: no start line"),
            std::string::npos)
      << err;
  EXPECT_FALSE(std::filesystem::exists(dir)) << "the data directory was opened";
}

}  // namespace
}  // namespace casmem::net
