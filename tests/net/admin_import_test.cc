// POST /admin/import (net/admin_import.cc) at the handler: versions, times
// and writers kept; the same or a newer version here kept; tombstones;
// every item validated before any applies; JSON Lines only; admin only;
// imported states survive a restart.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <rapidjson/document.h>

#include "engine/clock.h"
#include "engine/store.h"
#include "net/access_control.h"
#include "net/handler.h"
#include "net/metrics.h"
#include "tests/net/handler_fixture.h"

namespace casmem::net {
namespace {

constexpr const char* kNdjson = "application/x-ndjson";

class AdminImportTest : public HandlerTest {
 protected:
  HttpResponse Import(std::string_view body, std::string_view type = kNdjson) {
    HttpRequest req("POST", "/admin/import", body);
    req.content_type = type;
    return Call(req);
  }
  // The GET of ws/key parsed (status 200), or a null document.
  rapidjson::Document Entry(std::string_view ws, std::string_view key) {
    HttpResponse r = Call("GET", "/workspaces/" + std::string(ws) + "/memory/" + std::string(key));
    rapidjson::Document d;
    if (r.status == 200) d.Parse(r.body.c_str());
    return d;
  }
};

TEST_F(AdminImportTest, KeepsVersionsTimesAndWritersAndAGuardWithTheOldVersionWins) {
  HttpResponse r = Import(
      R"({"workspace":"team","key":"queue","value":{"a" : [1.10, 12345678901234567890]},"version":41,)"
      R"("updated_at":"2026-11-27T09:00:00.250Z","expires_at":"2026-11-27T12:00:00+01:00","writer":"pm"})"
      "\n\n"
      R"({"workspace":"team","key":"plain","value":"x","version":1,"revision":99})"
      "\r\n");
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  EXPECT_EQ(d["imported"].GetUint64(), 2u);
  EXPECT_EQ(d["kept_newer"].GetUint64(), 0u);
  ASSERT_EQ(d["results"].Size(), 2u);
  EXPECT_STREQ(d["results"][0]["status"].GetString(), "imported");

  rapidjson::Document e = Entry("team", "queue");
  ASSERT_TRUE(e.IsObject());
  EXPECT_EQ(e["version"].GetUint64(), 41u);
  EXPECT_STREQ(e["updated_at"].GetString(), "2026-11-27T09:00:00.250Z");
  EXPECT_STREQ(e["expires_at"].GetString(), "2026-11-27T11:00:00.000Z");  // +01:00 read as UTC
  EXPECT_STREQ(e["writer"].GetString(), "pm");
  HttpResponse raw = Call("GET", "/workspaces/team/memory/queue");
  EXPECT_NE(raw.body.find(R"("value":{"a":[1.10,12345678901234567890]})"), std::string::npos) << raw.body;
  EXPECT_EQ(Entry("team", "plain")["version"].GetUint64(), 1u);
  EXPECT_FALSE(Entry("team", "plain").HasMember("expires_at"));

  // An agent that read version 41 from the old system still wins its guard.
  HttpResponse w = Post(R"({"key":"queue","value":2,"if_match_version":41})", "team");
  EXPECT_EQ(w.status, 200) << w.body;
  EXPECT_EQ(Entry("team", "queue")["version"].GetUint64(), 42u);
}

TEST_F(AdminImportTest, SameOrNewerVersionHereIsKeptAndAReRunChangesNothing) {
  ASSERT_EQ(Post(R"({"key":"k","value":"mine"})", "w").status, 200);
  ASSERT_EQ(Post(R"({"key":"k","value":"mine2"})", "w").status, 200);  // version 2 here
  const std::string batch = R"({"workspace":"w","key":"k","value":"old","version":2})"
                            "\n"
                            R"({"workspace":"w","key":"new","value":"n","version":7})";
  HttpResponse r = Import(batch);
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  EXPECT_EQ(d["imported"].GetUint64(), 1u);
  EXPECT_EQ(d["kept_newer"].GetUint64(), 1u);
  EXPECT_STREQ(d["results"][0]["status"].GetString(), "kept_newer");
  EXPECT_EQ(d["results"][0]["current_version"].GetUint64(), 2u);
  EXPECT_STREQ(Entry("w", "k")["value"].GetString(), "mine2");

  r = Import(batch);  // again: everything kept
  d.Parse(r.body.c_str());
  EXPECT_EQ(d["imported"].GetUint64(), 0u);
  EXPECT_EQ(d["kept_newer"].GetUint64(), 2u);
  EXPECT_EQ(Entry("w", "new")["version"].GetUint64(), 7u);
}

TEST_F(AdminImportTest, TombstoneKeepsItsVersionSoARecreateContinuesFromIt) {
  // As `casmem dump --tombstones` prints one (revision and expired ignored).
  HttpResponse r = Import(R"({"workspace":"w","key":"gone","version":5,"revision":12,)"
                          R"("updated_at":"2026-11-27T10:00:00.000Z","tombstone":true,"expired":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Call("GET", "/workspaces/w/memory/gone").status, 404);
  // A stale guard does not match the absent key ...
  EXPECT_EQ(Post(R"({"key":"gone","value":1,"if_match_version":5})", "w").status, 409);
  // ... and a create continues from the tombstone (no ABA).
  HttpResponse c = Post(R"({"key":"gone","value":1,"if_match_version":0})", "w");
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(Entry("w", "gone")["version"].GetUint64(), 6u);
}

TEST_F(AdminImportTest, ABadItemIsA400NamingItsIndexAndNothingIsApplied) {
  const std::string good = R"({"workspace":"w","key":"a","value":1,"version":3})" "\n";
  struct Case {
    const char* item;
    const char* says;
  } cases[] = {
      {R"({"workspace":"casmem:tokens","key":"x","value":1,"version":1})", "workspace"},
      {R"({"workspace":"w","key":"","value":1,"version":1})", "key"},
      {R"({"workspace":"w","key":"x","version":1})", "value"},
      {R"({"workspace":"w","key":"x","value":1,"tombstone":true,"version":1})", "not both"},
      {R"({"workspace":"w","key":"x","value":1,"version":0})", "version"},
      {R"({"workspace":"w","key":"x","value":1,"version":1.5})", "version"},
      {R"({"workspace":"w","key":"x","value":1,"version":"1"})", "version"},
      {R"({"workspace":"w","key":"x","value":1,"version":9007199254740992})", "version"},
      {R"({"workspace":"w","key":"x","value":1,"version":1,"expires_at":"2026-13-01T00:00:00Z"})", "expires_at"},
      {R"({"workspace":"w","key":"x","value":1,"version":1,"updated_at":1795774530123})", "updated_at"},
      {R"({"workspace":"w","key":"x","value":"\udc00","version":1})", ""},
      {R"({"workspace":"w","key":"x","value":1,"version":1,"writer":"a\u0001"})", "writer"},
      {R"({"workspace":"w","key":"x","key":"y","value":1,"version":1})", "twice"},
      {R"([1])", "object"},
      {R"({"workspace":"w")", ""},
  };
  for (const Case& c : cases) {
    HttpResponse r = Import(good + good + c.item);
    EXPECT_EQ(r.status, 400) << c.item << " -> " << r.body;
    EXPECT_NE(r.body.find("item 2: "), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(c.says), std::string::npos) << r.body;
    EXPECT_EQ(Call("GET", "/workspaces/w/memory/a").status, 404) << "applied before " << c.item;
  }
  // Larger than --max-value-bytes (1000 here): 413, also naming the item.
  HttpResponse big = Import(good + R"({"workspace":"w","key":"x","value":")" +
                            std::string(1200, 'v') + R"(","version":1})");
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_NE(big.body.find("item 1: "), std::string::npos) << big.body;
  EXPECT_EQ(Call("GET", "/workspaces/w/memory/a").status, 404);
}

TEST_F(AdminImportTest, JsonLinesOnlyAndPostOnly) {
  const std::string item = R"({"workspace":"w","key":"a","value":1,"version":3})";
  HttpResponse r = Import(item, "application/json");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(Header(r, "Accept-Post"), "application/x-ndjson");
  EXPECT_EQ(Import(item, "").status, 415);
  EXPECT_EQ(Call("GET", "/workspaces/w/memory/a").status, 404);
  EXPECT_EQ(Import(item, "Application/X-NDJSON; charset=utf-8").status, 200);
  HttpResponse g = Call("GET", "/admin/import");
  EXPECT_EQ(g.status, 405);
  EXPECT_EQ(Header(g, "Allow"), "POST");
}

TEST_F(AdminImportTest, TooManyItemsIsA400) {
  std::string body;
  for (int i = 0; i <= 10'000; ++i) {
    body += R"({"workspace":"w","key":"k)" + std::to_string(i) + R"(","value":1,"version":1})" "\n";
  }
  HttpResponse r = Import(body);
  EXPECT_EQ(r.status, 400) << r.body.substr(0, 200);
  EXPECT_NE(r.body.find("10000"), std::string::npos) << r.body;
  EXPECT_EQ(Call("GET", "/workspaces/w/memory/k0").status, 404);
}

// Access control: only admin tokens import (memory-api.md §9).
TEST(AdminImportAuthTest, OnlyAnAdminTokenImports) {
  ManualClock clock{1'795'774'530'123};
  Metrics metrics;
  std::unique_ptr<Store> store;
  StoreOptions o;
  o.clock = &clock;
  o.sweep_interval = std::chrono::milliseconds(0);
  ASSERT_TRUE(Store::Open(o, &store).ok());
  AccessControl access(store.get(), &metrics, AccessOptions{});
  Handler handler(store.get(), &metrics, &access);
  auto secret = [&](const char* name, const char* ws, const char* role) {
    auto c = access.tokens().Create(name, ws, role, "test");
    EXPECT_EQ(c.outcome, Outcome::kOk) << c.error;
    EXPECT_TRUE(store->WaitVisible(c.visible_lsn).ok());
    return c.secret;
  };
  const std::string admin = secret("root", "*", "admin");
  const std::string writer = secret("dev", "*", "write");
  const std::string body = R"({"workspace":"w","key":"a","value":1,"version":3})";
  auto run = [&](const std::string& s) {
    HttpRequest req("POST", "/admin/import", body);
    req.content_type = kNdjson;
    const std::string auth = "Bearer " + s;
    if (!s.empty()) req.authorization = auth;
    req.remote_address = "127.0.0.1";
    HandlerResult r = handler.Handle(req);
    EXPECT_TRUE(store->WaitVisible(r.visible_lsn).ok());
    return r.response.status;
  };
  EXPECT_EQ(run(""), 401);
  EXPECT_EQ(run(writer), 403);
  EXPECT_EQ(store->Get("w", "a").outcome, Outcome::kNotFound);
  EXPECT_EQ(run(admin), 200);
  EXPECT_EQ(store->Get("w", "a").entry.version, 3u);
}

// Imported states are logged like any write: a restart recovers them.
TEST(AdminImportDurabilityTest, ARestartKeepsImportedVersions) {
  const std::string dir = ::testing::TempDir() + "casmem-import-durable-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  Metrics metrics;
  {
    std::unique_ptr<Store> store;
    StoreOptions o;
    o.data_dir = dir;
    o.sweep_interval = std::chrono::milliseconds(0);
    ASSERT_TRUE(Store::Open(o, &store).ok());
    Handler handler(store.get(), &metrics);
    HttpRequest req("POST", "/admin/import",
                    R"({"workspace":"w","key":"a","value":{"x":1},"version":12})" "\n"
                    R"({"workspace":"w","key":"t","tombstone":true,"version":4})");
    req.content_type = kNdjson;
    HandlerResult r = handler.Handle(req);
    ASSERT_EQ(r.response.status, 200) << r.response.body;
    ASSERT_TRUE(store->WaitVisible(r.visible_lsn).ok());
    store.reset();  // a restart
  }
  std::unique_ptr<Store> store;
  StoreOptions o;
  o.data_dir = dir;
  o.sweep_interval = std::chrono::milliseconds(0);
  ASSERT_TRUE(Store::Open(o, &store).ok());
  GetResult g = store->Get("w", "a");
  ASSERT_EQ(g.outcome, Outcome::kOk);
  EXPECT_EQ(g.entry.version, 12u);
  EXPECT_EQ(g.entry.value, R"({"x":1})");
  // The tombstone's version is remembered: a load at it is kept.
  EXPECT_EQ(store->Load(LoadRequest{"w", "t", "1", 4, 0, 0, ""}).outcome, Outcome::kConflict);
  store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace casmem::net
