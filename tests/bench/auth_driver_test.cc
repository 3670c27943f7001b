// casmem-bench and access control (spec section 9), against an in-test
// server that records every request (recording_server.h): the token goes
// out as Authorization: Bearer on every casmem request (the runner's
// workloads, the watch workload's writers, watchers and list, the
// binary's requests with CASMEM_TOKEN), and none without a token; 401 /
// 403 / 429 are counted as "unauthorized" / "forbidden" / "rate limited";
// a run refused from its first request ends at once without a verdict
// (the binary: a message, exit 1, the secret never printed); a 429's
// Retry-After is waited before the agent tries again.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>

#include "bench/contention/peers.h"
#include "bench/contention/runner.h"
#include "tests/bench/recording_server.h"

namespace casmem::bench {
namespace {

using testing::CasmemOk;
using testing::Recorded;
using testing::RecordingServer;
using testing::Reply;

std::string Target(const RecordingServer& s) { return "casmem://127.0.0.1:" + std::to_string(s.port()); }

RunResult RunWorkload(const RecordingServer& s, const std::string& workload, const std::string& token,
                      uint64_t ops, double seconds = 30) {
  std::string error;
  ClientOptions client;
  client.token = token;
  auto driver = MakeDriver(Target(s), "bench", &error, client);
  EXPECT_TRUE(driver) << error;
  if (!driver) return {};
  RunConfig cfg;
  cfg.workload = workload;
  cfg.agents = 2;
  cfg.keys = 1;
  cfg.ops = ops;
  cfg.seconds = seconds;
  cfg.warmup_seconds = 0;
  cfg.key_prefix = "auth-test";
  return Run(*driver, cfg);
}

TEST(BenchAuth, EveryRequestOfEveryWorkloadCarriesTheToken) {
  RecordingServer server([](const Recorded& r, size_t) { return CasmemOk(r); });
  for (const char* w : {"read", "write", "lww"}) {
    const RunResult r = RunWorkload(server, w, "tok-123", 10);
    EXPECT_GE(r.commits, 10u) << w;
  }
  const auto reqs = server.requests();
  ASSERT_GE(reqs.size(), 30u);
  for (const Recorded& r : reqs) {
    EXPECT_TRUE(r.has_authorization) << r.method << " " << r.target;
    EXPECT_EQ(r.authorization, "Bearer tok-123") << r.method << " " << r.target;
  }
}

TEST(BenchAuth, NoTokenNoAuthorizationField) {
  RecordingServer server([](const Recorded& r, size_t) { return CasmemOk(r); });
  const RunResult r = RunWorkload(server, "read", "", 5);
  EXPECT_GE(r.commits, 5u);
  for (const Recorded& q : server.requests()) EXPECT_FALSE(q.has_authorization) << q.target;
}

TEST(BenchAuth, WatchWorkloadRequestsCarryTheToken) {
  RecordingServer server([](const Recorded& r, size_t) {
    if (r.target.find("/watch?") != std::string::npos) {
      Reply sse{200, ": open\n\n", "text/event-stream"};
      sse.close = true;
      return sse;
    }
    if (r.method == "GET" && r.target.find("/memory?") != std::string::npos) {
      Reply list{200, R"({"entries":[]})"};
      list.headers.emplace_back("Casmem-Revision", "7");
      return list;
    }
    return CasmemOk(r);
  });
  std::string error;
  ClientOptions client;
  client.token = "watch-tok";
  auto target = MakeWatchTarget(Target(server), "bench", &error, client);
  ASSERT_TRUE(target) << error;
  boost::asio::io_context io;
  bool opened = false, ended = false, put_ok = false;
  std::optional<uint64_t> rev;
  WatchEvents ev;
  ev.on_open = [&] { opened = true; };
  ev.on_end = [&](const std::string&, bool) { ended = true; };
  auto stream = target->Watch(io, "p/", std::nullopt, ev);
  target->CurrentRevision(io, "p/", [&](std::optional<uint64_t> r, std::string) { rev = r; });
  std::unique_ptr<WatchWriter> writer;
  target->OpenWriter(io, [&](std::unique_ptr<WatchWriter> w, std::string) {
    writer = std::move(w);
    if (!writer) return;
    writer->Put("p/k", R"({"n":1})", [&](PutResult r) { put_ok = r.ok; });
  });
  io.run();
  EXPECT_TRUE(opened);
  EXPECT_TRUE(ended);
  EXPECT_EQ(rev, 7u);
  EXPECT_TRUE(put_ok);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const Recorded& r : reqs) EXPECT_EQ(r.authorization, "Bearer watch-tok") << r.target;
}

TEST(BenchAuth, WatchRefusalsAreNamed) {
  RecordingServer server([](const Recorded& r, size_t) {
    if (r.target.find("/watch?") != std::string::npos) return Reply{403, R"({"error":"forbidden"})"};
    return Reply{429, R"({"error":"rate limited"})", "application/json", {{"Retry-After", "2"}}};
  });
  std::string error;
  auto target = MakeWatchTarget(Target(server), "bench", &error);
  ASSERT_TRUE(target) << error;
  boost::asio::io_context io;
  std::string why;
  PutResult put;
  WatchEvents ev;
  ev.on_end = [&](const std::string& w, bool) { why = w; };
  auto stream = target->Watch(io, "p/", std::nullopt, ev);
  std::unique_ptr<WatchWriter> writer;
  target->OpenWriter(io, [&](std::unique_ptr<WatchWriter> w, std::string) {
    writer = std::move(w);
    if (writer) writer->Put("p/k", R"({"n":1})", [&](PutResult r) { put = r; });
  });
  io.run();
  EXPECT_EQ(why, "watch: forbidden");
  EXPECT_FALSE(put.ok);
  EXPECT_EQ(put.refusal, Refusal::kRateLimited);
  EXPECT_EQ(put.error, "rate limited");
  EXPECT_DOUBLE_EQ(put.retry_after_s, 2);
}

// A server that refuses everything: the run stops at the first refusal
// (it would otherwise go on for its 30 s), counts the class, and has no
// verdict.
void ExpectRefusedRun(int status, const std::string& name) {
  RecordingServer server([status](const Recorded&, size_t) { return Reply{status, R"({"error":"no"})"}; });
  for (const char* w : {"cas", "read", "write", "patch"}) {
    const RunResult r = RunWorkload(server, w, "wrong", 0, 30);
    EXPECT_EQ(r.refused, name) << w;
    EXPECT_GE(r.errors.count(name) ? r.errors.at(name) : 0, 1u) << w;
    EXPECT_LT(r.seconds, 20) << w << ": the run went on";
    EXPECT_TRUE(r.violations.empty()) << w;
    EXPECT_FALSE(r.history_checked) << w;
    EXPECT_FALSE(r.final_read_ok) << w;
  }
}

TEST(BenchAuth, UnauthorizedFromTheStartEndsTheRunWithoutAVerdict) { ExpectRefusedRun(401, "unauthorized"); }
TEST(BenchAuth, ForbiddenFromTheStartEndsTheRunWithoutAVerdict) { ExpectRefusedRun(403, "forbidden"); }

// Refusals after successes (a token revoked mid-run) are counted, and the
// run goes on: they are not "refused from the start".
TEST(BenchAuth, RefusalsAfterSuccessAreCountedNotFatal) {
  RecordingServer server([](const Recorded& r, size_t i) {
    if (i >= 6 && i % 2 == 0) return Reply{401, R"({"error":"unauthorized"})"};
    return CasmemOk(r);
  });
  const RunResult r = RunWorkload(server, "read", "tok", 20);
  EXPECT_EQ(r.refused, "");
  EXPECT_GE(r.commits, 20u);
  ASSERT_TRUE(r.errors.count("unauthorized"));
  EXPECT_GE(r.errors.at("unauthorized"), 1u);
}

// The first GET is answered 429 with Retry-After: 1; that agent's next
// request comes no sooner than a second later (waiting is the contract;
// no upper bound is asserted).
TEST(BenchAuth, RateLimitedIsCountedAndRetryAfterWaited) {
  RecordingServer server([](const Recorded& r, size_t) {
    static std::atomic<bool> limited{false};
    if (r.method == "GET" && r.target.find("/memory/") != std::string::npos && !limited.exchange(true)) {
      return Reply{429, R"({"error":"rate limited"})", "application/json", {{"Retry-After", "1"}}};
    }
    return CasmemOk(r);
  });
  std::string error;
  auto driver = MakeDriver(Target(server), "bench", &error);
  ASSERT_TRUE(driver) << error;
  RunConfig cfg;
  cfg.workload = "read";
  cfg.agents = 1;
  cfg.ops = 3;
  cfg.warmup_seconds = 0;
  cfg.key_prefix = "rl";
  const RunResult r = casmem::bench::Run(*driver, cfg);
  EXPECT_EQ(r.refused, "");
  ASSERT_TRUE(r.errors.count("rate limited")) << "errors: " << r.errors.size();
  EXPECT_EQ(r.errors.at("rate limited"), 1u);
  EXPECT_GE(r.commits, 3u);
  const auto reqs = server.requests();
  size_t limited = reqs.size();
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (reqs[i].method == "GET" && reqs[i].target.find("/memory/") != std::string::npos) {
      limited = i;
      break;
    }
  }
  ASSERT_LT(limited + 1, reqs.size());
  EXPECT_GE(reqs[limited + 1].at - reqs[limited].at, std::chrono::milliseconds(950));
}

// The binary: CASMEM_TOKEN is sent; a run refused throughout says so and
// exits 1; the secret appears nowhere in its output, JSON included.
TEST(BenchAuth, BinaryRefusedRunSaysSoAndNeverPrintsTheSecret) {
  RecordingServer server([](const Recorded&, size_t) { return Reply{401, R"({"error":"unauthorized"})"}; });
  const std::string cmd = "CASMEM_TOKEN=env-s3cret-token timeout 60 " + std::string(CASMEM_BENCH_PATH) +
                          " --target " + Target(server) + " --workload cas --seconds 30 --json 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 1) << out;
  EXPECT_NE(out.find("401 unauthorized"), std::string::npos) << out;
  EXPECT_NE(out.find("\"refused\":\"unauthorized\""), std::string::npos) << out;
  EXPECT_EQ(out.find("s3cret"), std::string::npos) << out;
  const auto reqs = server.requests();
  ASSERT_FALSE(reqs.empty());
  for (const Recorded& r : reqs) EXPECT_EQ(r.authorization, "Bearer env-s3cret-token") << r.target;
}

}  // namespace
}  // namespace casmem::bench
