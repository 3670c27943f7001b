// The casmem CLI's online commands (get, put, patch, del, ls, txn, update)
// through the built binary against a real casmemd: outputs, exit codes
// (404 -> 1, 409 -> 2 with the body on stdout, usage -> 3, server down or
// refusing -> 4, a failing update command -> 5), paging, concurrent
// updates. Watch, tokens and HTTPS: cli_online_access_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/tools/cli_test_util.h"
#include "tests/tools/run_cli.h"

namespace casmem::testing {
namespace {

TEST(CliOnlineHelp, EveryOnlineCommandIsListedAndHasHelp) {
  const CliRun all = RunCli({"--help"});
  for (const char* cmd : {"get", "put", "patch", "del", "ls", "watch", "txn", "update"}) {
    EXPECT_NE(all.out.find(std::string("\n  ") + cmd + " "), std::string::npos) << cmd;
    const CliRun r = RunCli({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_EQ(r.out.rfind(std::string("usage: casmem ") + cmd + " ", 0), 0u) << r.out;
  }
}

class CliOnline : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTestDir("online");
    server_ = std::make_unique<Casmemd>(dir_ + "/data");
    ASSERT_GT(server_->port(), 0) << server_->Stderr();
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override { RemoveTestDir(dir_); }

  CliRun Cli(std::vector<std::string> args, const std::string& in = "", int timeout = 60) {
    args.insert(args.begin(), {"--url", url_});
    return RunCli(args, in, {}, timeout);
  }

  std::string dir_, url_;
  std::unique_ptr<Casmemd> server_;
};

TEST_F(CliOnline, PutThenGetPrintsTheValueWithItsDigits) {
  CliRun put = Cli({"put", "notes", R"({"n": 1.10, "big": 12345678901234567890, "s": "é"})"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_NE(put.out.find(R"("version":1)"), std::string::npos) << put.out;
  EXPECT_EQ(put.err, "");
  CliRun get = Cli({"get", "notes"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "{\"n\":1.10,\"big\":12345678901234567890,\"s\":\"é\"}\n");
  CliRun entry = Cli({"get", "notes", "--entry"});
  EXPECT_EQ(entry.exit_code, 0);
  EXPECT_NE(entry.out.find(R"("key":"notes")"), std::string::npos) << entry.out;
  EXPECT_NE(entry.out.find(R"("version":1)"), std::string::npos) << entry.out;
}

TEST_F(CliOnline, KeysArePercentEncoded) {
  ASSERT_EQ(Cli({"put", "a/b c?d", "1"}).exit_code, 0);
  EXPECT_EQ(Cli({"get", "a/b c?d"}).out, "1\n");
  EXPECT_EQ(Cli({"get", "a"}).exit_code, 1);
}

TEST_F(CliOnline, ValueFromStdinAndFile) {
  CliRun put = Cli({"put", "k", "-"}, "[1, 2,\n 3]\n");
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(Cli({"get", "k"}).out, "[1,2,3]\n");
  const std::string file = dir_ + "/value.json";
  std::ofstream(file) << "{\"from\": \"file\"}";
  ASSERT_EQ(Cli({"put", "k", "--file", file}).exit_code, 0);
  EXPECT_EQ(Cli({"get", "k"}).out, "{\"from\":\"file\"}\n");
}

TEST_F(CliOnline, GetOfAbsentKeyExitsOneWithOneLine) {
  CliRun r = Cli({"get", "nothing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "casmem: key \"nothing\" not found\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(CliOnline, GuardMismatchExitsTwoWithTheConflictBodyOnStdout) {
  ASSERT_EQ(Cli({"put", "k", "\"v1\""}).exit_code, 0);
  CliRun r = Cli({"put", "k", "\"v2\"", "--if-version", "5"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find(R"("current_version":1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("current_value":"v1")"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // one line
  EXPECT_EQ(r.err.rfind("casmem: conflict", 0), 0u) << r.err;
  // The right version applies; 0 creates only.
  EXPECT_EQ(Cli({"put", "k", "\"v2\"", "--if-version", "1"}).exit_code, 0);
  EXPECT_EQ(Cli({"put", "k", "\"v3\"", "--if-version", "0"}).exit_code, 2);
  EXPECT_EQ(Cli({"put", "fresh", "1", "--if-version", "0"}).exit_code, 0);
  EXPECT_EQ(Cli({"get", "k"}).out, "\"v2\"\n");
}

TEST_F(CliOnline, BadValueOrFlagsAreUsageErrorsAndSendNothing) {
  CliRun r = Cli({"put", "k", "hello"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("not JSON"), std::string::npos) << r.err;
  EXPECT_EQ(Cli({"put", "k", "\"\\udc00\""}).exit_code, 3);  // lone surrogate, caught locally
  EXPECT_EQ(Cli({"put", "k", "1", "--bogus"}).exit_code, 3);
  EXPECT_EQ(Cli({"put", "k", "1", "--if-version", "x"}).exit_code, 3);
  EXPECT_EQ(Cli({"put", "k", "1", "--ttl", "1500ms"}).exit_code, 3);
  EXPECT_EQ(Cli({"put", "k"}).exit_code, 3);
  EXPECT_EQ(Cli({"patch", "k", "{}"}).exit_code, 3);  // a JSON Patch is an array
  EXPECT_EQ(Cli({"get"}).exit_code, 3);
  EXPECT_EQ(Cli({"ls", "--limit", "0"}).exit_code, 3);
  EXPECT_EQ(Cli({"update", "k"}).exit_code, 3);  // no command
  EXPECT_EQ(Cli({"get", "k"}).exit_code, 1) << "nothing may have been written";
}

TEST_F(CliOnline, TtlAndWriterReachTheEntry) {
  ASSERT_EQ(Cli({"--writer", "dev-lead", "put", "claim", "1", "--ttl", "10m"}).exit_code, 0);
  CliRun e = Cli({"get", "claim", "--entry"});
  EXPECT_NE(e.out.find("\"expires_at\""), std::string::npos) << e.out;
  EXPECT_NE(e.out.find(R"("writer":"dev-lead")"), std::string::npos) << e.out;
}

TEST_F(CliOnline, PatchJsonPatchAndMergePatch) {
  ASSERT_EQ(Cli({"put", "doc", R"({"a": 1, "list": [1]})"}).exit_code, 0);
  CliRun p = Cli({"patch", "doc", R"([{"op": "increment", "path": "/a", "value": 41}])"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find(R"("value":{"a":42,"list":[1]})"), std::string::npos) << p.out;
  CliRun m = Cli({"patch", "doc", "--merge", "-", "--if-version", "2"}, R"({"list": null, "b": true})");
  EXPECT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(Cli({"get", "doc"}).out, "{\"a\":42,\"b\":true}\n");
  // A failed test op: 409 with the body; a stale guard: 409.
  CliRun t = Cli({"patch", "doc", R"([{"op": "test", "path": "/a", "value": 0}])"});
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_NE(t.out.find("patch failed"), std::string::npos) << t.out;
  EXPECT_EQ(Cli({"patch", "doc", "--merge", "{}", "--if-version", "1"}).exit_code, 2);
}

TEST_F(CliOnline, DelWithAndWithoutGuard) {
  ASSERT_EQ(Cli({"put", "k", "1"}).exit_code, 0);
  CliRun stale = Cli({"del", "k", "--if-version", "7"});
  EXPECT_EQ(stale.exit_code, 2);
  EXPECT_NE(stale.out.find(R"("current_version":1)"), std::string::npos) << stale.out;
  CliRun d = Cli({"del", "k", "--if-version", "1"});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("deleted"), std::string::npos);
  EXPECT_EQ(Cli({"get", "k"}).exit_code, 1);
}

TEST_F(CliOnline, LsFollowsEveryPage) {
  for (const char* k : {"task:1", "task:2", "task:3", "task:4", "task:5", "zeta"}) {
    ASSERT_EQ(Cli({"put", k, "{\"k\": \"" + std::string(k) + "\"}"}).exit_code, 0);
  }
  CliRun json = Cli({"ls", "task:", "--limit", "2", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::vector<std::string> lines = Lines(json.out);
  ASSERT_EQ(lines.size(), 5u) << json.out;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(lines[i].rfind("{\"key\":\"task:" + std::to_string(i + 1) + "\"", 0), 0u) << lines[i];
  }
  CliRun keys = Cli({"ls", "--keys", "--limit", "1"});
  EXPECT_EQ(keys.out, "task:1\ntask:2\ntask:3\ntask:4\ntask:5\nzeta\n");
  CliRun table = Cli({"ls", "--limit", "4"});
  lines = Lines(table.out);
  ASSERT_EQ(lines.size(), 7u) << table.out;
  EXPECT_EQ(lines[0].rfind("KEY     VERSION  REVISION  UPDATED", 0), 0u) << lines[0];
  EXPECT_EQ(lines[6].rfind("zeta    1        ", 0), 0u) << lines[6];
  EXPECT_EQ(Cli({"ls", "nothing-here"}).out, "KEY  VERSION  REVISION  UPDATED  EXPIRES  WRITER\n");
}

TEST_F(CliOnline, TxnFromStdinAndFile) {
  CliRun ok = Cli({"txn"}, R"({"ops": [{"op": "set", "key": "a", "value": 1, "if_match_version": 0},
                                       {"op": "set", "key": "b", "value": 2}]})");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find(R"("results":[{"key":"a","version":1},{"key":"b","version":1}])"),
            std::string::npos) << ok.out;
  const std::string file = dir_ + "/txn.json";
  std::ofstream(file) << R"({"ops": [{"op": "check", "key": "a", "version": 9}, {"op": "delete", "key": "b"}]})";
  CliRun failed = Cli({"txn", file});
  EXPECT_EQ(failed.exit_code, 2);
  EXPECT_NE(failed.out.find(R"("op_index":0)"), std::string::npos) << failed.out;
  EXPECT_EQ(Cli({"get", "b"}).out, "2\n");
  EXPECT_EQ(Cli({"txn"}, "[1]").exit_code, 3);
}

TEST_F(CliOnline, UpdatePipesTheValueThroughTheCommand) {
  ASSERT_EQ(Cli({"put", "n", "41"}).exit_code, 0);
  CliRun u = Cli({"update", "n", "--", "sh", "-c", "read v; echo $((v+1))"});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  EXPECT_NE(u.out.find(R"("version":2)"), std::string::npos) << u.out;
  EXPECT_EQ(Cli({"get", "n"}).out, "42\n");
  // Absent: 1 unless --create, which starts from null at version 0.
  EXPECT_EQ(Cli({"update", "absent", "--", "cat"}).exit_code, 1);
  CliRun c = Cli({"update", "absent", "--create", "--", "sh", "-c", "read v; echo \"[$v]\""});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(Cli({"get", "absent"}).out, "[null]\n");
}

TEST_F(CliOnline, UpdateKeepsTheKeysTtl) {
  ASSERT_EQ(Cli({"put", "lease", "1", "--ttl", "1h"}).exit_code, 0);
  ASSERT_EQ(Cli({"update", "lease", "--", "sh", "-c", "read v; echo $((v+1))"}).exit_code, 0);
  EXPECT_NE(Cli({"get", "lease", "--entry"}).out.find("\"expires_at\""), std::string::npos);
}

TEST_F(CliOnline, UpdateWritesNothingWhenTheCommandFailsOrPrintsNoJson) {
  ASSERT_EQ(Cli({"put", "n", "1"}).exit_code, 0);
  CliRun fail = Cli({"update", "n", "--", "sh", "-c", "cat >/dev/null; echo 99; exit 7"});
  EXPECT_EQ(fail.exit_code, 5);
  EXPECT_NE(fail.err.find("exited with status 7"), std::string::npos) << fail.err;
  CliRun bad = Cli({"update", "n", "--", "echo", "not json"});
  EXPECT_EQ(bad.exit_code, 5);
  EXPECT_NE(bad.err.find("not JSON"), std::string::npos) << bad.err;
  CliRun missing = Cli({"update", "n", "--", "/nonexistent/program"});
  EXPECT_EQ(missing.exit_code, 5);
  CliRun e = Cli({"get", "n", "--entry"});
  EXPECT_NE(e.out.find(R"("value":1,"version":1)"), std::string::npos) << e.out;
}

// 8 processes each add 1 ten times to one counter with update: every
// conflict is retried from the 409's value, so the counter ends at 80.
TEST_F(CliOnline, ConcurrentUpdatesLoseNothing) {
  ASSERT_EQ(Cli({"put", "counter", "0"}).exit_code, 0);
  const std::string script =
      "for p in 1 2 3 4 5 6 7 8; do\n"
      "  ( for i in 1 2 3 4 5 6 7 8 9 10; do\n"
      "      \"$CLI\" --url \"$URL\" update counter --retries 1000 -- sh -c 'read v; echo $((v+1))' "
      ">/dev/null || echo \"update failed: $?\" >&2\n"
      "    done ) &\n"
      "done\n"
      "wait\n";
  CliRun r = RunProgram({"/bin/sh", "-c", script}, "", {{"CLI", CASMEM_CLI_PATH}, {"URL", url_}}, 600);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  CliRun e = Cli({"get", "counter", "--entry"});
  EXPECT_NE(e.out.find(R"("value":80,"version":81)"), std::string::npos) << e.out;
}

TEST_F(CliOnline, ServerDownExitsFour) {
  const std::string url = url_;
  ASSERT_EQ(server_->Terminate(), 0);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"get", "k"}, {"put", "k", "1"}, {"ls"}, {"watch", "--count", "1"}}) {
    CliRun r = Cli(args);
    EXPECT_EQ(r.exit_code, 4) << args[0];
    EXPECT_NE(r.err.find("cannot connect to 127.0.0.1:"), std::string::npos) << r.err;
  }
  EXPECT_EQ(RunCli({"--url", "ftp://x", "get", "k"}).exit_code, 3);  // a bad --url is usage
}

}  // namespace
}  // namespace casmem::testing
