// `casmem dump`, `casmem restore` and `casmem dump --log` (the built
// binary): dump -> restore -> dump gives the same lines but revisions,
// versions stay valid for agents' guards, restore validates everything
// before writing, and dump changes nothing in the directory it reads.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

#include "engine/names.h"
#include "tests/support/http_client.h"
#include "tests/tools/offline_fixture.h"
#include "tests/tools/run_cli.h"

namespace casmem::testing {
namespace {

void Put(Store& s, std::string_view ws, std::string_view key, std::string_view value,
         int64_t ttl_ms = 0, std::string_view writer = {}) {
  PutRequest req;
  req.workspace = ws;
  req.key = key;
  req.value = value;
  req.ttl_ms = ttl_ms;
  req.writer = writer;
  ASSERT_EQ(s.Put(req).outcome, Outcome::kOk) << key;
}

// A store with what a dump must carry: several workspaces, versions above
// 1, a TTL, writers, tombstones, numbers whose digits matter, escapes in
// keys, and a token.
void BuildVaried(const std::string& dir) {
  StoreOptions o;
  o.data_dir = dir;
  o.wal_segment_bytes = 64 * 1024;  // small files: quick to read
  o.sweep_interval = std::chrono::milliseconds(0);
  o.snapshot_on_close = false;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(o, &s).ok());
  Put(*s, "alpha", "plan", R"({"steps":[1,2,3]})");
  Put(*s, "alpha", "plan", R"({"steps":[1,2,3,4]})", 0, "agent-a");
  Put(*s, "alpha", "plan", R"({"n":1.50,"big":123456789012345678901234567890,"e":1e5})", 0,
      "agent-b");
  Put(*s, "alpha", "lease", R"("held")", 3600 * 1000 * 24, "agent-a");
  Put(*s, "alpha", "gone", "1");
  Put(*s, "alpha", "gone", "2");
  ASSERT_TRUE(s->WaitVisible(s->Delete("alpha", "gone", std::nullopt).visible_lsn).ok());
  Put(*s, "beta", "quote\"back\\slash\ttab/\xc3\xa9", R"("\u0001 é \"x\"")");
  Put(*s, "beta", "a", "null");
  Put(*s, kTokensWorkspace, "ci", R"({"hash":"abc","role":"writer"})");
  ASSERT_TRUE(s->WaitVisible(s->revision()).ok());
  ASSERT_TRUE(s->Close().ok());
}

std::string WithoutRevisions(const std::string& dump) {
  return std::regex_replace(dump, std::regex(",\"revision\":[0-9]+"), "");
}

TEST(OfflineDump, DumpRestoreDumpIsIdenticalButRevisions) {
  const std::string dir = FreshDir("dump-src"), dst = FreshDir("dump-dst");
  BuildVaried(dir);
  const auto before = TreeBytes(dir);
  const CliRun d1 = RunCli({"dump", "--data-dir", dir, "--tombstones", "--include-tokens"});
  ASSERT_EQ(d1.exit_code, 0) << d1.err;
  EXPECT_EQ(TreeBytes(dir), before) << "dump changed the directory";
  // Workspace then key order; the digits of numbers kept; the tombstone.
  const size_t a = d1.out.find("\"workspace\":\"alpha\",\"key\":\"gone\"");
  const size_t b = d1.out.find("\"workspace\":\"alpha\",\"key\":\"lease\"");
  const size_t c = d1.out.find("\"workspace\":\"beta\",\"key\":\"a\"");
  ASSERT_NE(a, std::string::npos) << d1.out;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_NE(d1.out.find(R"("key":"plan","value":{"n":1.50,"big":123456789012345678901234567890,"e":1e5},"version":3,)"),
            std::string::npos)
      << d1.out;
  EXPECT_NE(d1.out.find("\"writer\":\"agent-b\""), std::string::npos);
  EXPECT_NE(d1.out.find("\"key\":\"gone\",\"version\":2,"), std::string::npos) << d1.out;
  EXPECT_NE(d1.out.find("\"tombstone\":true"), std::string::npos);
  EXPECT_NE(d1.out.find("\"expires_at\":\""), std::string::npos);
  EXPECT_NE(d1.out.find(R"("key":"quote\"back\\slash\ttab/é")"), std::string::npos) << d1.out;
  EXPECT_NE(d1.out.find("\"workspace\":\"casmem:tokens\""), std::string::npos);

  const CliRun r = RunCli({"restore", "--data-dir", dst}, d1.out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;  // no progress noise on a script's stderr
  EXPECT_NE(r.out.find("restored 5 keys and 1 tombstones in 3 workspaces"), std::string::npos)
      << r.out;
  const CliRun d2 = RunCli({"dump", "--data-dir", dst, "--tombstones", "--include-tokens"});
  ASSERT_EQ(d2.exit_code, 0) << d2.err;
  EXPECT_EQ(WithoutRevisions(d2.out), WithoutRevisions(d1.out));

  // Without the flags: no tokens, no tombstones.
  const CliRun plain = RunCli({"dump", "--data-dir", dst});
  EXPECT_EQ(plain.out.find("casmem:tokens"), std::string::npos) << plain.out;
  EXPECT_EQ(plain.out.find("\"tombstone\""), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("\"key\":\"plan\""), std::string::npos);
  // --workspace: that workspace only (the tokens workspace is never one).
  const CliRun beta = RunCli({"dump", "--data-dir", dst, "--workspace", "beta"});
  ASSERT_EQ(beta.exit_code, 0) << beta.err;
  EXPECT_EQ(beta.out.find("\"workspace\":\"alpha\""), std::string::npos) << beta.out;
  EXPECT_NE(beta.out.find("\"workspace\":\"beta\",\"key\":\"a\""), std::string::npos) << beta.out;
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(dst);
}

TEST(OfflineDump, RestoredVersionsStillMatchAgentsGuards) {
  const std::string dir = FreshDir("guard-src"), dst = FreshDir("guard-dst");
  BuildVaried(dir);
  const CliRun d = RunCli({"dump", "--data-dir", dir, "--tombstones"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  ASSERT_EQ(RunCli({"restore", "--data-dir", dst, "-"}, d.out).exit_code, 0);
  Casmemd server(dst);
  ASSERT_NE(server.port(), 0) << server.Stderr();
  auto c = HttpClient::Connect(server.port());
  ASSERT_NE(c, nullptr);
  // An agent read alpha/plan at version 3 before the move: its guard holds.
  HttpReply w = c->Request("POST", "/workspaces/alpha/memory",
                           R"({"key":"plan","value":{"v":4},"if_match_version":3})");
  EXPECT_EQ(w.status, 200) << w.body;
  EXPECT_NE(w.body.find("\"version\":4"), std::string::npos) << w.body;
  // A stale guard still conflicts.
  w = c->Request("POST", "/workspaces/alpha/memory",
                 R"({"key":"lease","value":1,"if_match_version":2})");
  EXPECT_EQ(w.status, 409) << w.body;
  EXPECT_NE(w.body.find("\"current_version\":1"), std::string::npos) << w.body;
  const HttpReply g = c->Request("GET", "/workspaces/alpha/memory/lease");
  EXPECT_EQ(g.status, 200);
  EXPECT_NE(g.body.find("agent-a"), std::string::npos) << g.body;
  EXPECT_NE(g.body.find("expires_at"), std::string::npos) << g.body;
  EXPECT_EQ(server.Terminate(), 0);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(dst);
}

TEST(OfflineDump, RestoreValidatesEveryLineFirstAndWritesNothingOnError) {
  const std::string dst = FreshDir("bad-restore");
  const std::string good =
      R"({"workspace":"ws","key":"a","value":1,"version":2,"updated_at":"2026-11-28T10:15:30.123Z"})";
  for (const auto& [third, why] : std::vector<std::pair<std::string, std::string>>{
           {"{not json", ""},
           {R"({"workspace":"bad ws","key":"b","value":1,"version":1})", "workspace"},
           {R"({"workspace":"ws","key":"b","value":1,"version":0})", "version"},
           {R"({"workspace":"ws","key":"b","value":1,"version":9007199254740992})", "version"},
           {R"({"workspace":"ws","key":"b","value":1,"version":"3"})", "version"},
           {R"({"workspace":"ws","key":"b","version":3})", "value"},
           {R"({"workspace":"ws","key":"b","value":1,"version":3,"updated_at":"yesterday"})",
            "updated_at"},
           // Found by fuzz_dump_line: a second "value" was appended to the
           // first, and `{"a":1}[2]` restored as the key's value.
           {R"({"workspace":"ws","key":"b","value":{"a":1},"version":3,"value":[2]})",
            "\"value\" given twice"},
           {R"({"workspace":"ws","key":"b","value":1,"version":3,"key":"c"})",
            "\"key\" given twice"},
           // The epoch itself is Store::Load's "not given": it restored a
           // TTL of 1970 as no TTL.
           {R"({"workspace":"ws","key":"b","value":1,"version":3,"expires_at":"1970-01-01T00:00:00Z"})",
            "expires_at"},
           // Not a date (the old parser moved it to March 2nd).
           {R"({"workspace":"ws","key":"b","value":1,"version":3,"updated_at":"2026-02-30T00:00:00Z"})",
            "updated_at"},
           {good, "already given on line 1"}}) {
    const std::string input = good + "\n\n" + third + "\n";
    const CliRun r = RunCli({"restore", "--data-dir", dst}, input);
    EXPECT_EQ(r.exit_code, 3) << third << ": " << r.err;
    EXPECT_NE(r.err.find("line 3: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dst)) << third;
  }
  // A non-empty directory is refused.
  std::filesystem::create_directories(dst);
  WriteAll(dst + "/something", "x");
  const CliRun r = RunCli({"restore", "--data-dir", dst}, good + "\n");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
  // An empty one is fine.
  std::filesystem::remove(dst + "/something");
  const CliRun ok = RunCli({"restore", "--data-dir", dst}, good + "\n");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  const CliRun d = RunCli({"dump", "--data-dir", dst});
  EXPECT_NE(d.out.find(R"("key":"a","value":1,"version":2,)"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find(R"("updated_at":"2026-11-28T10:15:30.123Z")"), std::string::npos) << d.out;
  std::filesystem::remove_all(dst);
}

// A --data-dir that is a symlink to an empty directory (another disk, a
// container volume): the restore fills the directory it points to, inside
// it, and the link stays. (It used to build a sibling directory and rename
// it over the link: the link was replaced and the other disk left empty;
// onto a mount point the rename failed with EBUSY.)
TEST(OfflineDump, RestoreIntoASymlinkFillsWhereItPoints) {
  const std::string base = FreshDir("restore-link");
  const std::string real = base + "/volume", link = base + "/data";
  std::filesystem::create_directories(real);
  std::filesystem::create_directory_symlink(real, link);
  const std::string line =
      R"({"workspace":"ws","key":"a","value":[1],"version":4,"updated_at":"2026-11-28T10:15:30.123Z"})";
  const CliRun r = RunCli({"restore", "--data-dir", link}, line + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  std::set<std::string> entries;
  for (const auto& e : std::filesystem::directory_iterator(real)) {
    entries.insert(e.path().filename().string());
  }
  EXPECT_EQ(entries, (std::set<std::string>{"LOCK", "snap", "wal"}));
  const CliRun d = RunCli({"dump", "--data-dir", real});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find(R"("key":"a","value":[1],"version":4,)"), std::string::npos) << d.out;
  std::filesystem::remove_all(base);
}

// What a restore killed midway leaves (its LOCK and DATA/.restore-PID)
// does not make the directory "not empty" for the next restore, which
// removes it; anything else still does.
TEST(OfflineDump, RestoreReplacesWhatAKilledRestoreLeft) {
  const std::string dir = FreshDir("restore-leftover");
  std::filesystem::create_directories(dir + "/.restore-99999/wal");
  WriteAll(dir + "/.restore-99999/wal/0000000000000001-0000000000000001.wal", "half");
  WriteAll(dir + "/LOCK", "");
  const std::string line = R"({"workspace":"ws","key":"a","value":1,"version":2})";
  CliRun r = RunCli({"restore", "--data-dir", dir}, line + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/.restore-99999"));
  EXPECT_NE(RunCli({"dump", "--data-dir", dir}).out.find(R"("key":"a","value":1,"version":2,)"),
            std::string::npos);
  const std::string other = FreshDir("restore-not-empty");
  std::filesystem::create_directories(other);
  WriteAll(other + "/LOCK", "");
  WriteAll(other + "/notes.txt", "mine");
  r = RunCli({"restore", "--data-dir", other}, line + "\n");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(std::filesystem::exists(other + "/notes.txt"));
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(other);
}

TEST(OfflineDump, DumpLeavesATornTailAloneAndRefusesDamage) {
  const std::string dir = FreshDir("dump-torn");
  BuildStore(dir, 300, false);
  const auto segs = Segments(dir);
  std::string bytes = ReadAll(segs.back());
  size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == 0) --end;
  bytes.resize(end - 100);
  WriteAll(segs.back(), bytes);
  const auto before = TreeBytes(dir);
  const CliRun d = RunCli({"dump", "--data-dir", dir});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("\"key\":\"k0000\""), std::string::npos);
  EXPECT_EQ(TreeBytes(dir), before) << "dump cut the torn tail";
  // Damage before the end: dump refuses and points to repair.
  std::string first = ReadAll(segs[0]);
  first[first.size() / 2] ^= 1;
  WriteAll(segs[0], first);
  const CliRun bad = RunCli({"dump", "--data-dir", dir});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(segs[0] + " offset "), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("casmem repair"), std::string::npos) << bad.err;
  std::filesystem::remove_all(dir);
}

TEST(OfflineDump, DumpLogPrintsRecordsOfTheDataDirOrGivenFiles) {
  const std::string dir = FreshDir("dump-log");
  BuildVaried(dir);
  const CliRun r = RunCli({"dump", "--log", "--data-dir", dir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lsn=1 put ws=alpha key=plan version=1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lsn=7 tombstone ws=alpha key=gone version=2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("end of data"), std::string::npos) << r.out;
  const auto segs = Segments(dir);
  const CliRun hex = RunCli({"dump", "--log", "--hex", segs[0]});
  EXPECT_EQ(hex.exit_code, 0) << hex.err;
  EXPECT_NE(hex.out.find("0000:"), std::string::npos) << hex.out;
  // A damaged file: exit 2 and where.
  std::string bytes = ReadAll(segs[0]);
  bytes[40] ^= 1;
  WriteAll(segs[0], bytes);
  const CliRun bad = RunCli({"dump", "--log", segs[0]});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("damage: "), std::string::npos) << bad.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace casmem::testing
