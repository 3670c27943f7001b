// casmem-bench end to end: the real binary against a real casmemd, short
// runs; the history check must find nothing and every raced key must have
// exactly one creator; patch and txn runs (with and without dropped
// answers retried under their Idempotency-Key) must end with counters
// that hold every acknowledged update exactly once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include <rapidjson/document.h>

#include "tests/support/http_client.h"

namespace casmem::testing {
namespace {

struct BenchRun {
  int exit_code = -1;
  std::string json;
};

// `timeout 60` turns a hung run into exit status 124 instead of a hung test.
BenchRun RunBench(int port, const std::string& args) {
  const std::string cmd = "timeout 60 " + std::string(CASMEM_BENCH_PATH) + " --target casmem://127.0.0.1:" +
                          std::to_string(port) + " --json " + args + " 2>&1";
  BenchRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.json.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class ContentionE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Casmemd>(dir_);
    ASSERT_GT(server_->port(), 0) << server_->Stderr();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::remove(dir_ + ".stderr");
  }
  const std::string dir_ = ::testing::TempDir() + "casmem-bench-e2e-" + std::to_string(getpid());
  std::unique_ptr<Casmemd> server_;
};

TEST_F(ContentionE2E, CasOnOneKeyHasNoViolationAndNoLostUpdate) {
  BenchRun r = RunBench(server_->port(), "--workload cas --agents 16 --keys 1 --seconds 1.5 --warmup 0.2");
  ASSERT_EQ(r.exit_code, 0) << r.json;
  EXPECT_NE(r.json.find("\"history_checked\":true"), std::string::npos) << r.json;
  EXPECT_NE(r.json.find("\"violations\":[]"), std::string::npos) << r.json;
  EXPECT_NE(r.json.find("\"lost_updates\":0,"), std::string::npos) << r.json;
  EXPECT_EQ(r.json.find("\"commits\":0,"), std::string::npos) << "no commit at all: " << r.json;
}

TEST_F(ContentionE2E, CasWithReadRetriesAndBackoffOverManyKeys) {
  BenchRun r = RunBench(server_->port(),
                        "--workload cas --agents 8 --keys 20 --zipf 1.1 --retry-read --backoff exp "
                        "--backoff-max 5 --ops 300 --warmup 0");
  ASSERT_EQ(r.exit_code, 0) << r.json;
  EXPECT_NE(r.json.find("\"lost_updates\":0,"), std::string::npos) << r.json;
}

TEST_F(ContentionE2E, CreateRaceHasExactlyOneWinnerPerKey) {
  BenchRun r = RunBench(server_->port(), "--workload create --agents 16 --keys 40 --seconds 30 --warmup 0");
  ASSERT_EQ(r.exit_code, 0) << r.json;
  EXPECT_NE(r.json.find("\"create_keys\":40,\"create_bad_keys\":0"), std::string::npos) << r.json;
}

TEST_F(ContentionE2E, LwwLosesUpdatesUnderContentionButIsNotAViolation) {
  BenchRun r = RunBench(server_->port(), "--workload lww --agents 16 --keys 1 --seconds 1 --warmup 0");
  ASSERT_EQ(r.exit_code, 0) << r.json;
  EXPECT_NE(r.json.find("\"violations\":[]"), std::string::npos) << r.json;
  // Sixteen agents overwriting one key without a guard lose updates.
  EXPECT_EQ(r.json.find("\"lost_updates\":0,"), std::string::npos) << r.json;
}

// The server goes away mid-run: the run still ends on time, reports the
// errors, claims no violation it cannot know, and exits 1 (no verdict).
TEST_F(ContentionE2E, AServerThatDiesMidRunEndsTheRunWithoutAVerdict) {
  BenchRun r;
  std::thread bench([&] {
    r = RunBench(server_->port(), "--workload cas --agents 8 --keys 1 --seconds 2 --warmup 0");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  server_->Kill();
  bench.join();
  EXPECT_EQ(r.exit_code, 1) << r.json;
  EXPECT_NE(r.json.find("\"lost_updates\":null,"), std::string::npos) << r.json;
  EXPECT_NE(r.json.find("\"violations\":[]"), std::string::npos) << r.json;
  EXPECT_NE(r.json.find("final read: "), std::string::npos) << r.json;
}

// The run's JSON line (the last line of the output).
rapidjson::Document Parsed(const BenchRun& r) {
  rapidjson::Document d;
  const size_t start = r.json.rfind('{', r.json.rfind("\"system\""));
  d.Parse(start == std::string::npos ? "" : r.json.c_str() + start);
  return d;
}

// What every patch / txn run must show: a clean exit, the final values
// checked and right, nothing in doubt, and at least one update.
void ExpectExact(const BenchRun& r, const rapidjson::Document& d) {
  ASSERT_EQ(r.exit_code, 0) << r.json;
  ASSERT_TRUE(d.IsObject()) << r.json;
  EXPECT_TRUE(d["history_checked"].GetBool()) << r.json;
  EXPECT_EQ(d["violations"].Size(), 0u) << r.json;
  EXPECT_EQ(d["in_doubt"].GetUint64(), 0u) << r.json;
  EXPECT_GT(d["updates"].GetUint64(), 0u) << r.json;
  EXPECT_STREQ(d["errors"].GetString(), "none") << r.json;
}

TEST_F(ContentionE2E, PatchOnOneKeyHoldsEveryUpdateAndReportsUpdatesPerFsync) {
  BenchRun r = RunBench(server_->port(), "--workload patch --agents 16 --keys 1 --seconds 1 --warmup 0.2");
  auto d = Parsed(r);
  ExpectExact(r, d);
  if (HasFailure()) return;
  EXPECT_EQ(d["final_counters"][0].GetInt64(), static_cast<int64_t>(d["updates"].GetUint64())) << r.json;
  // Every update is durable before its answer: at least one sync happened.
  ASSERT_TRUE(d["fsyncs"].IsUint64()) << r.json;
  EXPECT_GT(d["fsyncs"].GetUint64(), 0u) << r.json;
  EXPECT_TRUE(d["updates_per_fsync"].IsNumber()) << r.json;
}

TEST_F(ContentionE2E, GrowingPatchOverSeveralKeysKeepsEveryAgentsUpdates) {
  BenchRun r = RunBench(server_->port(), "--workload patch --grow --agents 8 --keys 3 --seconds 1 --warmup 0");
  auto d = Parsed(r);
  ExpectExact(r, d);
}

TEST_F(ContentionE2E, PatchWithDroppedAnswersRetriedUnderIdempotencyKeysIsExact) {
  BenchRun r = RunBench(server_->port(),
                        "--workload patch --agents 8 --keys 1 --drop-responses 0.2 --seconds 1.5 --warmup 0");
  auto d = Parsed(r);
  ExpectExact(r, d);
  if (HasFailure()) return;
  EXPECT_GT(d["dropped"].GetUint64(), 0u) << r.json;
  EXPECT_EQ(d["final_counters"][0].GetInt64(), static_cast<int64_t>(d["updates"].GetUint64())) << r.json;
}

TEST_F(ContentionE2E, TxnMovesConserveThePairWithAndWithoutDroppedAnswers) {
  for (const char* extra : {"", " --drop-responses 0.2"}) {
    BenchRun r = RunBench(server_->port(), std::string("--workload txn --agents 8 --seconds 1 --warmup 0") + extra);
    auto d = Parsed(r);
    ExpectExact(r, d);
    if (HasFailure()) return;
    ASSERT_EQ(d["final_counters"].Size(), 2u) << r.json;
    EXPECT_EQ(d["final_counters"][0].GetInt64() + d["final_counters"][1].GetInt64(), 0) << r.json;
  }
}

TEST_F(ContentionE2E, BadArgumentsAndUnreachableTargetsFail) {
  EXPECT_EQ(RunBench(server_->port(), "--workload nope").exit_code, 1);
  EXPECT_EQ(RunBench(server_->port(), "--agents 2000").exit_code, 1);
  EXPECT_EQ(RunBench(server_->port(), "--workload cas --drop-responses 0.1").exit_code, 1);
  EXPECT_EQ(RunBench(server_->port(), "--workload patch --drop-responses 2").exit_code, 1);
  BenchRun r = RunBench(1, "--workload cas --seconds 0.2");  // nothing listens on port 1
  EXPECT_EQ(r.exit_code, 1) << r.json;
}

// The handshake workload on a plain target (TCP connects/s, the reference
// for TLS handshakes/s): every connection completes its GET /healthz.
TEST_F(ContentionE2E, HandshakeWorkloadOnAPlainTarget) {
  BenchRun r = RunBench(server_->port(), "--workload handshake --agents 2 --ops 200 --warmup 0");
  ASSERT_EQ(r.exit_code, 0) << r.json;
  rapidjson::Document d;
  d.Parse(r.json.c_str());
  ASSERT_TRUE(d.IsObject()) << r.json;
  EXPECT_EQ(std::string(d["workload"].GetString()), "handshake");
  EXPECT_GE(d["commits"].GetUint64(), 200u) << r.json;
  EXPECT_EQ(std::string(d["errors"].GetString()), "none") << r.json;
  EXPECT_TRUE(d["refused"].IsNull()) << r.json;
}

}  // namespace
}  // namespace casmem::testing
