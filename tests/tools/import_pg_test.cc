// `casmem import-pg` against a real PostgreSQL started by the test (the
// original handler's workspace_memory table: TTLs, an expired row, a big
// version, unicode keys, nested JSONB, an invalid workspace id), into a
// data directory and into a running casmemd, checked through HTTP:
// versions and expires_at kept, a guarded write with the old version
// wins, the counts, an idempotent re-run, a newer version kept.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "tests/support/http_client.h"
#include "tests/tools/import_pg_server.h"
#include "tests/tools/run_cli.h"

namespace casmem::testing {
namespace {

// The original handler's table with expires_at, and its rows.
constexpr char kTable[] = R"sql(
CREATE TABLE workspace_memory (
  workspace_id text, key text, value jsonb, version bigint NOT NULL DEFAULT 1,
  expires_at timestamptz NULL, updated_at timestamptz, PRIMARY KEY (workspace_id, key));
INSERT INTO workspace_memory VALUES
  ('team', 'queue', '{"nested": {"a": {"b": [true, null, "x"]}}, "items": [1, 2.50, 12345678901234567890]}',
   7, NULL, '2026-01-02 03:04:05.678+00'),
  ('team', 'ttl', '"soon"', 3, now() + interval '1 hour', now()),
  ('team', 'expired', '"old"', 9, now() - interval '1 hour', now() - interval '2 hours'),
  ('team', 'big', '1', 9007199254740991, NULL, NULL),
  ('team', 'ключ/🚀', '{"ü": "✓"}', 2, 'infinity', now()),
  ('bad workspace!', 'k', '1', 1, NULL, NULL),
  ('123e4567-e89b-12d3-a456-426614174000', 'research-backlog:pmm', '[]', 4, NULL, now()),
  ('other', 'newer', '"from pg"', 2, NULL, now());
)sql";

// The report expected on standard output.
std::string Expect(std::vector<std::pair<std::string, long long>> m) {
  std::string s;
  for (const auto& [k, v] : m) s += k + ": " + std::to_string(v) + "\n";
  return s;
}

class ImportPgTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pg_ = new PgServer(); }
  static void TearDownTestSuite() {
    delete pg_;  // stops PostgreSQL, also after failures
    pg_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(pg_->ok()) << pg_->error();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    db_ = std::string("t_") + info->name();
    for (char& c : db_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ASSERT_EQ(pg_->Sql("DROP DATABASE IF EXISTS " + db_), "");  // --gtest_repeat
    ASSERT_EQ(pg_->Sql("CREATE DATABASE " + db_ + " ENCODING 'UTF8' TEMPLATE template0"), "");
    base_ = ::testing::TempDir() + "casmem-import-" + std::to_string(::getpid()) + "-" + db_;
    std::filesystem::remove_all(base_);
    std::filesystem::create_directories(base_);
  }
  void TearDown() override {
    if (!base_.empty()) std::filesystem::remove_all(base_);
  }

  CliRun Import(std::vector<std::string> args, const std::string& token = "") {
    std::vector<std::string> all = {"import-pg", pg_->Conninfo(db_)};
    all.insert(all.end(), args.begin(), args.end());
    std::map<std::string, std::string> env;
    if (!token.empty()) env["CASMEM_TOKEN"] = token;
    return RunCli(all, "", env, 120);
  }
  // A token of workspace "*" made offline in `data` by `casmemd token
  // create`: its secret ("" and a failure when it could not be made).
  static std::string MakeToken(const std::string& data, const char* name, const char* role) {
    CliRun t = RunProgram({CASMEMD_PATH, "token", "create", "--data-dir", data, "--name", name,
                           "--workspace", "*", "--role", role});
    EXPECT_EQ(t.exit_code, 0) << t.err;
    return t.exit_code == 0 ? t.out.substr(0, t.out.find('\n')) : "";
  }
  // GET of a target: status and parsed body.
  static std::pair<int, std::string> Get(int port, const std::string& target, const std::string& token = "") {
    auto c = HttpClient::Connect(port);
    if (!c) return {-1, ""};
    HttpReply r = c->Request("GET", target, "", token.empty() ? "" : "Authorization: Bearer " + token + "\r\n");
    return {r.status, r.body};
  }
  static HttpReply Post(int port, const std::string& ws, const std::string& body, const std::string& token = "") {
    auto c = HttpClient::Connect(port);
    if (!c) return HttpReply{};
    return c->Request("POST", "/workspaces/" + ws + "/memory", body,
                      "Content-Type: application/json\r\n" +
                          (token.empty() ? std::string() : "Authorization: Bearer " + token + "\r\n"));
  }
  static rapidjson::Document Json(const std::string& body) {
    rapidjson::Document d;
    d.Parse(body.c_str());
    return d;
  }
  // The checks every import of kTable passes, read through casmemd.
  void CheckImported(int port, const std::string& token = "") {
    auto [st, body] = Get(port, "/workspaces/team/memory/queue", token);
    ASSERT_EQ(st, 200) << body;
    rapidjson::Document e = Json(body);
    EXPECT_EQ(e["version"].GetUint64(), 7u);
    EXPECT_STREQ(e["updated_at"].GetString(), "2026-01-02T03:04:05.678Z");
    EXPECT_FALSE(e.HasMember("expires_at"));
    // JSONB's text, compacted; numbers keep their digits.
    EXPECT_NE(body.find(R"("value":{"items":[1,2.50,12345678901234567890],"nested":{"a":{"b":[true,null,"x"]}}})"),
              std::string::npos)
        << body;

    std::tie(st, body) = Get(port, "/workspaces/team/memory/ttl", token);
    ASSERT_EQ(st, 200) << body;
    e = Json(body);
    EXPECT_EQ(e["version"].GetUint64(), 3u);
    ASSERT_TRUE(e.HasMember("expires_at")) << body;
    EXPECT_GT(std::string(e["expires_at"].GetString()), std::string(e["updated_at"].GetString()));

    EXPECT_EQ(Get(port, "/workspaces/team/memory/expired", token).first, 404);
    std::tie(st, body) = Get(port, "/workspaces/team/memory/big", token);
    EXPECT_EQ(Json(body)["version"].GetUint64(), 9007199254740991u) << body;
    std::tie(st, body) = Get(port, "/workspaces/team/memory/%D0%BA%D0%BB%D1%8E%D1%87%2F%F0%9F%9A%80", token);
    ASSERT_EQ(st, 200) << body;
    EXPECT_EQ(Json(body)["version"].GetUint64(), 2u);
    EXPECT_FALSE(Json(body).HasMember("expires_at")) << "infinity is no TTL: " << body;
    EXPECT_NE(body.find(R"("value":{"ü":"✓"})"), std::string::npos) << body;
    std::tie(st, body) = Get(port, "/workspaces/123e4567-e89b-12d3-a456-426614174000/memory/research-backlog:pmm", token);
    EXPECT_EQ(Json(body)["version"].GetUint64(), 4u) << body;
  }

  static PgServer* pg_;
  std::string db_, base_;
};

PgServer* ImportPgTest::pg_ = nullptr;

TEST_F(ImportPgTest, IntoADataDirectoryKeepingVersionsAndTtls) {
  ASSERT_EQ(pg_->Sql(kTable, db_), "");
  const std::string data = base_ + "/data";
  CliRun r = Import({"--data-dir", data});
  // One invalid workspace id: exit 2, reported on stderr, the rest in.
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, Expect({{"read", 8}, {"imported", 6}, {"kept_newer", 0}, {"expired", 1}, {"invalid", 1}}))
      << r.err;
  EXPECT_NE(r.err.find("skipped bad workspace!/k: workspace_id"), std::string::npos) << r.err;
  {
    Casmemd d(data);
    ASSERT_NE(d.port(), 0) << d.Stderr();
    CheckImported(d.port());
    // An agent that read version 7 from PostgreSQL still wins its guard.
    HttpReply w = Post(d.port(), "team", R"({"key":"queue","value":1,"if_match_version":7})");
    EXPECT_EQ(w.status, 200) << w.body;
    EXPECT_NE(w.body.find(R"("version":8)"), std::string::npos) << w.body;
    // The expired row's version stays taken: a re-create continues after it.
    w = Post(d.port(), "team", R"({"key":"expired","value":1,"if_match_version":0})");
    EXPECT_NE(w.body.find(R"("version":10)"), std::string::npos) << w.body;
    // While casmemd serves the directory, the offline import refuses it.
    CliRun busy = Import({"--data-dir", data});
    EXPECT_EQ(busy.exit_code, 4) << busy.out << busy.err;
    EXPECT_NE(busy.err.find("casmemd is serving it"), std::string::npos) << busy.err;
    EXPECT_EQ(d.Terminate(), 0);
  }
  // Again, with the bad id mapped: everything else is kept (queue and
  // expired are newer here now, the rest equal).
  r = Import({"--data-dir", data, "--workspace-map", "bad workspace!=mapped"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, Expect({{"read", 8}, {"imported", 1}, {"kept_newer", 6}, {"expired", 1}, {"invalid", 0}}))
      << r.err;
  Casmemd d(data);
  ASSERT_NE(d.port(), 0) << d.Stderr();
  auto [st, body] = Get(d.port(), "/workspaces/team/memory/queue");
  EXPECT_EQ(Json(body)["version"].GetUint64(), 8u) << body;  // not moved back
  std::tie(st, body) = Get(d.port(), "/workspaces/mapped/memory/k");
  EXPECT_EQ(st, 200) << body;
}

TEST_F(ImportPgTest, IntoARunningCasmemdWithAnAdminToken) {
  ASSERT_EQ(pg_->Sql(kTable, db_), "");
  const std::string data = base_ + "/data";
  const std::string admin = MakeToken(data, "root", "admin"), writer = MakeToken(data, "dev", "write");
  Casmemd d(data);
  ASSERT_NE(d.port(), 0) << d.Stderr();
  const std::string url = "http://127.0.0.1:" + std::to_string(d.port());
  // A newer version already in casmem (2 in PostgreSQL, 3 here).
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Post(d.port(), "other", R"({"key":"newer","value":"casmem"})", admin).status, 200);

  CliRun r = Import({"--url", url}, writer);
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("403"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("admin token"), std::string::npos) << r.err;
  EXPECT_EQ(Get(d.port(), "/workspaces/team/memory/queue", admin).first, 404);

  r = Import({"--url", url}, admin);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, Expect({{"read", 8}, {"imported", 5}, {"kept_newer", 1}, {"expired", 1}, {"invalid", 1}}))
      << r.err;
  CheckImported(d.port(), admin);
  auto [st, body] = Get(d.port(), "/workspaces/other/memory/newer", admin);
  EXPECT_EQ(Json(body)["version"].GetUint64(), 3u) << body;
  EXPECT_STREQ(Json(body)["value"].GetString(), "casmem");
  HttpReply w = Post(d.port(), "team", R"({"key":"ttl","value":1,"if_match_version":3})", admin);
  EXPECT_EQ(w.status, 200) << w.body;

  // Re-running changes nothing: every live row is kept.
  r = Import({"--url", url}, admin);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, Expect({{"read", 8}, {"imported", 0}, {"kept_newer", 6}, {"expired", 1}, {"invalid", 1}}))
      << r.err;
  std::tie(st, body) = Get(d.port(), "/workspaces/team/memory/ttl", admin);
  EXPECT_EQ(Json(body)["version"].GetUint64(), 4u) << body;
}

// Rows casmem cannot hold as they are: a version that is not a whole
// integer (from_chars read "3.9" as 3 and "7 apples" as 7), one past
// 2^53 - 1, a TTL past year 9999 (stored, it printed as year 10889). Both
// targets count them invalid and import the rest; through casmemd, one such
// row used to make POST /admin/import refuse its whole batch (exit 4).
TEST_F(ImportPgTest, RowsCasmemCannotHoldAreInvalidForBothTargets) {
  ASSERT_EQ(pg_->Sql(R"sql(
CREATE TABLE workspace_memory (workspace_id text, key text, value jsonb, version text,
                               expires_at timestamptz, updated_at timestamptz);
INSERT INTO workspace_memory VALUES
  ('w', 'fraction', '1', '3.9', NULL, NULL), ('w', 'apples', '1', '7 apples', NULL, NULL),
  ('w', 'huge', '1', '9007199254740992', NULL, NULL),
  ('w', 'far', '1', '2', '50000-01-01 00:00:00+00', NULL),
  ('w', 'fine', '{"n": 1}', '5', '9999-12-31 23:00:00+00', now());
)sql", db_), "");
  const std::string data = base_ + "/data";
  CliRun r = Import({"--data-dir", data});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  const std::string want =
      Expect({{"read", 5}, {"imported", 1}, {"kept_newer", 0}, {"expired", 0}, {"invalid", 4}});
  EXPECT_EQ(r.out, want) << r.err;
  for (const char* why : {"version 3.9 is not an integer", "version 7 apples is not an integer",
                          "version 9007199254740992 is not", "after 9999-12-31"}) {
    EXPECT_NE(r.err.find(why), std::string::npos) << why << ": " << r.err;
  }
  const std::string admin = MakeToken(data, "root", "admin");
  ASSERT_FALSE(admin.empty());
  Casmemd d(data);
  ASSERT_NE(d.port(), 0) << d.Stderr();
  auto [st, body] = Get(d.port(), "/workspaces/w/memory/fine", admin);
  ASSERT_EQ(st, 200) << body;
  EXPECT_STREQ(Json(body)["expires_at"].GetString(), "9999-12-31T23:00:00.000Z");
  // The same rows into the running server: the same counts, no 400.
  ASSERT_EQ(pg_->Sql("UPDATE workspace_memory SET version = '6' WHERE key = 'fine'", db_), "");
  r = Import({"--url", "http://127.0.0.1:" + std::to_string(d.port())}, admin);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, want) << r.err;
  std::tie(st, body) = Get(d.port(), "/workspaces/w/memory/fine", admin);
  EXPECT_EQ(Json(body)["version"].GetUint64(), 6u) << body;
}

// A casmemd with limits below import-pg's (--max-value-bytes 1000: its
// body limit is then 1000 + 64 KiB, under the tool's 512 KiB batches):
// a 413 is sent again in halves, and a row still refused alone is counted
// invalid with the server's reason. The import used to stop at the first
// 413 (exit 4, nothing imported).
TEST_F(ImportPgTest, BatchesOverTheServersLimitsAreSplitAndTooLargeRowsInvalid) {
  ASSERT_EQ(pg_->Sql(R"sql(
CREATE TABLE workspace_memory (workspace_id text, key text, value jsonb, version bigint);
INSERT INTO workspace_memory SELECT 'w', 'k' || g, to_jsonb(repeat('x', 600)), 1
  FROM generate_series(1, 300) g;
INSERT INTO workspace_memory VALUES ('w', 'large', to_jsonb(repeat('y', 2000)), 3);
)sql", db_), "");
  const std::string data = base_ + "/data";
  const std::string admin = MakeToken(data, "root", "admin");
  ASSERT_FALSE(admin.empty());
  Casmemd d(data, {"--max-value-bytes", "1000"});
  ASSERT_NE(d.port(), 0) << d.Stderr();
  const CliRun r = Import({"--url", "http://127.0.0.1:" + std::to_string(d.port())}, admin);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, Expect({{"read", 301}, {"imported", 300}, {"kept_newer", 0}, {"expired", 0}, {"invalid", 1}}))
      << r.err;
  EXPECT_NE(r.err.find("skipped w/large: casmemd refused it"), std::string::npos) << r.err;
  EXPECT_EQ(Get(d.port(), "/workspaces/w/memory/k300", admin).first, 200);
  EXPECT_EQ(Get(d.port(), "/workspaces/w/memory/large", admin).first, 404);
}

TEST_F(ImportPgTest, OlderTableWithoutExpiresAtAQuotedNameManyPagesAndDryRun) {
  ASSERT_EQ(pg_->Sql(R"sql(
CREATE TABLE "Old ""Memory""" (workspace_id text, key text, value jsonb,
  version bigint NOT NULL DEFAULT 1, updated_at timestamptz, PRIMARY KEY (workspace_id, key));
INSERT INTO "Old ""Memory""" SELECT 'bulk', 'k' || g, jsonb_build_object('n', g), g, now()
  FROM generate_series(1, 1000) g;
INSERT INTO "Old ""Memory""" VALUES ('bulk', '', '1', 1, now()), ('bulk', 'v0', '1', 0, now()),
  ('bulk', 'sql-null', NULL, 3, now());
-- Three values of 400 kB (together over the body limit): batches to a server split by bytes too.
INSERT INTO "Old ""Memory""" SELECT 'bulk', 'large' || g, to_jsonb(repeat('x', 400000)), 5, now()
  FROM generate_series(1, 3) g;
)sql",
                     db_),
            "");
  const std::string data = base_ + "/data";
  CliRun r = Import({"--data-dir", data, "--table", "Old \"Memory\"", "--dry-run"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, Expect({{"read", 1006}, {"valid", 1004}, {"expired", 0}, {"invalid", 2}})) << r.err;
  EXPECT_FALSE(std::filesystem::exists(data)) << "a dry run writes nothing";

  r = Import({"--data-dir", data, "--table", "public.Old \"Memory\""});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, Expect({{"read", 1006}, {"imported", 1004}, {"kept_newer", 0}, {"expired", 0}, {"invalid", 2}}))
      << r.err;
  EXPECT_NE(r.err.find("version 0 is not an integer from 1 to"), std::string::npos) << r.err;
  Casmemd d(data);
  ASSERT_NE(d.port(), 0) << d.Stderr();
  auto [st, body] = Get(d.port(), "/workspaces/bulk/memory/k777");
  ASSERT_EQ(st, 200) << body;
  EXPECT_EQ(Json(body)["version"].GetUint64(), 777u);
  EXPECT_NE(body.find(R"("value":{"n":777})"), std::string::npos) << body;
  std::tie(st, body) = Get(d.port(), "/workspaces/bulk/memory/sql-null");
  EXPECT_NE(body.find(R"("value":null,"version":3)"), std::string::npos) << body;
  std::tie(st, body) = Get(d.port(), "/workspaces/bulk/memory?prefix=k&limit=10000");
  EXPECT_EQ(Json(body).Size(), 1000u);

  // The same rows into a running casmemd: batches of 1,000 rows, and of
  // about 512 KiB.
  const std::string data2 = base_ + "/data2";
  Casmemd d2(data2);
  ASSERT_NE(d2.port(), 0) << d2.Stderr();
  r = Import({"--table", "Old \"Memory\"", "--url", "http://127.0.0.1:" + std::to_string(d2.port())});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, Expect({{"read", 1006}, {"imported", 1004}, {"kept_newer", 0}, {"expired", 0}, {"invalid", 2}}))
      << r.err;
  std::tie(st, body) = Get(d2.port(), "/workspaces/bulk/memory?limit=10000");
  EXPECT_EQ(Json(body).Size(), 1004u);
  std::tie(st, body) = Get(d2.port(), "/workspaces/bulk/memory/large3");
  ASSERT_EQ(st, 200);
  EXPECT_EQ(std::string(Json(body)["value"].GetString()), std::string(400000, 'x'));

  // No such table, or not the original's columns: a usage error.
  r = Import({"--data-dir", data, "--table", "workspace_memory"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("no table workspace_memory"), std::string::npos) << r.err;
  ASSERT_EQ(pg_->Sql("CREATE TABLE notes (workspace_id text, key text, body text)", db_), "");
  r = Import({"--data-dir", data, "--table", "notes"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("has no column"), std::string::npos) << r.err;
}

TEST(ImportPgUsage, ArgumentsAndAnUnreachableServer) {
  CliRun r = RunCli({"import-pg"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("connection string"), std::string::npos) << r.err;
  r = RunCli({"import-pg", "dbname=x", "--workspace-map", "a=bad name"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  r = RunCli({"import-pg", "dbname=x", "--bogus"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  r = RunCli({"import-pg", "host=/nonexistent-casmem-dir port=1 dbname=x connect_timeout=5"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("cannot connect to PostgreSQL"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace casmem::testing
