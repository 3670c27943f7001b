// The patch / txn workloads through the casmem driver and the runner,
// against a small in-process stand-in for casmemd (FakeCasmem below) that
// can be made to misbehave: the final-value check must pass on a server
// that keeps its promises and fail on one that applies a retried request
// twice or forgets an acknowledged one. The stand-in also makes the
// driver's rarer paths happen every time: a repeat of a dropped request is
// answered 409 "request in progress" once, then with the replay.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "bench/contention/driver.h"
#include "bench/contention/runner.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A thread per connection, one mutex over the state. Understands what the
// benchmark sends: POST /workspaces/bench/memory (seed: the value is kept
// as is), GET of a key, PATCH of a key (applies the increment of /counter
// and appends the agent; removes the first agent when the patch says so),
// POST /workspaces/bench/txn (two increments), GET /metrics.
class FakeCasmem {
 public:
  enum class Fault { kNone, kNoIdempotency, kForgetOne, kRefuseSome };

  explicit FakeCasmem(Fault fault) : fault_(fault), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~FakeCasmem() {
    stopping_ = true;
    beast::error_code ec;
    // Wake the blocked accept by connecting once, and close the acceptor
    // only after its thread is gone: closing it under a running accept is
    // a data race (TSan) on the acceptor's state.
    tcp::socket s(io_);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    accept_thread_.join();
    acceptor_.close(ec);
    for (auto& t : sessions_) t.join();
  }
  uint16_t port() const { return port_; }
  uint64_t applied() const {
    std::lock_guard<std::mutex> l(mu_);
    return applied_;
  }

 private:
  struct Key {
    int64_t counter = 0;
    std::vector<int> agents;
    uint64_t version = 0;
  };
  struct Remembered {
    int status;
    std::string body;
    bool told_in_progress = false;
  };

  void AcceptLoop() {
    while (!stopping_) {
      tcp::socket s(io_);
      beast::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stopping_) return;
      sessions_.emplace_back([this, s = std::move(s)]() mutable { Session(std::move(s)); });
    }
  }

  void Session(tcp::socket s) {
    beast::flat_buffer buf;
    for (;;) {
      http::request<http::string_body> req;
      beast::error_code ec;
      http::read(s, buf, req, ec);
      if (ec) return;
      http::response<http::string_body> res;
      Handle(req, res);
      res.version(11);
      res.keep_alive(true);
      res.set(http::field::content_type, "application/json");
      res.prepare_payload();
      http::write(s, res, ec);
      if (ec) return;
    }
  }

  static std::string Entry(const std::string& name, const Key& k) {
    std::string agents;
    for (int a : k.agents) agents += (agents.empty() ? "" : ",") + std::to_string(a);
    return R"({"key":")" + name + R"(","value":{"counter":)" + std::to_string(k.counter) + R"(,"agents":[)" +
           agents + R"(]},"version":)" + std::to_string(k.version) + "}";
  }

  // Very small readers of what the driver sends (its exact text).
  static int64_t NumberAfter(const std::string& s, const std::string& marker, size_t from = 0) {
    const size_t at = s.find(marker, from);
    return at == std::string::npos ? 0 : std::stoll(s.substr(at + marker.size()));
  }

  void Handle(const http::request<http::string_body>& req, http::response<http::string_body>& res) {
    std::lock_guard<std::mutex> l(mu_);
    const std::string target(req.target());
    const std::string prefix = "/workspaces/bench/memory";
    if (target == "/metrics") {
      res.result(200);
      res.body() = "casmem_wal_fsyncs_total " + std::to_string(fsyncs_) + "\n";
      return;
    }
    if (req.method() == http::verb::post && target == prefix) {  // seed
      const std::string& b = req.body();
      const size_t k0 = b.find(R"("key":")") + 7;
      const std::string name = b.substr(k0, b.find('"', k0) - k0);
      Key& k = keys_[name];
      k.counter = NumberAfter(b, R"("counter":)");
      k.agents.assign(b.find("[-1") == std::string::npos ? 0 : 64, -1);
      ++k.version;
      ++fsyncs_;
      res.result(200);
      res.body() = R"({"status":"ok","version":)" + std::to_string(k.version) + "}";
      return;
    }
    if (req.method() == http::verb::get && target.rfind(prefix + "/", 0) == 0) {
      const std::string name = target.substr(prefix.size() + 1);
      auto it = keys_.find(name);
      res.result(it == keys_.end() ? 404 : 200);
      res.body() = it == keys_.end() ? R"({"error":"key not found"})" : Entry(name, it->second);
      return;
    }
    // A write: PATCH of a key or POST of a txn, maybe with Idempotency-Key.
    const std::string idem(req["Idempotency-Key"]);
    if (!idem.empty() && fault_ != Fault::kNoIdempotency) {
      auto it = remembered_.find(idem);
      if (it != remembered_.end()) {
        if (!it->second.told_in_progress) {
          it->second.told_in_progress = true;
          res.result(409);
          res.body() = R"({"error":"request in progress"})";
          return;
        }
        res.result(it->second.status);
        res.set("Idempotency-Replayed", "true");
        res.body() = it->second.body;
        return;
      }
    }
    if (fault_ == Fault::kRefuseSome && ++writes_seen_ % 10 == 0) {
      res.result(400);
      res.body() = R"({"error":"refused by the stand-in"})";
      return;
    }
    ++applied_;
    const bool forget = fault_ == Fault::kForgetOne && applied_ == 20;
    if (req.method() == http::verb::patch) {
      Key& k = keys_[target.substr(prefix.size() + 1)];
      if (!forget) {
        k.counter += NumberAfter(req.body(), R"("path":"/counter","value":)");
        k.agents.push_back(static_cast<int>(NumberAfter(req.body(), R"("path":"/agents/-","value":)")));
        if (req.body().find(R"("op":"remove","path":"/agents/0")") != std::string::npos) k.agents.erase(k.agents.begin());
        ++k.version;
      }
      res.body() = R"({"status":"ok","version":)" + std::to_string(k.version) + "}";
    } else if (req.method() == http::verb::post && target == "/workspaces/bench/txn") {
      const std::string& b = req.body();
      std::vector<std::string> names;
      for (size_t at = b.find(R"("key":")"); at != std::string::npos; at = b.find(R"("key":")", at + 1)) {
        names.push_back(b.substr(at + 7, b.find('"', at + 7) - at - 7));
      }
      const size_t second = b.find(R"({"op":"patch")", b.find(R"({"op":"patch")") + 1);
      if (!forget && names.size() == 2) {
        keys_[names[0]].counter += NumberAfter(b, R"("path":"/counter","value":)");
        keys_[names[1]].counter += NumberAfter(b, R"("path":"/counter","value":)", second);
      }
      res.body() = R"({"status":"ok","revision":)" + std::to_string(applied_) + "}";
    } else {
      res.result(404);
      res.body() = R"({"error":"not found"})";
      return;
    }
    ++fsyncs_;
    res.result(200);
    if (!idem.empty()) remembered_[idem] = {200, res.body(), false};
  }

  const Fault fault_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::vector<std::thread> sessions_;
  mutable std::mutex mu_;
  std::map<std::string, Key> keys_;
  std::map<std::string, Remembered> remembered_;
  uint64_t applied_ = 0, fsyncs_ = 0, writes_seen_ = 0;
};

RunConfig Config(const std::string& workload, double drop) {
  RunConfig c;
  c.workload = workload;
  c.agents = 4;
  c.keys = workload == "txn" ? 2 : 1;
  c.ops = 200;
  c.seconds = 0;
  c.warmup_seconds = 0;
  c.drop_responses = drop;
  c.key_prefix = workload;
  return c;
}

std::vector<std::string> Rules(const RunResult& r) {
  std::vector<std::string> out;
  for (const auto& v : r.violations) out.push_back(v.rule);
  return out;
}

TEST(AtomicWorkloads, PatchWithDroppedAnswersRetriedUnderOneKeyIsExact) {
  FakeCasmem server(FakeCasmem::Fault::kNone);
  auto driver = MakeCasmemDriver("127.0.0.1", server.port(), "bench");
  const RunResult r = bench::Run(*driver, Config("patch", 0.3));
  EXPECT_TRUE(r.history_checked);
  EXPECT_TRUE(r.violations.empty()) << r.violations[0].detail;
  EXPECT_TRUE(r.errors.empty()) << r.errors.begin()->first;
  EXPECT_GT(r.dropped, 0u);
  // The stand-in says "in progress" once to the first repeat of an applied
  // request, then replays. (A retry that overtakes its dropped request is
  // applied afresh, and the dropped one becomes the repeat: rare, allowed.)
  EXPECT_GT(r.replays, 0u);
  EXPECT_LE(r.replays, r.dropped);
  EXPECT_GT(r.in_progress, 0u);
  EXPECT_EQ(r.in_doubt, 0u);
  ASSERT_EQ(r.final_counters.size(), 1u);
  EXPECT_EQ(static_cast<uint64_t>(r.final_counters[0]), r.updates);
  EXPECT_EQ(server.applied(), r.updates);
  EXPECT_TRUE(r.fsyncs_known);
  EXPECT_EQ(r.fsyncs, r.updates) << "the stand-in syncs once per write";
}

TEST(AtomicWorkloads, GrowingPatchKeepsEveryAgentsUpdates) {
  FakeCasmem server(FakeCasmem::Fault::kNone);
  auto driver = MakeCasmemDriver("127.0.0.1", server.port(), "bench");
  RunConfig c = Config("patch", 0.2);
  c.patch_grow = true;
  const RunResult r = bench::Run(*driver, c);
  EXPECT_TRUE(r.history_checked);
  EXPECT_TRUE(r.violations.empty()) << r.violations[0].detail;
}

TEST(AtomicWorkloads, TxnWithDroppedAnswersConservesAndCountsMoves) {
  FakeCasmem server(FakeCasmem::Fault::kNone);
  auto driver = MakeCasmemDriver("127.0.0.1", server.port(), "bench");
  const RunResult r = bench::Run(*driver, Config("txn", 0.3));
  EXPECT_TRUE(r.history_checked);
  EXPECT_TRUE(r.violations.empty()) << r.violations[0].detail;
  EXPECT_GT(r.replays, 0u);
  ASSERT_EQ(r.final_counters.size(), 2u);
  EXPECT_EQ(r.final_counters[0] + r.final_counters[1], 0);
}

// A server that runs a repeated request again instead of replaying it:
// the retried increments are applied twice, and the check says so.
TEST(AtomicWorkloads, AServerThatAppliesRetriesTwiceIsCaught) {
  FakeCasmem server(FakeCasmem::Fault::kNoIdempotency);
  auto driver = MakeCasmemDriver("127.0.0.1", server.port(), "bench");
  const RunResult patch = bench::Run(*driver, Config("patch", 0.3));
  ASSERT_GT(patch.dropped, 0u);
  EXPECT_EQ(Rules(patch), (std::vector<std::string>{"counter-high"}));
  RunConfig grow = Config("patch", 0.3);
  grow.patch_grow = true;
  grow.key_prefix = "grow";
  const RunResult g = bench::Run(*driver, grow);
  auto rules = Rules(g);
  EXPECT_NE(std::find(rules.begin(), rules.end(), "agent-count"), rules.end());
  EXPECT_NE(std::find(rules.begin(), rules.end(), "counter-high"), rules.end());
}

// A server that acknowledges a write it never applied.
TEST(AtomicWorkloads, AServerThatForgetsAnAcknowledgedUpdateIsCaught) {
  {
    FakeCasmem server(FakeCasmem::Fault::kForgetOne);
    auto driver = MakeCasmemDriver("127.0.0.1", server.port(), "bench");
    EXPECT_EQ(Rules(bench::Run(*driver, Config("patch", 0))), (std::vector<std::string>{"counter-low"}));
  }
  {
    FakeCasmem server(FakeCasmem::Fault::kForgetOne);
    auto driver = MakeCasmemDriver("127.0.0.1", server.port(), "bench");
    RunConfig c = Config("txn", 0);
    c.agents = 1;  // every move in one direction: the forgotten one shows on both keys
    // The first key's counter went down one move too few, the second's up
    // one too few.
    EXPECT_EQ(Rules(bench::Run(*driver, c)), (std::vector<std::string>{"counter-high", "counter-low"}));
  }
}

// A 4xx answer says nothing was written: an error, but no update in
// doubt, and the counters stay exact.
TEST(AtomicWorkloads, RefusedUpdatesAreErrorsButNotInDoubt) {
  FakeCasmem server(FakeCasmem::Fault::kRefuseSome);
  auto driver = MakeCasmemDriver("127.0.0.1", server.port(), "bench");
  RunConfig c = Config("patch", 0);
  c.ops = 60;  // errors pause their agent 10 ms: keep the run short
  const RunResult r = bench::Run(*driver, c);
  EXPECT_FALSE(r.errors.empty());
  EXPECT_EQ(r.in_doubt, 0u);
  EXPECT_TRUE(r.violations.empty()) << r.violations[0].detail;
  ASSERT_EQ(r.final_counters.size(), 1u);
  EXPECT_EQ(static_cast<uint64_t>(r.final_counters[0]), r.updates);
}

}  // namespace
}  // namespace casmem::bench
