// casmem-bench with tokens against a real casmemd (spec section 9): the
// token made offline by `casmemd token create` and given through
// CASMEM_TOKEN lets a run through; a wrong token ends the run at once with
// "401 unauthorized" and exit 1, a read token writing with "403
// forbidden"; the secret is never printed. Skipped while casmemd has no
// `token` command.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "tests/support/http_client.h"

namespace casmem::testing {
namespace {

struct Out {
  int exit_code = -1;
  std::string text;
};

Out Shell(const std::string& cmd) {
  Out o;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return o;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) o.text.append(buf, n);
  const int status = pclose(p);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

// The secret `casmemd token create` prints, or nullopt.
std::optional<std::string> CreateToken(const std::string& dir, const std::string& name, const std::string& ws,
                                       const std::string& role) {
  Out o = Shell(std::string(CASMEMD_PATH) + " token create --data-dir '" + dir + "' --name " + name +
                " --workspace '" + ws + "' --role " + role);
  if (o.exit_code != 0) return std::nullopt;
  // Standard output's one line comes first; standard error (merged here)
  // says what was created after it.
  const std::string secret = o.text.substr(0, o.text.find('\n'));
  if (secret.rfind("cm_", 0) != 0) return std::nullopt;
  return secret;
}

TEST(BenchAuthE2E, TokensThroughCasmemTokenAgainstCasmemd) {
  const std::string dir = ::testing::TempDir() + "casmem-bench-auth-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const auto admin = CreateToken(dir, "bench-admin", "*", "admin");
  if (!admin) {
    std::filesystem::remove_all(dir);
    GTEST_SKIP() << "this casmemd has no `token create` yet";
  }
  const auto reader = CreateToken(dir, "bench-reader", "bench", "read");
  ASSERT_TRUE(reader);
  {
    Casmemd server(dir);
    ASSERT_GT(server.port(), 0) << server.Stderr();
    auto bench = [&](const std::string& token, const std::string& args) {
      return Shell("CASMEM_TOKEN='" + token + "' timeout 60 " + std::string(CASMEM_BENCH_PATH) +
                   " --target casmem://127.0.0.1:" + std::to_string(server.port()) + " --json " + args);
    };
    Out ok = bench(*admin, "--workload cas --agents 4 --keys 1 --seconds 0.5 --warmup 0");
    EXPECT_EQ(ok.exit_code, 0) << ok.text;
    EXPECT_NE(ok.text.find("\"lost_updates\":0,"), std::string::npos) << ok.text;
    EXPECT_EQ(ok.text.find(*admin), std::string::npos) << "the secret was printed";

    Out wrong = bench("not-a-token", "--workload cas --agents 4 --seconds 30 --warmup 0");
    EXPECT_EQ(wrong.exit_code, 1) << wrong.text;
    EXPECT_NE(wrong.text.find("\"refused\":\"unauthorized\""), std::string::npos) << wrong.text;
    EXPECT_NE(wrong.text.find("401 unauthorized"), std::string::npos) << wrong.text;

    Out weak = bench(*reader, "--workload write --agents 2 --seconds 30 --warmup 0");
    EXPECT_EQ(weak.exit_code, 1) << weak.text;
    EXPECT_NE(weak.text.find("\"refused\":\"forbidden\""), std::string::npos) << weak.text;
    EXPECT_EQ(weak.text.find(*reader), std::string::npos) << "the secret was printed";
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace casmem::testing
