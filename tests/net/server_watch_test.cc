// End-to-end tests of the change feed against a real casmemd (memory-api.md
// §8): the SSE watch (every event kind, filtering, transactions, resume by
// since and Last-Event-ID, across SIGTERM and SIGKILL restarts, list then
// watch, compacted, lagged, heartbeats, shutdown, the connection limit)
// and an EventSource-style client that reconnects by itself.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/net/server_fixture.h"
#include "tests/support/sse_client.h"

namespace casmem::testing {
namespace {

rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str(), json.size());
  return d;
}

uint64_t Field(const std::string& json, const char* name) {
  auto d = Parse(json);
  if (!d.IsObject() || !d.HasMember(name) || !d[name].IsUint64()) return 0;
  return d[name].GetUint64();
}

std::string StrField(const std::string& json, const char* name) {
  auto d = Parse(json);
  if (!d.IsObject() || !d.HasMember(name) || !d[name].IsString()) return "";
  return d[name].GetString();
}

std::string Compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

std::string ValueOf(const std::string& json) {
  auto d = Parse(json);
  if (!d.IsObject() || !d.HasMember("value")) return "";
  return Compact(d["value"]);
}

using Mirror = std::map<std::string, std::pair<uint64_t, std::string>>;  // key -> version, value

Mirror MirrorOf(const std::string& list_body) {
  Mirror m;
  auto d = Parse(list_body);
  for (auto& e : d.GetArray()) m[e["key"].GetString()] = {e["version"].GetUint64(), Compact(e["value"])};
  return m;
}

class WatchTest : public ServerTest {
 protected:
  // POSTs key=value (value is JSON text) in `ws`; the write's revision.
  uint64_t Put(HttpClient& c, const std::string& ws, const std::string& key, const std::string& value,
               const std::string& more = "") {
    auto r = c.Request("POST", "/workspaces/" + ws + "/memory",
                       R"({"key":")" + key + R"(","value":)" + value + more + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    return Field(r.body, "revision");
  }
  std::unique_ptr<SseClient> Watch(const std::string& query, const std::string& headers = "",
                                   const std::string& ws = "w") {
    auto s = SseClient::Open(server->port(), "/workspaces/" + ws + "/watch" + query, headers);
    EXPECT_TRUE(s);
    if (s) {
      EXPECT_EQ(s->status(), 200) << s->body();
      EXPECT_EQ(s->Header("content-type"), "text/event-stream");
    }
    return s;
  }
  // The next event, or a failure naming what came instead.
  SseEvent Next(SseClient& s, int timeout_ms = 10'000) {
    SseEvent ev;
    EXPECT_TRUE(s.Next(&ev, timeout_ms)) << "no event (timed out: " << s.timed_out() << ")";
    return ev;
  }
};

TEST_F(WatchTest, EveryEventKindInRevisionOrder) {
  Start({"--sweep-interval", "20ms"});
  auto c = Client();
  auto s = Watch("");
  const uint64_t r1 = Put(*c, "w", "a", "{\"n\":1}");
  auto patch = c->Request("PATCH", "/workspaces/w/memory/a", R"({"n":2,"m":true})",
                          "Content-Type: application/merge-patch+json\r\nCasmem-Writer: pm\r\n");
  ASSERT_EQ(patch.status, 200) << patch.body;
  const uint64_t r2 = Field(patch.body, "revision");
  auto txn = c->Request("POST", "/workspaces/w/txn",
                        R"({"ops":[{"op":"set","key":"b","value":[1]},{"op":"delete","key":"a"}]})");
  ASSERT_EQ(txn.status, 200) << txn.body;
  const uint64_t r3 = Field(txn.body, "revision");
  auto del = c->Request("DELETE", "/workspaces/w/memory/b");
  ASSERT_EQ(del.status, 200) << del.body;
  const uint64_t r4 = Field(del.body, "revision");
  const uint64_t r5 = Put(*c, "w", "t", "\"ttl\"", ",\"ttl_seconds\":1");

  SseEvent e = Next(*s);
  EXPECT_EQ(e.event, "put");
  EXPECT_EQ(e.id, std::to_string(r1));
  EXPECT_EQ(StrField(e.data, "key"), "a");
  EXPECT_EQ(ValueOf(e.data), "{\"n\":1}");
  EXPECT_EQ(Field(e.data, "version"), 1u);
  EXPECT_EQ(Field(e.data, "revision"), r1);
  EXPECT_FALSE(StrField(e.data, "updated_at").empty());

  e = Next(*s);
  EXPECT_EQ(e.event, "put");
  EXPECT_EQ(e.id, std::to_string(r2));
  EXPECT_EQ(ValueOf(e.data), "{\"n\":2,\"m\":true}");
  EXPECT_EQ(Field(e.data, "version"), 2u);
  EXPECT_EQ(StrField(e.data, "writer"), "pm");

  // The transaction: back to back, only the last change carries the id.
  e = Next(*s);
  EXPECT_EQ(e.event, "put");
  EXPECT_EQ(e.id, "");
  EXPECT_EQ(StrField(e.data, "key"), "b");
  EXPECT_EQ(Field(e.data, "revision"), r3);
  e = Next(*s);
  EXPECT_EQ(e.event, "delete");
  EXPECT_EQ(e.id, std::to_string(r3));
  EXPECT_EQ(StrField(e.data, "key"), "a");
  EXPECT_EQ(Field(e.data, "version"), 2u);  // the tombstone's: the last version
  EXPECT_EQ(ValueOf(e.data), "");

  e = Next(*s);
  EXPECT_EQ(e.event, "delete");
  EXPECT_EQ(e.id, std::to_string(r4));
  EXPECT_EQ(StrField(e.data, "key"), "b");

  e = Next(*s);
  EXPECT_EQ(e.event, "put");
  EXPECT_EQ(e.id, std::to_string(r5));
  EXPECT_FALSE(StrField(e.data, "expires_at").empty());

  // The TTL runs out (1 s) and the sweep logs the expiry: a revision of its own.
  e = Next(*s, 15'000);
  EXPECT_EQ(e.event, "expire");
  EXPECT_EQ(StrField(e.data, "key"), "t");
  EXPECT_EQ(Field(e.data, "version"), 1u);
  EXPECT_GT(std::stoull(e.id), r5);
  EXPECT_EQ(Field(e.data, "revision"), std::stoull(e.id));
}

TEST_F(WatchTest, PrefixAndWorkspaceFilter) {
  Start();
  auto c = Client();
  auto s = Watch("?prefix=q%2F");
  Put(*c, "w", "q/1", "1");
  Put(*c, "w", "r/1", "2");
  Put(*c, "other", "q/2", "3");
  Put(*c, "w", "q", "4");
  const uint64_t last = Put(*c, "w", "q/3", "5");
  SseEvent e = Next(*s);
  EXPECT_EQ(StrField(e.data, "key"), "q/1");
  e = Next(*s);
  EXPECT_EQ(StrField(e.data, "key"), "q/3");
  EXPECT_EQ(e.id, std::to_string(last));
  SseEvent none;
  EXPECT_FALSE(s->Next(&none, 300));
  EXPECT_TRUE(s->timed_out());
}

TEST_F(WatchTest, ResumeBySinceAndLastEventIdWithoutGapOrDuplicate) {
  Start();
  auto c = Client();
  std::vector<uint64_t> revs;
  for (int i = 0; i < 10; ++i) revs.push_back(Put(*c, "w", "k" + std::to_string(i), std::to_string(i)));
  auto s = Watch("?since=" + std::to_string(revs[2]));
  for (int i = 3; i < 10; ++i) EXPECT_EQ(Next(*s).id, std::to_string(revs[i]));
  // Last-Event-ID wins over the URL's since (a reconnecting EventSource
  // repeats its URL).
  auto r = Watch("?since=0", "Last-Event-ID: " + std::to_string(revs[6]) + "\r\n");
  for (int i = 7; i < 10; ++i) EXPECT_EQ(Next(*r).id, std::to_string(revs[i]));
  SseEvent none;
  EXPECT_FALSE(r->Next(&none, 200));
}

TEST_F(WatchTest, BadParametersAreJsonErrors) {
  Start();
  auto c = Client();
  auto r = c->Request("GET", "/workspaces/w/watch?since=x");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("since"), std::string::npos);
  r = c->Request("GET", "/workspaces/w/watch", "", "Last-Event-ID: -1\r\n");
  EXPECT_EQ(r.status, 400);
  r = c->Request("POST", "/workspaces/w/watch", "{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("allow"), "GET");
  r = c->Request("GET", "/workspaces/bad%20ws/watch");
  EXPECT_EQ(r.status, 400);
  r = c->Request("GET", "/workspaces/w/changes?wait=301");
  EXPECT_EQ(r.status, 400);
  r = c->Request("GET", "/workspaces/w/changes?limit=0");
  EXPECT_EQ(r.status, 400);
  r = c->Request("GET", "/workspaces/w/memory/k?wait_version=x");
  EXPECT_EQ(r.status, 400);
  r = c->Request("GET", "/workspaces/w/memory/k?wait_version=1&wait=1h");
  EXPECT_EQ(r.status, 400);
}

TEST_F(WatchTest, OrderedExactlyOnceUnderConcurrentWritersOnManyShards) {
  Start();
  auto s = Watch("");
  std::mutex mu;
  std::set<uint64_t> acked;
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      auto c = HttpClient::Connect(server->port());
      for (int i = 0; i < 60; ++i) {
        auto r = c->Request("POST", "/workspaces/w/memory",
                            R"({"key":"t)" + std::to_string(t) + "-" + std::to_string(i % 7) + R"(","value":)" +
                                std::to_string(i) + "}");
        ASSERT_EQ(r.status, 200);
        std::lock_guard lk(mu);
        acked.insert(Field(r.body, "revision"));
      }
    });
  }
  for (auto& w : writers) w.join();
  uint64_t last = 0;
  std::set<uint64_t> seen;
  while (seen.size() < acked.size()) {
    SseEvent e;
    ASSERT_TRUE(s->Next(&e, 10'000)) << seen.size() << " of " << acked.size();
    const uint64_t id = std::stoull(e.id);
    EXPECT_GT(id, last);
    last = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen, acked);
}

TEST_F(WatchTest, ListThenWatchHasNoGapUnderConcurrentWrites) {
  Start();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> last_rev{0};
  std::thread writer([&] {
    auto c = HttpClient::Connect(server->port());
    for (int i = 0; !stop.load() || i < 50; ++i) {
      auto r = c->Request("POST", "/workspaces/w/memory",
                          R"({"key":"k)" + std::to_string(i % 23) + R"(","value":)" + std::to_string(i) + "}");
      ASSERT_EQ(r.status, 200);
      last_rev = Field(r.body, "revision");
      if (i % 5 == 0) c->Request("DELETE", "/workspaces/w/memory/k" + std::to_string((i * 7) % 23));
    }
  });
  while (last_rev.load() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto c = Client();
  auto list = c->Request("GET", "/workspaces/w/memory");
  ASSERT_EQ(list.status, 200);
  const std::string rev = list.Header("casmem-revision");
  ASSERT_FALSE(rev.empty());
  Mirror mirror = MirrorOf(list.body);
  auto s = Watch("?since=" + rev);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  writer.join();
  auto final_list = c->Request("GET", "/workspaces/w/memory");
  const uint64_t final_rev = std::stoull(final_list.Header("casmem-revision"));
  // Apply every event up to the final listing's revision; a change the
  // listing already showed comes again with a version not newer.
  uint64_t at = std::stoull(rev);
  while (at < final_rev) {
    SseEvent e;
    ASSERT_TRUE(s->Next(&e, 10'000)) << "stuck at " << at << " of " << final_rev;
    const std::string key = StrField(e.data, "key");
    const uint64_t version = Field(e.data, "version");
    auto& slot = mirror[key];
    if (version >= slot.first) {
      if (e.event == "put") {
        slot = {version, ValueOf(e.data)};
      } else {
        mirror.erase(key);
      }
    }
    if (!e.id.empty()) at = std::stoull(e.id);
  }
  EXPECT_EQ(mirror, MirrorOf(final_list.body));
}

TEST_F(WatchTest, ResumesAcrossSigtermRestart) {
  Start();
  std::vector<uint64_t> revs;
  {
    auto c = Client();
    for (int i = 0; i < 5; ++i) revs.push_back(Put(*c, "w", "k" + std::to_string(i), std::to_string(i)));
  }
  auto s = Watch("?since=0");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Next(*s).id, std::to_string(revs[i]));
  EXPECT_EQ(server->Terminate(), 0);
  server.reset();
  Start();  // same data directory
  {
    auto c = Client();
    for (int i = 5; i < 8; ++i) revs.push_back(Put(*c, "w", "k" + std::to_string(i), std::to_string(i)));
  }
  // From the last id received: the rest, from before and after the restart.
  auto r = Watch("", "Last-Event-ID: " + std::to_string(revs[2]) + "\r\n");
  for (int i = 3; i < 8; ++i) EXPECT_EQ(Next(*r).id, std::to_string(revs[i]));
}

TEST_F(WatchTest, AfterSigkillEveryAcknowledgedWriteIsInTheFeedInOrder) {
  Start();
  std::mutex mu;
  std::vector<uint64_t> acked;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto c = HttpClient::Connect(server->port());
    for (int i = 0; !stop.load(); ++i) {
      auto r = c->Request("POST", "/workspaces/w/memory",
                          R"({"key":"k)" + std::to_string(i % 11) + R"(","value":)" + std::to_string(i) + "}");
      if (r.status != 200) break;  // killed
      std::lock_guard lk(mu);
      acked.push_back(Field(r.body, "revision"));
    }
  });
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard lk(mu);
    if (acked.size() >= 100) break;
  }
  server->Kill();
  stop = true;
  writer.join();
  server.reset();
  Start();
  auto s = Watch("?since=0");
  std::set<uint64_t> want(acked.begin(), acked.end());
  uint64_t last = 0;
  while (!want.empty() && last < acked.back()) {
    SseEvent e;
    ASSERT_TRUE(s->Next(&e, 10'000)) << want.size() << " acknowledged writes missing";
    const uint64_t id = std::stoull(e.id);
    EXPECT_GT(id, last);
    last = id;
    want.erase(id);
  }
  EXPECT_TRUE(want.empty());
}

TEST_F(WatchTest, CompactedOnceHistoryIsGone) {
  // Small segments and no history kept: the snapshot at shutdown removes
  // the segments it covers.
  Start({"--wal-segment-bytes", "64K", "--watch-history", "0", "--watch-memory", "0"});
  {
    auto c = Client();
    const std::string big = "\"" + std::string(2000, 'x') + "\"";
    for (int i = 0; i < 100; ++i) Put(*c, "w", "k" + std::to_string(i), big);
  }
  EXPECT_EQ(server->Terminate(), 0);
  server.reset();
  Start({"--wal-segment-bytes", "64K", "--watch-history", "0", "--watch-memory", "0"});
  auto s = Watch("?since=1");
  SseEvent e = Next(*s);
  EXPECT_EQ(e.event, "compacted");
  const uint64_t compact = Field(e.data, "compact_revision");
  EXPECT_GT(compact, 1u);
  SseEvent none;
  EXPECT_FALSE(s->Next(&none, 5'000));
  EXPECT_TRUE(s->eof());
  auto c = Client();
  auto r = c->Request("GET", "/workspaces/w/changes?since=1");
  EXPECT_EQ(r.status, 410);
  EXPECT_EQ(StrField(r.body, "error"), "compacted");
  EXPECT_EQ(Field(r.body, "compact_revision"), compact);
  // From the compact revision on, the feed answers.
  r = c->Request("GET", "/workspaces/w/changes?since=" + std::to_string(compact));
  EXPECT_EQ(r.status, 200) << r.body;
  auto m = c->Request("GET", "/metrics");
  EXPECT_NE(m.body.find("casmem_watch_compacted_total 2"), std::string::npos);
}

TEST_F(WatchTest, SlowWatcherIsCutWithLaggedWhileOthersAndWritersGoOn) {
  Start({"--watch-buffer", "1M"});
  auto slow = SseClient::Open(server->port(), "/workspaces/w/watch", "", 4096);
  ASSERT_TRUE(slow);
  ASSERT_EQ(slow->status(), 200);
  auto fast = Watch("");
  auto c = Client();
  const std::string big = "\"" + std::string(192 * 1024, 'v') + "\"";
  std::vector<uint64_t> revs;
  // 64 x 192 KiB: far more than the slow client's socket buffers and the
  // watch buffer hold while it does not read.
  for (int i = 0; i < 64; ++i) {
    revs.push_back(Put(*c, "w", "k" + std::to_string(i), big));
    SseEvent e = Next(*fast);  // the other watcher keeps up
    EXPECT_EQ(e.id, std::to_string(revs.back()));
  }
  // The slow client reads at last: some events, then `lagged`, then the end.
  SseEvent e;
  std::string last_id;
  bool lagged = false;
  while (slow->Next(&e, 10'000)) {
    if (e.event == "lagged") {
      lagged = true;
      continue;
    }
    EXPECT_FALSE(lagged) << "an event after lagged";
    last_id = e.id;
  }
  EXPECT_TRUE(lagged);
  EXPECT_TRUE(slow->eof());
  // It resumes from its last id and gets the rest.
  auto resumed = Watch("?since=" + (last_id.empty() ? std::string("0") : last_id));
  SseEvent r;
  do {
    r = Next(*resumed);
  } while (!::testing::Test::HasFailure() && r.id != std::to_string(revs.back()));
  auto m = c->Request("GET", "/metrics");
  EXPECT_NE(m.body.find("casmem_watch_lagged_total 1"), std::string::npos) << m.body;
}

TEST_F(WatchTest, HeartbeatsWhileIdle) {
  Start({"--watch-heartbeat", "50ms"});
  auto s = Watch("");
  SseEvent e;
  EXPECT_FALSE(s->Next(&e, 600));
  EXPECT_TRUE(s->timed_out());
  EXPECT_GE(s->comments(), 3);
}

TEST_F(WatchTest, SigtermEndsWatchesCleanly) {
  Start();
  auto a = Watch("");
  auto b = Watch("?prefix=x");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server->Terminate(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  SseEvent e;
  EXPECT_FALSE(a->Next(&e, 5'000));
  EXPECT_TRUE(a->eof());
  EXPECT_FALSE(b->Next(&e, 5'000));
  EXPECT_TRUE(b->eof());
}

TEST_F(WatchTest, WatchesCountTowardMaxConnections) {
  Start({"--max-connections", "2"});
  auto a = Watch("");
  auto b = Watch("");
  auto c = HttpClient::Connect(server->port());
  ASSERT_TRUE(c);
  auto r = c->Request("GET", "/healthz");
  EXPECT_EQ(r.status, 503);
  a.reset();  // a watcher leaves: room again
  for (int i = 0; i < 100; ++i) {
    auto d = HttpClient::Connect(server->port());
    if (d->Request("GET", "/healthz").status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "the closed watch never freed its connection slot";
}

TEST_F(WatchTest, EventSourceStyleClientReconnectsByItself) {
  Start();
  const int port = server->port();
  EventSourceClient es(port, "/workspaces/w/watch?since=0");
  std::vector<uint64_t> revs;
  {
    auto c = Client();
    for (int i = 0; i < 3; ++i) revs.push_back(Put(*c, "w", "k" + std::to_string(i), std::to_string(i)));
  }
  SseEvent e;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(es.Next(&e));
    EXPECT_EQ(e.id, std::to_string(revs[i]));
  }
  EXPECT_EQ(server->Terminate(), 0);
  server.reset();
  Start({"--listen", "127.0.0.1:" + std::to_string(port)});
  ASSERT_EQ(server->port(), port);
  {
    auto c = Client();
    for (int i = 3; i < 6; ++i) revs.push_back(Put(*c, "w", "k" + std::to_string(i), std::to_string(i)));
  }
  for (int i = 3; i < 6; ++i) {
    ASSERT_TRUE(es.Next(&e));
    EXPECT_EQ(e.id, std::to_string(revs[i]));
  }
  EXPECT_GE(es.connects(), 2);
}

}  // namespace
}  // namespace casmem::testing
