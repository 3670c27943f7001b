// The change feed's requests at the handler (watch_handlers.cc): what a
// watch, a long-poll and a blocking read decide before any waiting (the
// session's part is in server_watch_test.cc / server_wait_test.cc), the
// `wait` grammar, and Casmem-Revision on listings.
#include "net/handler_internal.h"
#include "tests/net/handler_fixture.h"

namespace casmem::net {
namespace {

using std::chrono::milliseconds;

TEST(ParseWaitTest, SecondsAndUnits) {
  EXPECT_EQ(ParseWait("10"), milliseconds(10'000));
  EXPECT_EQ(ParseWait("0.5"), milliseconds(500));
  EXPECT_EQ(ParseWait("0"), milliseconds(0));
  EXPECT_EQ(ParseWait("250ms"), milliseconds(250));
  EXPECT_EQ(ParseWait("10s"), milliseconds(10'000));
  EXPECT_EQ(ParseWait("5m"), milliseconds(300'000));
  EXPECT_EQ(ParseWait("1.25s"), milliseconds(1250));
  EXPECT_EQ(ParseWait("300"), milliseconds(300'000));
  for (const char* bad : {"", "s", "ms", "-1", "1h", "301", "6m", ".5", "5.", "1..2", "1e3", "x", " 1",
                          "99999999999999"}) {
    EXPECT_FALSE(ParseWait(bad)) << bad;
  }
}

class WatchHandlerTest : public HandlerTest {
 protected:
  HandlerResult Raw(std::string_view target, std::optional<std::string_view> last_event_id = std::nullopt) {
    HttpRequest req{"GET", target};
    req.last_event_id = last_event_id;
    return handler->Handle(req);
  }
  uint64_t Revision(const HttpResponse& r) {
    const auto at = r.body.rfind("\"revision\":");  // the page's, after the changes
    return at == std::string::npos ? 0 : std::stoull(r.body.substr(at + 11));
  }
};

TEST_F(WatchHandlerTest, WatchStartsAfterTheCurrentRevisionOrItsResumePoint) {
  Post(R"({"key":"a","value":1})", "w");
  Post(R"({"key":"b","value":2})", "w");
  const uint64_t head = store->revision();
  HandlerResult r = Raw("/workspaces/w/watch?prefix=a");
  ASSERT_TRUE(r.watch);
  EXPECT_EQ(r.route, Route::kWatch);
  EXPECT_EQ(r.watch->since, head);
  EXPECT_EQ(r.watch->filter.workspace, "w");
  EXPECT_EQ(r.watch->filter.prefix, "a");
  EXPECT_FALSE(r.watch->filter.exact_key);
  r = Raw("/workspaces/w/watch?since=1");
  ASSERT_TRUE(r.watch);
  EXPECT_EQ(r.watch->since, 1u);
  r = Raw("/workspaces/w/watch?since=1", "7");
  ASSERT_TRUE(r.watch);
  EXPECT_EQ(r.watch->since, 7u);  // Last-Event-ID wins
  r = Raw("/watch");
  ASSERT_TRUE(r.watch);
  EXPECT_EQ(r.watch->filter.workspace, "default");
  r = Raw("/workspaces/w/watch", "x");
  EXPECT_FALSE(r.watch);
  EXPECT_EQ(r.response.status, 400);
  r = Raw("/workspaces/w/watch?prefix=%FF");
  EXPECT_EQ(r.response.status, 400);
  r = Raw("/workspaces/w/watch?since=1&since=2");
  EXPECT_EQ(r.response.status, 400);
}

TEST_F(WatchHandlerTest, ChangesAnswersFromTheHistoryOrWaits) {
  Post(R"({"key":"a","value":1})", "w");
  Post(R"({"key":"b","value":2})", "w");
  Post(R"({"key":"a","value":3})", "x");
  HttpResponse r = Call("GET", "/workspaces/w/changes");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"key\":\"a\""), std::string::npos);
  EXPECT_NE(r.body.find("\"key\":\"b\""), std::string::npos);
  EXPECT_EQ(Revision(r), store->revision());
  // Nothing after the head, no wait: answered at once, empty.
  const std::string at_head = "/workspaces/w/changes?since=" + std::to_string(store->revision());
  r = Call("GET", at_head);
  EXPECT_EQ(r.body, "{\"changes\":[],\"revision\":" + std::to_string(store->revision()) + "}");
  // With a wait: the session is asked to wait for a change of w after the head.
  HandlerResult w = Raw(at_head + "&wait=5s&prefix=q");
  ASSERT_TRUE(w.wait);
  EXPECT_EQ(w.route, Route::kChanges);
  EXPECT_EQ(w.wait->filter.workspace, "w");
  EXPECT_EQ(w.wait->filter.prefix, "q");
  EXPECT_EQ(w.wait->since, store->revision());
  EXPECT_EQ(w.wait->wake_at, w.wait->deadline);
  // Run again past its deadline: the answer now.
  const std::string target = at_head + "&wait=5s";
  HttpRequest again{"GET", target};
  again.wait_deadline = std::chrono::steady_clock::now();
  w = handler->Handle(again);
  EXPECT_FALSE(w.wait);
  EXPECT_EQ(w.response.status, 200);
}

TEST_F(WatchHandlerTest, BlockingGetWaitsOnlyWhileTheVersionIsTheOneGiven) {
  Post(R"({"key":"k","value":1})", "w");
  HandlerResult r = Raw("/workspaces/w/memory/k?wait_version=2&wait=5s");
  EXPECT_FALSE(r.wait);
  EXPECT_EQ(r.response.status, 200);
  r = Raw("/workspaces/w/memory/k?wait_version=1&wait=5s");
  ASSERT_TRUE(r.wait);
  EXPECT_TRUE(r.wait->filter.exact_key);
  EXPECT_EQ(r.wait->filter.prefix, "k");
  EXPECT_EQ(r.wait->since, store->revision());
  // Absent counts as 0.
  r = Raw("/workspaces/w/memory/nope?wait_version=0&wait=5s");
  EXPECT_TRUE(r.wait);
  r = Raw("/workspaces/w/memory/nope?wait_version=1&wait=5s");
  EXPECT_FALSE(r.wait);
  EXPECT_EQ(r.response.status, 404);
  // A TTL wakes it when it runs out, before the deadline.
  Post(R"({"key":"t","value":1,"ttl_seconds":2})", "w");
  r = Raw("/workspaces/w/memory/t?wait_version=1&wait=60s");
  ASSERT_TRUE(r.wait);
  EXPECT_LT(r.wait->wake_at, r.wait->deadline);
  EXPECT_LE(r.wait->wake_at - std::chrono::steady_clock::now(), std::chrono::milliseconds(2001));
  // Once the TTL has run out (the manual clock), the key is absent: answered.
  clock.Advance(2000);
  r = Raw("/workspaces/w/memory/t?wait_version=1&wait=60s");
  EXPECT_FALSE(r.wait);
  EXPECT_EQ(r.response.status, 404);
}

TEST_F(WatchHandlerTest, ListsCarryTheRevisionToWatchFrom) {
  Post(R"({"key":"a","value":1})", "w");
  const uint64_t before = store->revision();
  HttpResponse r = Call("GET", "/workspaces/w/memory");
  EXPECT_EQ(Header(r, "Casmem-Revision"), std::to_string(before));
  r = Call("GET", "/workspaces/empty/memory?limit=5");
  EXPECT_EQ(Header(r, "Casmem-Revision"), std::to_string(before));
}

TEST_F(WatchHandlerTest, FeedRoutesTakeGetOnly) {
  HttpResponse r = Call("DELETE", "/workspaces/w/changes");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET");
  r = Call("GET", "/workspaces/w/changes/extra");
  EXPECT_EQ(r.status, 404);
}

}  // namespace
}  // namespace casmem::net
