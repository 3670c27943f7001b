// Access control end to end (issue 11) on a real casmemd: tokens made
// offline with `casmemd token` and online through /admin/tokens, used,
// revoked at once on an open connection, surviving SIGKILL and a
// snapshot; no secret anywhere in the data directory; protected mode; the
// rate limit.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/net/server_fixture.h"
#include "tests/support/dir_bytes.h"
#include "tests/support/sse_client.h"

namespace casmem::testing {
namespace {

struct Command {
  int status = -1;
  std::string out, err;
};

// Runs `casmemd ARGS...` to completion.
Command RunCasmemd(const std::vector<std::string>& args) {
  Command c;
  const std::string base = ::testing::TempDir() + "casmemd-cmd-" + std::to_string(::getpid());
  const pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open((base + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open((base + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<std::string> argv_s = {CASMEMD_PATH};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  c.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto slurp = [](const std::string& path) {
    std::ifstream f(path);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  c.out = slurp(base + ".out");
  c.err = slurp(base + ".err");
  std::filesystem::remove(base + ".out");
  std::filesystem::remove(base + ".err");
  return c;
}

// `casmemd token create` on `dir`: the secret (its one line of stdout).
std::string CreateOffline(const std::string& dir, const std::string& name, const std::string& ws,
                          const std::string& role) {
  Command c = RunCasmemd({"token", "create", "--data-dir", dir, "--name", name, "--workspace", ws, "--role", role});
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(std::count(c.out.begin(), c.out.end(), '\n'), 1) << c.out;
  return c.out.substr(0, c.out.find('\n'));
}

std::string Bearer(const std::string& secret) { return "Authorization: Bearer " + secret + "\r\n"; }

std::string SecretOf(const std::string& body) {
  const size_t at = body.find("\"secret\":\"");
  if (at == std::string::npos) return "";
  return body.substr(at + 10, body.find('"', at + 10) - at - 10);
}

TEST_F(ServerTest, TokensOfflineAndOnlineSurviveSigkillAndSnapshotAndRevokeAtOnce) {
  const std::string root = CreateOffline(dir, "root", "*", "admin");
  ASSERT_EQ(root.rfind("cm_", 0), 0u);
  Start();
  {
    auto c = Client();
    EXPECT_EQ(c->Request("GET", "/memory/k").status, 401);
    EXPECT_EQ(c->Request("GET", "/healthz").status, 200);
    EXPECT_EQ(c->Request("GET", "/memory/k", "", Bearer(root)).status, 404);
  }
  // While casmemd serves the directory, the offline command refuses.
  Command busy = RunCasmemd({"token", "list", "--data-dir", dir});
  EXPECT_EQ(busy.status, 1);
  EXPECT_NE(busy.err.find("/admin/tokens"), std::string::npos) << busy.err;

  std::string agent;
  {
    auto c = Client();
    HttpReply r = c->Request("POST", "/admin/tokens", R"({"name":"agent","workspace":"team","role":"write"})",
                             Bearer(root) + "Content-Type: application/json\r\n");
    ASSERT_EQ(r.status, 201) << r.body;
    agent = SecretOf(r.body);
    ASSERT_FALSE(agent.empty());
    EXPECT_EQ(c->Request("POST", "/workspaces/team/memory", R"({"key":"k","value":1})", Bearer(agent)).status, 200);
    EXPECT_EQ(c->Request("POST", "/workspaces/other/memory", R"({"key":"k","value":1})", Bearer(agent)).status, 403);
  }
  server->Kill();
  Start();
  auto agent_conn = Client();
  EXPECT_EQ(agent_conn->Request("GET", "/workspaces/team/memory/k", "", Bearer(agent)).status, 200);
  {
    auto c = Client();
    EXPECT_EQ(c->Request("DELETE", "/admin/tokens/agent", "", Bearer(root)).status, 200);
  }
  // The agent's open keep-alive connection is refused from its next request.
  EXPECT_EQ(agent_conn->Request("GET", "/workspaces/team/memory/k", "", Bearer(agent)).status, 401);
  server->Kill();
  Start();
  {
    auto c = Client();
    EXPECT_EQ(c->Request("GET", "/workspaces/team/memory/k", "", Bearer(agent)).status, 401);
    EXPECT_EQ(c->Request("GET", "/workspaces/team/memory/k", "", Bearer(root)).status, 200);
  }
  EXPECT_EQ(server->Terminate(), 0);  // a clean stop writes a snapshot
  Start();
  {
    auto c = Client();
    EXPECT_EQ(c->Request("GET", "/workspaces/team/memory/k", "", Bearer(agent)).status, 401);
    EXPECT_EQ(c->Request("GET", "/workspaces/team/memory/k", "", Bearer(root)).status, 200);
    HttpReply list = c->Request("GET", "/admin/tokens", "", Bearer(root));
    EXPECT_EQ(list.status, 200);
    EXPECT_NE(list.body.find("\"root\""), std::string::npos);
    EXPECT_EQ(list.body.find("\"agent\""), std::string::npos);
  }
  EXPECT_EQ(server->Terminate(), 0);
  server.reset();

  Command list = RunCasmemd({"token", "list", "--data-dir", dir, "--json"});
  EXPECT_EQ(list.status, 0) << list.err;
  EXPECT_NE(list.out.find("\"name\":\"root\""), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find("agent"), std::string::npos);
  // Only hashes are kept, and no log line names a secret.
  const std::string bytes = DirBytes(dir);
  EXPECT_EQ(bytes.find(root.substr(3)), std::string::npos);
  EXPECT_EQ(bytes.find(agent.substr(3)), std::string::npos);
  std::ifstream err(dir + ".stderr");
  const std::string log(std::istreambuf_iterator<char>(err), {});
  EXPECT_EQ(log.find(root.substr(3)), std::string::npos);
  EXPECT_EQ(log.find(agent.substr(3)), std::string::npos);

  Command revoke = RunCasmemd({"token", "revoke", "root", "--data-dir", dir});
  EXPECT_EQ(revoke.status, 0) << revoke.err;
  Command again = RunCasmemd({"token", "revoke", "root", "--data-dir", dir});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("no token named 'root'"), std::string::npos) << again.err;
  // No token left: loopback serves everyone again.
  Start();
  EXPECT_EQ(Client()->Request("GET", "/memory/k").status, 404);
}

TEST_F(ServerTest, TokenCommandRefusesBadArguments) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"token"},
           {"token", "make"},
           {"token", "create", "--data-dir", dir, "--name", "a", "--workspace", "w"},
           {"token", "create", "--data-dir", dir, "--name", "a", "--workspace", "w", "--role", "admin"},
           {"token", "create", "--data-dir", dir, "--name", "a b", "--workspace", "w", "--role", "read"},
           {"token", "create", "--name", "a", "--workspace", "w", "--role", "read"},
           {"token", "list", "--data-dir", dir, "--bogus", "1"},
           {"token", "revoke", "--data-dir", dir}}) {
    Command c = RunCasmemd(args);
    EXPECT_EQ(c.status, 2) << c.err;
    EXPECT_TRUE(c.out.empty() || args.size() == 1) << c.out;  // never a secret on a refusal
  }
  Command missing = RunCasmemd({"token", "list", "--data-dir", dir + "-absent"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("no data directory"), std::string::npos);
}

TEST_F(ServerTest, ProtectedModeRefusesANonLoopbackListenWithoutTokens) {
  server = std::make_unique<Casmemd>(dir, std::vector<std::string>{"--listen", "0.0.0.0:0"});
  EXPECT_EQ(server->port(), 0);
  EXPECT_EQ(server->Terminate(), 1);
  const std::string err = server->Stderr();
  EXPECT_NE(err.find("protected mode"), std::string::npos) << err;
  EXPECT_NE(err.find("casmemd token create"), std::string::npos) << err;
  EXPECT_NE(err.find("--insecure-no-auth"), std::string::npos) << err;

  server = std::make_unique<Casmemd>(dir, std::vector<std::string>{"--listen", "0.0.0.0:0", "--insecure-no-auth"});
  ASSERT_GT(server->port(), 0) << server->Stderr();
  EXPECT_EQ(Client()->Request("GET", "/memory/k").status, 404);
  EXPECT_EQ(server->Terminate(), 0);

  const std::string root = CreateOffline(dir, "root", "*", "admin");
  server = std::make_unique<Casmemd>(dir, std::vector<std::string>{"--listen", "0.0.0.0:0"});
  ASSERT_GT(server->port(), 0) << server->Stderr();
  auto c = Client();
  EXPECT_EQ(c->Request("GET", "/memory/k").status, 401);
  EXPECT_EQ(c->Request("GET", "/memory/k", "", Bearer(root)).status, 404);
}

// The names of the files in `dir` (snapshots, or log segments).
std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename();
    if (!name.ends_with(".tmp")) names.push_back(name);  // a spare segment, made and dropped at will
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST_F(ServerTest, TheTokenCommandLeavesSnapshotsAndSegmentsAsTheDaemonLeftThem) {
  // Found by review: `token list` closed the store with its own default
  // options, so its snapshot removed log segments --watch-history kept.
  Start({"--wal-segment-bytes", "64K", "--watch-history", "1G"});
  {
    auto c = Client();
    const std::string big(20'000, 'x');
    for (int i = 0; i < 20; ++i) {
      ASSERT_EQ(c->Request("POST", "/memory", R"({"key":"k)" + std::to_string(i) + R"(","value":")" + big + "\"}").status,
                200);
    }
  }
  server->Kill();
  server.reset();
  const auto snaps = FilesIn(dir + "/snap");
  const auto segments = FilesIn(dir + "/wal");
  ASSERT_GT(segments.size(), 3u);
  Command list = RunCasmemd({"token", "list", "--data-dir", dir});
  EXPECT_EQ(list.status, 0) << list.err;
  EXPECT_EQ(FilesIn(dir + "/snap"), snaps);
  EXPECT_EQ(FilesIn(dir + "/wal"), segments);
  const std::string root = CreateOffline(dir, "root", "*", "admin");
  EXPECT_EQ(FilesIn(dir + "/snap"), snaps);
  EXPECT_EQ(FilesIn(dir + "/wal").front(), segments.front());
  // The history is all there for a watcher resuming from the start.
  Start({"--wal-segment-bytes", "64K", "--watch-history", "1G"});
  HttpReply r = Client()->Request("GET", "/changes?since=0", "", Bearer(root));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"revision\":1,"), std::string::npos) << r.body.substr(0, 200);
}

TEST_F(ServerTest, AnUnauthenticatedBodyIsNeitherInvitedNorRead) {
  // Found by review: 100 Continue went out and the whole body was read
  // before the token was checked (a megabyte of memory per connection).
  const std::string root = CreateOffline(dir, "root", "*", "admin");
  Start();
  auto c = Client();
  ASSERT_TRUE(c->SendRaw("POST /memory HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                         "Content-Length: 1000000\r\n\r\n"));
  HttpReply r;
  ASSERT_TRUE(c->Read(&r));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("connection"), "close");
  // With a token the same request is invited.
  auto ok = Client();
  ASSERT_TRUE(ok->SendRaw("POST /memory HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n" + Bearer(root) +
                          "Content-Length: 22\r\n\r\n"));
  ASSERT_TRUE(ok->Read(&r));
  EXPECT_EQ(r.status, 100);
  ASSERT_TRUE(ok->SendRaw(R"({"key":"k","value":12})"));
  ASSERT_TRUE(ok->Read(&r));
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ServerTest, AWatchEndsWhenItsTokenIsRevoked) {
  const std::string root = CreateOffline(dir, "root", "*", "admin");
  const std::string reader = CreateOffline(dir, "reader", "team", "read");
  Start();
  auto other = SseClient::Open(server->port(), "/workspaces/team/watch", Bearer(root));
  ASSERT_TRUE(other);
  auto w = SseClient::Open(server->port(), "/workspaces/team/watch", Bearer(reader));
  ASSERT_TRUE(w);
  ASSERT_EQ(w->status(), 200);
  auto c = Client();
  ASSERT_EQ(c->Request("POST", "/workspaces/team/memory", R"({"key":"k","value":1})", Bearer(root)).status, 200);
  SseEvent ev;
  ASSERT_TRUE(w->Next(&ev));
  EXPECT_EQ(ev.event, "put");
  ASSERT_EQ(c->Request("DELETE", "/admin/tokens/reader", "", Bearer(root)).status, 200);
  // The stream ends (no heartbeat needed to notice), and no later change reaches it.
  ASSERT_EQ(c->Request("POST", "/workspaces/team/memory", R"({"key":"k","value":2})", Bearer(root)).status, 200);
  EXPECT_FALSE(w->Next(&ev, 10'000));
  EXPECT_TRUE(w->eof());
  // A watch of a token that still exists goes on.
  ASSERT_TRUE(other->Next(&ev));
  ASSERT_TRUE(other->Next(&ev));
  EXPECT_NE(ev.data.find("\"value\":2"), std::string::npos);
}

TEST_F(ServerTest, RateLimitAnswers429) {
  const std::string root = CreateOffline(dir, "root", "*", "admin");
  Start({"--rate-limit", "2"});
  auto c = Client();
  int ok = 0;
  HttpReply last;
  for (int i = 0; i < 20 && last.status != 429; ++i) {
    last = c->Request("GET", "/memory/k", "", Bearer(root));
    ok += last.status == 404;
  }
  ASSERT_EQ(last.status, 429) << last.body;
  EXPECT_GE(ok, 2);
  EXPECT_GE(std::stoi(last.Header("retry-after")), 1);
  EXPECT_NE(last.body.find("rate limit"), std::string::npos);
}

}  // namespace
}  // namespace casmem::testing
