// The casmem CLI against a casmemd that needs a token or speaks HTTPS,
// and `casmem watch` (live changes, resuming across a server restart).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/tools/cli_test_util.h"
#include "tests/tools/run_cli.h"

namespace casmem::testing {
namespace {

std::string Url(const Casmemd& s, const char* scheme = "http") {
  return std::string(scheme) + "://127.0.0.1:" + std::to_string(s.port());
}

// A write through the tests' own client (not the CLI under test).
void Put(int port, const std::string& key, const std::string& value) {
  auto c = HttpClient::Connect(port);
  ASSERT_NE(c, nullptr);
  HttpReply r = c->Request("POST", "/workspaces/default/memory",
                           "{\"key\":\"" + key + "\",\"value\":" + value + "}");
  ASSERT_EQ(r.status, 200) << r.body;
}

long long Revision(int port) {
  auto c = HttpClient::Connect(port);
  if (!c) return -1;
  return std::stoll("0" + c->Request("GET", "/workspaces/default/memory?limit=1").Header("casmem-revision"));
}

TEST(CliAccess, TokenFromFlagOrEnvironment) {
  const std::string dir = NewTestDir("token");
  CliRun made = RunProgram({CASMEMD_PATH, "token", "create", "--data-dir", dir + "/data", "--name",
                            "ops", "--workspace", "*", "--role", "admin"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string secret = Lines(made.out).at(0);
  ASSERT_FALSE(secret.empty());
  Casmemd server(dir + "/data");
  ASSERT_GT(server.port(), 0) << server.Stderr();
  const std::string url = Url(server);

  CliRun none = RunCli({"--url", url, "put", "k", "1"});
  EXPECT_EQ(none.exit_code, 4);
  EXPECT_NE(none.err.find("401"), std::string::npos) << none.err;
  EXPECT_EQ(none.err.find(secret), std::string::npos);
  EXPECT_EQ(RunCli({"--url", url, "--token", "wrong", "get", "k"}).exit_code, 4);

  CliRun flag = RunCli({"--url", url, "--token", secret, "put", "k", "1"});
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  CliRun env = RunCli({"get", "k"}, "", {{"CASMEM_URL", url}, {"CASMEM_TOKEN", secret}});
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_EQ(env.out, "1\n");
  RemoveTestDir(dir);
}

TEST(CliAccess, HttpsWithCacertVerifiesTheServer) {
  const std::string dir = NewTestDir("tls");
  const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  CliRun openssl = RunProgram({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                               "/CN=casmem-cli-test", "-addext", "subjectAltName=IP:127.0.0.1",
                               "-keyout", key, "-out", cert});
  ASSERT_EQ(openssl.exit_code, 0) << openssl.err;
  Casmemd server(dir + "/data", {"--tls-cert", cert, "--tls-key", key});
  ASSERT_GT(server.port(), 0) << server.Stderr();
  const std::string url = Url(server, "https");

  CliRun put = RunCli({"--url", url, "--cacert", cert, "put", "k", "{\"tls\":true}"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(RunCli({"--url", url, "--cacert", cert, "get", "k"}).out, "{\"tls\":true}\n");
  CliRun ls = RunCli({"--url", url, "--cacert", cert, "ls", "--keys"});
  EXPECT_EQ(ls.out, "k\n") << ls.err;

  // Not trusted (the system's CAs), or trusted but for another name: 4.
  CliRun untrusted = RunCli({"--url", url, "get", "k"});
  EXPECT_EQ(untrusted.exit_code, 4);
  EXPECT_NE(untrusted.err.find("TLS handshake"), std::string::npos) << untrusted.err;
  CliRun wrong_name = RunCli({"--url", "https://localhost:" + std::to_string(server.port()),
                              "--cacert", cert, "get", "k"});
  EXPECT_EQ(wrong_name.exit_code, 4) << wrong_name.err;
  // --insecure skips the check. Plain HTTP to an HTTPS port: casmemd's 400
  // says so, a usage error.
  EXPECT_EQ(RunCli({"--url", url, "--insecure", "get", "k"}).exit_code, 0);
  CliRun plain = RunCli({"--url", Url(server), "get", "k"});
  EXPECT_EQ(plain.exit_code, 3);
  EXPECT_NE(plain.err.find("https://"), std::string::npos) << plain.err;
  EXPECT_EQ(RunCli({"--url", url, "--cacert", dir + "/missing.pem", "get", "k"}).exit_code, 3);
  RemoveTestDir(dir);
}

TEST(CliWatch, PrintsChangesAsJsonLines) {
  const std::string dir = NewTestDir("watch");
  Casmemd server(dir + "/data");
  ASSERT_GT(server.port(), 0);
  const long long since = Revision(server.port());
  CliRun watch;
  std::thread t([&] {
    watch = RunCli({"--url", Url(server), "watch", "task:", "--since", std::to_string(since), "--count", "3"});
  });
  Put(server.port(), "task:1", "{\"n\":1.10}");
  Put(server.port(), "other", "1");  // not under the prefix
  {
    auto c = HttpClient::Connect(server.port());
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->Request("DELETE", "/workspaces/default/memory/task:1").status, 200);
    // One transaction, two changes (only the last carries an id).
    EXPECT_EQ(c->Request("POST", "/workspaces/default/txn",
                         R"({"ops":[{"op":"set","key":"task:2","value":2},{"op":"set","key":"task:3","value":3}]})")
                  .status,
              200);
  }
  t.join();
  ASSERT_EQ(watch.exit_code, 0) << watch.err;
  const std::vector<std::string> lines = Lines(watch.out);
  ASSERT_EQ(lines.size(), 3u) << watch.out;
  EXPECT_EQ(lines[0].rfind(R"({"event":"put","key":"task:1","value":{"n":1.10},"version":1,)", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind(R"({"event":"delete","key":"task:1","version":1,)", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind(R"({"event":"put","key":"task:2",)", 0), 0u) << lines[2];
  RemoveTestDir(dir);
}

// The watch outlives its server: casmemd stops and starts again on the same
// port with the same data; the watch reconnects and resumes after the last
// change it printed, so every change arrives once.
TEST(CliWatch, ResumesAcrossAServerRestart) {
  const std::string dir = NewTestDir("watch-restart");
  auto server = std::make_unique<Casmemd>(dir + "/data");
  ASSERT_GT(server->port(), 0);
  const int port = server->port();
  const long long since = Revision(port);
  const std::string url = Url(*server);
  CliRun watch;
  std::thread t([&] {
    watch = RunCli({"--url", url, "watch", "--since", std::to_string(since), "--count", "4"},
                   "", {}, 120);
  });
  Put(port, "k1", "1");
  Put(port, "k2", "2");
  ASSERT_EQ(server->Terminate(), 0);
  server = std::make_unique<Casmemd>(dir + "/data", std::vector<std::string>{"--listen", "127.0.0.1:" + std::to_string(port)});
  ASSERT_EQ(server->port(), port) << server->Stderr();
  Put(port, "k3", "3");
  Put(port, "k4", "4");
  t.join();
  ASSERT_EQ(watch.exit_code, 0) << watch.err;
  const std::vector<std::string> lines = Lines(watch.out);
  ASSERT_EQ(lines.size(), 4u) << watch.out;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(lines[i].rfind("{\"event\":\"put\",\"key\":\"k" + std::to_string(i + 1) + "\"", 0), 0u) << lines[i];
  }
  RemoveTestDir(dir);
}

}  // namespace
}  // namespace casmem::testing
