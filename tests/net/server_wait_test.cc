// End-to-end tests of the change feed's waiting requests against a real
// casmemd (memory-api.md §8): the `changes` long-poll (at once, after
// waiting, on timeout, limits, transactions whole) and the blocking read
// (woken by a write, a delete and an expiry; timing out with the state
// now; answered at shutdown and when its client half-closes).
#include <rapidjson/document.h>

#include <future>
#include <thread>

#include "tests/net/server_fixture.h"

namespace casmem::testing {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t Field(const std::string& json, const char* name) {
  rapidjson::Document d;
  d.Parse(json.c_str(), json.size());
  if (!d.IsObject() || !d.HasMember(name) || !d[name].IsUint64()) return 0;
  return d[name].GetUint64();
}

size_t ChangeCount(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str(), json.size());
  if (!d.IsObject() || !d.HasMember("changes") || !d["changes"].IsArray()) return SIZE_MAX;
  return d["changes"].Size();
}

class WaitTest : public ServerTest {
 protected:
  uint64_t Put(HttpClient& c, const std::string& key, const std::string& value, const std::string& more = "") {
    auto r = c.Request("POST", "/workspaces/w/memory", R"({"key":")" + key + R"(","value":)" + value + more + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    return Field(r.body, "revision");
  }
  // Runs `target` on a connection of its own; the reply and how long it took.
  std::future<std::pair<HttpReply, Clock::duration>> Async(const std::string& target) {
    const int port = server->port();
    return std::async(std::launch::async, [port, target] {
      auto c = HttpClient::Connect(port);
      const auto start = Clock::now();
      HttpReply r = c->Request("GET", target);
      return std::make_pair(r, Clock::now() - start);
    });
  }
};

TEST_F(WaitTest, ChangesAnswersAtOnceWhenThereAreChanges) {
  Start();
  auto c = Client();
  const uint64_t r1 = Put(*c, "a", "1");
  Put(*c, "b", "2");
  const uint64_t r3 = Put(*c, "a", "3");
  auto r = c->Request("GET", "/workspaces/w/changes?since=0&wait=10s");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ChangeCount(r.body), 3u);
  EXPECT_EQ(Field(r.body, "revision"), r3);
  EXPECT_NE(r.body.find("\"event\":\"put\""), std::string::npos);
  // prefix, since and limit
  r = c->Request("GET", "/workspaces/w/changes?since=0&prefix=a&limit=1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(ChangeCount(r.body), 1u);
  // Past r1 (what was looked at may include b's change, which no page of
  // this prefix holds) and before r3, the next page's.
  const uint64_t next = Field(r.body, "revision");
  EXPECT_GE(next, r1);
  EXPECT_LT(next, r3);
  r = c->Request("GET", "/workspaces/w/changes?since=" + std::to_string(next) + "&prefix=a");
  EXPECT_EQ(ChangeCount(r.body), 1u);
  EXPECT_EQ(Field(r.body, "revision"), r3);
}

TEST_F(WaitTest, ChangesNeverCutsATransaction) {
  Start();
  auto c = Client();
  auto txn = c->Request("POST", "/workspaces/w/txn",
                        R"({"ops":[{"op":"set","key":"x","value":1},{"op":"set","key":"y","value":2},{"op":"set","key":"z","value":3}]})");
  ASSERT_EQ(txn.status, 200) << txn.body;
  auto r = c->Request("GET", "/workspaces/w/changes?since=0&limit=2");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(ChangeCount(r.body), 3u);  // whole, over the limit
  EXPECT_EQ(Field(r.body, "revision"), Field(txn.body, "revision"));
}

TEST_F(WaitTest, ChangesWaitsForAChangeThenAnswers) {
  Start();
  auto c = Client();
  const uint64_t r0 = Put(*c, "other", "0");
  auto pending = Async("/workspaces/w/changes?since=" + std::to_string(r0) + "&prefix=q&wait=20s");
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  Put(*c, "not-q", "1");  // no match: still waiting
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  const uint64_t r2 = Put(*c, "q1", "2");
  auto [reply, took] = pending.get();
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(ChangeCount(reply.body), 1u);
  EXPECT_EQ(Field(reply.body, "revision"), r2);
  EXPECT_LT(took, std::chrono::seconds(15));
}

TEST_F(WaitTest, ChangesTimesOutWithNoChangeAndTheRevisionToGoOnFrom) {
  Start();
  auto c = Client();
  const uint64_t r0 = Put(*c, "a", "0");
  const auto start = Clock::now();
  auto r = c->Request("GET", "/workspaces/w/changes?since=" + std::to_string(r0) + "&wait=300ms");
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(290));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ChangeCount(r.body), 0u);
  EXPECT_EQ(Field(r.body, "revision"), r0);
}

TEST_F(WaitTest, BlockingReadWakesOnAWrite) {
  Start();
  auto c = Client();
  Put(*c, "k", "1");
  auto pending = Async("/workspaces/w/memory/k?wait_version=1&wait=20s");
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  Put(*c, "other", "1");
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  Put(*c, "k", "2");
  auto [reply, took] = pending.get();
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(Field(reply.body, "version"), 2u);
  EXPECT_EQ(reply.Header("etag"), "\"2\"");
}

TEST_F(WaitTest, BlockingReadAnswersAtOnceWhenTheVersionDiffers) {
  Start();
  auto c = Client();
  Put(*c, "k", "1");
  Put(*c, "k", "2");
  const auto start = Clock::now();
  auto r = c->Request("GET", "/workspaces/w/memory/k?wait_version=1&wait=20s");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(Field(r.body, "version"), 2u);
  // An absent key counts as version 0.
  r = c->Request("GET", "/workspaces/w/memory/absent?wait_version=3&wait=20s");
  EXPECT_EQ(r.status, 404);
}

TEST_F(WaitTest, BlockingReadWakesOnADeleteAndOnCreation) {
  Start();
  auto c = Client();
  Put(*c, "k", "1");
  auto pending = Async("/workspaces/w/memory/k?wait_version=1&wait=20s");
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  ASSERT_EQ(c->Request("DELETE", "/workspaces/w/memory/k").status, 200);
  EXPECT_EQ(pending.get().first.status, 404);
  auto create = Async("/workspaces/w/memory/new?wait_version=0&wait=20s");
  EXPECT_EQ(create.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  Put(*c, "new", "7");
  auto reply = create.get().first;
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(Field(reply.body, "version"), 1u);
}

TEST_F(WaitTest, BlockingReadWakesOnExpiry) {
  Start({"--sweep-interval", "1h"});  // the wake does not depend on the sweep
  auto c = Client();
  Put(*c, "k", "1", ",\"ttl_seconds\":1");
  auto pending = Async("/workspaces/w/memory/k?wait_version=1&wait=20s");
  auto [reply, took] = pending.get();
  EXPECT_EQ(reply.status, 404) << reply.body;
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST_F(WaitTest, BlockingReadTimesOutWithTheCurrentState) {
  Start();
  auto c = Client();
  Put(*c, "k", "1");
  const auto start = Clock::now();
  auto r = c->Request("GET", "/workspaces/w/memory/k?wait_version=1&wait=300ms");
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(290));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Field(r.body, "version"), 1u);
}

TEST_F(WaitTest, PipelinedRequestsWaitBehindABlockingRead) {
  Start();
  auto c = Client();
  Put(*c, "k", "1");
  auto p = Client();
  ASSERT_TRUE(p->SendRaw(RawRequest("GET", "/workspaces/w/memory/k?wait_version=1&wait=20s") +
                         RawRequest("GET", "/healthz")));
  HttpReply r;
  EXPECT_FALSE(p->Read(&r, 300));  // nothing overtakes the waiting read
  Put(*c, "k", "2");
  ASSERT_TRUE(p->Read(&r));
  EXPECT_EQ(Field(r.body, "version"), 2u);
  ASSERT_TRUE(p->Read(&r));
  EXPECT_EQ(r.body, R"({"status":"ok"})");
}

TEST_F(WaitTest, WaitingRequestsAreAnsweredAtShutdownAndOnHalfClose) {
  Start();
  auto c = Client();
  Put(*c, "k", "1");
  // A client that half-closes still gets its answer, at once.
  auto h = Client();
  ASSERT_TRUE(h->SendRaw(RawRequest("GET", "/workspaces/w/memory/k?wait_version=1&wait=20s")));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  h->ShutdownWrite();
  HttpReply r;
  ASSERT_TRUE(h->Read(&r, 5'000));
  EXPECT_EQ(Field(r.body, "version"), 1u);
  auto m = c->Request("GET", "/metrics");
  EXPECT_NE(m.body.find("casmem_waiting_requests 0"), std::string::npos);
  // SIGTERM answers the waiting ones with the state now.
  auto pending = Async("/workspaces/w/changes?since=999999&wait=60s");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto start = Clock::now();
  EXPECT_EQ(server->Terminate(), 0);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  auto reply = pending.get().first;
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(ChangeCount(reply.body), 0u);
}

}  // namespace
}  // namespace casmem::testing
