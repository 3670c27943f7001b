// The request path's visibility batching (ResponseWaiters), end to end on
// an in-process Server over a Store on MemFs, whose syncs a test holds at
// a gate or fails: pipelined responses leave in request order when some
// wait for their fsync and others do not, nothing leaves before its lsn
// is acknowledged, and a log failure answers every waiting connection
// with a 503.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "engine/store.h"
#include "net/metrics.h"
#include "net/server.h"
#include "tests/support/http_client.h"
#include "tests/support/mem_fs.h"

namespace casmem::net {
namespace {

using casmem::testing::HttpClient;
using casmem::testing::HttpReply;
using casmem::testing::RawRequest;

// Holds every sync of the log while closed; counts the syncs held.
class SyncGate {
 public:
  void Close() {
    std::lock_guard lk(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard lk(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void Pass() {
    std::unique_lock lk(mu_);
    if (!open_) ++held_;
    cv_.notify_all();
    cv_.wait(lk, [&] { return open_; });
  }
  // Waits until a sync is held at the gate (false after 30 s).
  bool WaitHeld() {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, std::chrono::seconds(30), [&] { return held_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int held_ = 0;
};

class ServerBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.data_dir = "/data";
    o.fs = &fs;
    o.sweep_interval = std::chrono::milliseconds(0);
    // The log's writer thread commits every batch: these tests hold syncs
    // at a gate, and an I/O thread leading a commit (LeadCommit) would
    // wait at the gate itself, with the connections it serves.
    o.wal_inline_commit = InlineCommit();
    ASSERT_TRUE(Store::Open(o, &store).ok());
    fs.SetSyncHook([this] { gate.Pass(); });
    ServerOptions so;
    so.port = 0;
    so.threads = 1;  // every connection shares one thread's waiters
    server = std::make_unique<Server>(store.get(), &metrics, so);
    ASSERT_TRUE(server->Listen().ok());
    const std::string bound = server->bound_address();
    port = std::stoi(bound.substr(bound.rfind(':') + 1));
    runner = std::thread([this] { server->Run(); });
  }
  virtual bool InlineCommit() const { return false; }
  void TearDown() override {
    gate.Open();
    if (server) server->Stop();
    if (runner.joinable()) runner.join();
    (void)store->Close();  // fires every callback before the server goes
    server.reset();
    store.reset();
  }
  std::unique_ptr<HttpClient> Client() {
    auto c = HttpClient::Connect(port);
    EXPECT_TRUE(c);
    return c;
  }
  // Waits until the log has handed out `lsn` (a request was handled).
  bool WaitAppended(uint64_t lsn) {
    for (int i = 0; i < 3000; ++i) {
      if (store->wal()->last_lsn() >= lsn) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  testing::MemFs fs;
  SyncGate gate;
  Metrics metrics;
  std::unique_ptr<Store> store;
  std::unique_ptr<Server> server;
  std::thread runner;
  int port = 0;
};

std::string Put(const std::string& key, int n) {
  return RawRequest("POST", "/memory", R"({"key":")" + key + R"(","value":)" + std::to_string(n) + "}",
                    "Content-Type: application/json\r\n");
}

TEST_F(ServerBatchTest, PipelinedResponsesKeepOrderAcrossDurability) {
  auto seed = Client();
  ASSERT_EQ(seed->Request("POST", "/memory", R"({"key":"a","value":1})", "Content-Type: application/json\r\n").status,
            200);
  gate.Close();
  const uint64_t before = store->wal()->last_lsn();
  auto c = Client();
  // A read already visible, a write (held at the gate), a read that needs
  // nothing, a second write, and a read of the first write's key.
  ASSERT_TRUE(c->SendRaw(RawRequest("GET", "/memory/a") + Put("k1", 10) + RawRequest("GET", "/memory/a") +
                         Put("k2", 20) + RawRequest("GET", "/memory/k1")));
  HttpReply r;
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"value\":1"), std::string::npos) << r.body;
  ASSERT_TRUE(gate.WaitHeld());
  ASSERT_TRUE(WaitAppended(before + 2));
  // Visibility: nothing behind the held write leaves before its fsync,
  // not even the reads that need none.
  EXPECT_FALSE(c->Read(&r, 300)) << r.status << " " << r.body;
  // Another connection's visible read is not held up by them.
  auto other = Client();
  HttpReply o = other->Request("GET", "/memory/a");
  EXPECT_EQ(o.status, 200);
  gate.Open();
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"key\":\"k1\""), std::string::npos) << r.body;
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"key\":\"a\""), std::string::npos) << r.body;
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"key\":\"k2\""), std::string::npos) << r.body;
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"value\":10"), std::string::npos) << r.body;
  EXPECT_GE(store->wal()->acked_lsn(), before + 2);
}

TEST_F(ServerBatchTest, LogFailureAnswersEveryWaitingConnection) {
  gate.Close();
  const uint64_t before = store->wal()->last_lsn();
  constexpr int kClients = 4;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(Client());
    ASSERT_TRUE(clients.back()->SendRaw(Put("w" + std::to_string(i), i) + Put("v" + std::to_string(i), i)));
  }
  // Every write is in the log, waiting: the first batch is held at its
  // sync, the rest queued behind it.
  ASSERT_TRUE(gate.WaitHeld());
  ASSERT_TRUE(WaitAppended(before + 2 * kClients));
  fs.Freeze();  // the held sync and every later one fail
  gate.Open();
  for (auto& c : clients) {
    for (int n = 0; n < 2; ++n) {
      HttpReply r;
      ASSERT_TRUE(c->Read(&r));
      EXPECT_EQ(r.status, 503) << r.body;
      EXPECT_NE(r.body.find("storage unavailable"), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(store->wal()->acked_lsn(), before);
}

// The same server with --inline-commit on (the default): an I/O thread
// whose connection waits for a write leads the commit itself.
class ServerLeadTest : public ServerBatchTest {
 protected:
  bool InlineCommit() const override { return true; }
  uint64_t Led() const { return store->wal()->stats().batches_led.load(); }
};

TEST_F(ServerLeadTest, OneClientsWritesAreCommittedByItsIoThread) {
  auto c = Client();
  for (int i = 0; i < 50; ++i) {
    HttpReply r = c->Request("POST", "/memory", R"({"key":"k","value":)" + std::to_string(i) + "}",
                             "Content-Type: application/json\r\n");
    ASSERT_EQ(r.status, 200) << r.body;
    // The reply left only once its record was acknowledged.
    ASSERT_GE(store->wal()->acked_lsn(), static_cast<uint64_t>(i + 1));
  }
  EXPECT_GT(Led(), 0u) << "no batch was led by an I/O thread";
  const std::string m = Client()->Request("GET", "/metrics").body;
  EXPECT_NE(m.find("casmem_wal_batches_led_total " + std::to_string(Led())), std::string::npos) << m;
}

// A sync that fails in a leader is sticky: its writer and everyone queued
// behind get a 503, and so does every later write.
TEST_F(ServerLeadTest, AFailedSyncInALeaderAnswersEveryWriterWith503) {
  auto c = Client();
  ASSERT_EQ(c->Request("POST", "/memory", R"({"key":"k","value":0})", "Content-Type: application/json\r\n").status,
            200);
  fs.Freeze();
  constexpr int kClients = 4;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(Client());
    ASSERT_TRUE(clients.back()->SendRaw(Put("w" + std::to_string(i), i) + Put("v" + std::to_string(i), i)));
  }
  for (auto& cl : clients) {
    for (int n = 0; n < 2; ++n) {
      HttpReply r;
      ASSERT_TRUE(cl->Read(&r));
      EXPECT_EQ(r.status, 503) << r.body;
    }
  }
  EXPECT_EQ(c->Request("POST", "/memory", R"({"key":"k","value":1})", "Content-Type: application/json\r\n").status,
            503);
  EXPECT_FALSE(store->health().ok());
  EXPECT_EQ(c->Request("GET", "/memory/k").status, 200) << "reads go on after the log failed";
}

}  // namespace
}  // namespace casmem::net
