// The runner's client retry policies and its per-agent summary, against an
// in-memory Driver (no sockets): one key, a version counter, answers posted
// to the io_context. The store can refuse one connection's every write
// (an agent that always loses) or the first write of every operation (a
// 409 that carries the current value, as casmem's does).
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <memory>

#include "bench/contention/backoff.h"
#include "bench/contention/driver.h"
#include "bench/contention/runner.h"

namespace casmem::bench {
namespace {

namespace asio = boost::asio;

struct Store {
  uint64_t version = 0;
  std::string value;
  int reads = 0, writes = 0;
  int connections = 0;
  int always_refused = -1;       // this connection's guarded writes always get 409
  bool refuse_first_try = false;  // every guarded write after a commit (or the first) gets 409
};

class FakeConnection final : public Connection {
 public:
  FakeConnection(asio::io_context& io, Store& s, int id) : io_(io), s_(s), id_(id) {}
  void Read(const std::string&, ReadCallback cb) override {
    ++s_.reads;
    ReadResult r;
    r.ok = true;
    r.version = s_.version;
    r.value = s_.value;
    asio::post(io_, [cb, r] { cb(r); });
  }
  void Write(const std::string&, const std::string& value, std::optional<uint64_t> if_match,
             WriteCallback cb) override {
    ++s_.writes;
    WriteResult w;
    const bool refuse = if_match && (id_ == s_.always_refused || *if_match != s_.version ||
                                     (s_.refuse_first_try && first_try_));
    if (if_match) first_try_ = !refuse;
    if (refuse) {
      w.kind = WriteResult::kConflict;
      w.has_current = true;
      w.current_version = s_.version;
      w.current_value = s_.value;
    } else {
      w.kind = WriteResult::kCommitted;
      s_.value = value;
      w.version = ++s_.version;
    }
    asio::post(io_, [cb, w] { cb(w); });
  }

 private:
  asio::io_context& io_;
  Store& s_;
  const int id_;
  bool first_try_ = true;  // the next guarded write is its operation's first
};

class FakeDriver final : public Driver {
 public:
  explicit FakeDriver(Store& s) : s_(s) {}
  std::string name() const override { return "fake"; }
  void Connect(asio::io_context& io, std::function<void(std::unique_ptr<Connection>, std::string)> done) override {
    done(std::make_unique<FakeConnection>(io, s_, s_.connections++), "");
  }

 private:
  Store& s_;
};

RunConfig Cas(int agents, uint64_t ops) {
  RunConfig c;
  c.workload = "cas";
  c.agents = agents;
  c.ops = ops;
  c.warmup_seconds = 0;
  return c;
}

TEST(BackoffCeiling, DoublesFromBaseUpToTheCap) {
  EXPECT_DOUBLE_EQ(BackoffCeilingMs(0.5, 50, 1), 0.5);  // the first retry: base
  EXPECT_DOUBLE_EQ(BackoffCeilingMs(0.5, 50, 2), 1.0);
  EXPECT_DOUBLE_EQ(BackoffCeilingMs(0.5, 50, 4), 4.0);
  EXPECT_DOUBLE_EQ(BackoffCeilingMs(0.5, 50, 8), 50);   // 64 capped
  EXPECT_DOUBLE_EQ(BackoffCeilingMs(0.5, 50, 1 << 20), 50);
  EXPECT_DOUBLE_EQ(BackoffCeilingMs(0.5, 50, 0), 0.5);
}

// Every operation's first write is refused with the current value. Retrying
// at once uses that value (one read per operation); with backoff the value
// is stale after the sleep, so the retry re-reads (two reads per operation).
TEST(RetryPolicy, ImmediateRetryUsesThe409sValue) {
  Store s;
  s.refuse_first_try = true;
  FakeDriver d(s);
  const RunResult r = bench::Run(d, Cas(1, 50));
  ASSERT_EQ(r.commits, 50u);
  // One seed write, then per operation: one read, a refused write, a write.
  EXPECT_LE(s.reads, 50 + 2);  // + the final read (and at most one op cut short)
  EXPECT_TRUE(r.violations.empty());
}

TEST(RetryPolicy, BackoffRereadsBeforeEachRetry) {
  Store s;
  s.refuse_first_try = true;
  FakeDriver d(s);
  RunConfig c = Cas(1, 50);
  c.exp_backoff = true;
  c.backoff_base_ms = 0.01;
  c.backoff_max_ms = 0.05;
  const RunResult r = bench::Run(d, c);
  ASSERT_EQ(r.commits, 50u);
  EXPECT_GE(s.reads, 2 * 50);  // the operation's read and the re-read after its 409
  EXPECT_EQ(r.lost_updates, 0);
  EXPECT_TRUE(r.violations.empty());
}

TEST(RunnerSummary, CountsAgentsWithoutCommits) {
  Store s;
  s.always_refused = 1;  // the second agent never commits
  FakeDriver d(s);
  const RunResult r = bench::Run(d, Cas(4, 200));
  EXPECT_EQ(r.agents_zero, 1);
  EXPECT_EQ(r.agent_min, 0u);
  EXPECT_GT(r.agent_median, 0u);
  EXPECT_TRUE(r.violations.empty());
}

// --send-jitter pauses every request on the agent's timer: the run must
// still complete its operations, retry its 409s, and stop cleanly when its
// time is up while agents are paused.
TEST(SendJitter, OperationsCompleteAndTheRunStops) {
  Store s;
  s.refuse_first_try = true;
  FakeDriver d(s);
  RunConfig c = Cas(4, 100);
  c.send_jitter_us = 50;
  RunResult r = bench::Run(d, c);
  EXPECT_EQ(r.commits, 100u);
  EXPECT_TRUE(r.violations.empty());
  EXPECT_EQ(r.lost_updates, 0);
  c.ops = 0;
  c.seconds = 0.05;
  r = bench::Run(d, c);
  EXPECT_GT(r.commits, 0u);
  EXPECT_TRUE(r.violations.empty());
}

}  // namespace
}  // namespace casmem::bench
