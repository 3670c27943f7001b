// casmem-bench --workload watch end to end: the real binary against a real
// casmemd's change feed, a short run. Every watcher must receive every
// acknowledged write exactly once in revision order, idle watchers must
// stay connected, and the exit status must say so; a target without a
// watch client is a usage error.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "tests/support/http_client.h"

namespace casmem::testing {
namespace {

struct BenchRun {
  int exit_code = -1;
  std::string out;
};

BenchRun RunBench(const std::string& args) {
  const std::string cmd = "timeout 120 " + std::string(CASMEM_BENCH_PATH) + " " + args + " 2>&1";
  BenchRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(WatchE2E, EveryWatcherSeesEveryWriteOnceAndIdleWatchersStay) {
  const std::string dir = ::testing::TempDir() + "casmem-watch-e2e-" + std::to_string(getpid());
  {
    Casmemd server(dir);
    ASSERT_GT(server.port(), 0) << server.Stderr();
    const BenchRun r = RunBench("--target casmem://127.0.0.1:" + std::to_string(server.port()) +
                                " --json --workload watch --agents 4 --keys 3 --watchers 3 --idle-watchers 5"
                                " --rate 300 --seconds 1 --warmup 0.2 --drain 60");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    rapidjson::Document d;
    d.Parse(r.out.c_str());
    ASSERT_TRUE(d.IsObject()) << r.out;
    EXPECT_TRUE(d["clean"].GetBool()) << r.out;
    EXPECT_TRUE(d["since_known"].GetBool()) << r.out;  // Casmem-Revision on the list
    const uint64_t writes = d["writes_total"].GetUint64();
    EXPECT_GT(writes, 50u) << r.out;
    EXPECT_EQ(d["deliveries"].GetUint64(), 3 * writes) << r.out;
    EXPECT_EQ(d["missing"].GetUint64(), 0u) << r.out;
    EXPECT_EQ(d["idle_disconnects"].GetInt(), 0) << r.out;
    EXPECT_EQ(d["open_failures"].GetInt(), 0) << r.out;
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir + ".stderr");
}

TEST(WatchE2E, IdleWatchersInAnotherWorkspaceStayAndSeeNothing) {
  const std::string dir = ::testing::TempDir() + "casmem-watch-e2e-ws-" + std::to_string(getpid());
  {
    Casmemd server(dir);
    ASSERT_GT(server.port(), 0) << server.Stderr();
    const BenchRun r = RunBench("--target casmem://127.0.0.1:" + std::to_string(server.port()) +
                                " --json --workload watch --agents 2 --watchers 1 --idle-watchers 3"
                                " --idle-workspace other --rate 200 --seconds 0.5 --warmup 0 --drain 60");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    rapidjson::Document d;
    d.Parse(r.out.c_str());
    ASSERT_TRUE(d.IsObject()) << r.out;
    EXPECT_TRUE(d["clean"].GetBool()) << r.out;
    EXPECT_EQ(d["deliveries"].GetUint64(), d["writes_total"].GetUint64()) << r.out;
    EXPECT_EQ(d["idle_disconnects"].GetInt(), 0) << r.out;
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir + ".stderr");
}

TEST(WatchE2E, TargetWithoutAWatchClientIsAUsageError) {
  const BenchRun r = RunBench("--target redis://127.0.0.1:1 --workload watch --watchers 1");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("casmem://HOST:PORT or etcd://HOST:PORT"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace casmem::testing
