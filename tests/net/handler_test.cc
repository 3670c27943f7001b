// The pure handler: every status and body shape of memory-api.md §3,
// value fidelity, percent-encoding, list parameters and Link headers.
#include "net/handler.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>

#include <mutex>

#include "engine/store.h"
#include "tests/net/handler_fixture.h"
#include "tests/support/mem_fs.h"
#include "net/json_out.h"

namespace casmem::net {
namespace {

TEST_F(HandlerTest, SetWithoutVersionReturnsTheNewVersion) {
  HttpResponse r = Post(R"({"key":"k","value":{"a":1}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok","key":"k","version":1,"revision":1})");
  EXPECT_EQ(Post(R"({"key":"k","value":2})").body, R"({"status":"ok","key":"k","version":2,"revision":2})");
}

TEST_F(HandlerTest, GetCarriesVersionTimestampsAndETag) {
  Post(R"({"key":"queue","value":[1,2,3],"ttl_seconds":3600})");
  HttpResponse r = Call("GET", "/memory/queue");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"key":"queue","value":[1,2,3],"version":1,"revision":1,)"
                    R"("updated_at":"2026-11-27T10:15:30.123Z","expires_at":"2026-11-27T11:15:30.123Z"})");
  EXPECT_EQ(Header(r, "ETag"), "\"1\"");
  EXPECT_EQ(r.content_type, "application/json");
}

TEST_F(HandlerTest, GuardedSetMatchMismatchCreateOnlyAndAbsent) {
  Post(R"({"key":"k","value":1})");
  EXPECT_EQ(Post(R"({"key":"k","value":2,"if_match_version":1})").body,
            R"({"status":"ok","key":"k","version":2,"revision":2})");
  HttpResponse conflict = Post(R"({"key":"k","value":3,"if_match_version":1})");
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.body,
            R"({"error":"if_match_version mismatch","expected_version":1,"current_version":2,"current_value":2})");
  HttpResponse created = Post(R"({"key":"fresh","value":"x","if_match_version":0})");
  EXPECT_EQ(created.body, R"({"status":"ok","key":"fresh","version":1,"revision":3})");
  HttpResponse absent = Post(R"({"key":"nope","value":1,"if_match_version":4})");
  EXPECT_EQ(absent.status, 409);
  EXPECT_EQ(absent.body,
            R"({"error":"if_match_version mismatch","expected_version":4,"current_version":null})");
  EXPECT_EQ(Post(R"({"key":"k","value":1,"if_match_version":0})").status, 409);
}

// What the server's ConflictTurns is told: only a guard behind the key's
// current version is a stale loser worth a turn; only a change commits.
TEST_F(HandlerTest, WritesReportWhatTheyDidToTheirKey) {
  auto event = [&](std::string_view method, std::string_view target, std::string_view body = "") {
    HandlerResult r = handler->Handle(HttpRequest{method, target, body});
    EXPECT_TRUE(store->WaitVisible(r.visible_lsn).ok());
    return r;
  };
  HandlerResult r = event("POST", "/workspaces/w/memory", R"({"key":"k","value":1})");
  EXPECT_EQ(r.key_event, KeyEvent::kCommitted);
  EXPECT_EQ(r.workspace, "w");
  EXPECT_EQ(r.key, "k");
  event("POST", "/workspaces/w/memory", R"({"key":"k","value":2})");  // version 2
  r = event("POST", "/workspaces/w/memory", R"({"key":"k","value":3,"if_match_version":1})");
  EXPECT_EQ(r.response.status, 409);
  EXPECT_EQ(r.key_event, KeyEvent::kStaleConflict);
  EXPECT_EQ(r.guard, 1u);
  r = event("DELETE", "/workspaces/w/memory/k?if_match_version=1");
  EXPECT_EQ(r.key_event, KeyEvent::kStaleConflict);
  EXPECT_EQ(r.key, "k");
  // Losers that waiting cannot help: ahead of the key, create-only on a
  // live key, a guard on an absent key.
  EXPECT_EQ(event("POST", "/workspaces/w/memory", R"({"key":"k","value":3,"if_match_version":7})").key_event,
            KeyEvent::kNone);
  EXPECT_EQ(event("POST", "/workspaces/w/memory", R"({"key":"k","value":3,"if_match_version":0})").key_event,
            KeyEvent::kNone);
  EXPECT_EQ(event("POST", "/workspaces/w/memory", R"({"key":"new","value":3,"if_match_version":1})").key_event,
            KeyEvent::kNone);
  // Reads and a delete of an absent key change nothing.
  EXPECT_EQ(event("GET", "/workspaces/w/memory/k").key_event, KeyEvent::kNone);
  EXPECT_EQ(event("DELETE", "/workspaces/w/memory/absent").key_event, KeyEvent::kNone);
  EXPECT_EQ(event("DELETE", "/workspaces/w/memory/k").key_event, KeyEvent::kCommitted);
}

// A held loser's 409 reports the key as it is when its turn comes.
TEST_F(HandlerTest, ConflictNowReportsTheCurrentState) {
  Post(R"({"key":"k","value":"a"})");
  Post(R"({"key":"k","value":"b"})");
  HandlerResult r = handler->ConflictNow("default", "k", 1);
  ASSERT_TRUE(store->WaitVisible(r.visible_lsn).ok());
  EXPECT_EQ(r.response.status, 409);
  EXPECT_EQ(r.response.body, ConflictJson(1, 2, std::string("\"b\"")));
  Call("DELETE", "/memory/k");
  r = handler->ConflictNow("default", "k", 1);
  EXPECT_EQ(r.response.body, ConflictJson(1, std::nullopt, std::nullopt));
}

TEST_F(HandlerTest, NullGuardAndNullTtlMeanNotGiven) {
  Post(R"({"key":"k","value":1})");
  EXPECT_EQ(Post(R"({"key":"k","value":2,"if_match_version":null,"ttl_seconds":null})").status, 200);
  EXPECT_EQ(Call("GET", "/memory/k").body.find("expires_at"), std::string::npos);
}

TEST_F(HandlerTest, ValuesRoundTripDigitForDigit) {
  const char* values[] = {
      "12345678901234567890", "1.10", "-0", "1e5", "-1.5E-300", "0.000000000000000000001",
      R"("é€😀")", R"("\u00e9 \"q\" \\ \n\t\u0000")", "true", "false", "null", "[]", "{}",
      R"({"nested":[1,{"a":[2.50,"x"]}],"big":123456789012345678901234567890})"};
  const char* expected[] = {
      "12345678901234567890", "1.10", "-0", "1e5", "-1.5E-300", "0.000000000000000000001",
      R"("é€😀")", R"("é \"q\" \\ \n\t\u0000")", "true", "false", "null", "[]", "{}",
      R"({"nested":[1,{"a":[2.50,"x"]}],"big":123456789012345678901234567890})"};
  for (size_t i = 0; i < std::size(values); ++i) {
    std::string body = std::string(R"({"key":"v","value": )") + values[i] + " }";
    ASSERT_EQ(Post(body).status, 200) << values[i];
    HttpResponse r = Call("GET", "/memory/v");
    const std::string want = std::string(R"({"key":"v","value":)") + expected[i] + ",";
    EXPECT_EQ(r.body.substr(0, want.size()), want) << values[i];
  }
}

TEST_F(HandlerTest, WhitespaceInTheValueIsCompacted) {
  Post("{ \"key\" : \"k\" ,\n \"value\" : { \"a\" : [ 1 , 2 ] } }");
  EXPECT_EQ(Call("GET", "/memory/k").body.substr(0, 30), R"({"key":"k","value":{"a":[1,2]})");
}

TEST_F(HandlerTest, UnknownFieldsAreIgnored) {
  EXPECT_EQ(Post(R"({"key":"k","extra":{"deep":[1,{"value":"not this"}]},"value":7,"z":null})").status, 200);
  EXPECT_EQ(Call("GET", "/memory/k").body.substr(0, 21), R"({"key":"k","value":7,)");
}

TEST_F(HandlerTest, EveryBadBodyIsA400WithAReason) {
  const char* bodies[] = {
      "",                                               // not JSON
      "{",                                              // malformed
      "[1,2]",                                          // not an object
      "\"str\"",                                        // not an object
      "42",                                             // not an object
      R"({"value":1})",                                 // key missing
      R"({"key":"k"})",                                 // value missing
      R"({"key":1,"value":1})",                         // key not a string
      R"({"key":["k"],"value":1})",                     // key not a string
      R"({"key":"","value":1})",                        // empty key
      R"({"key":"a\u0000b","value":1})",                // NUL in key
      R"({"key":"k","value":1,"ttl_seconds":"5"})",     // string
      R"({"key":"k","value":1,"ttl_seconds":5.5})",     // fraction
      R"({"key":"k","value":1,"ttl_seconds":true})",    // boolean
      R"({"key":"k","value":1,"ttl_seconds":0})",       // out of range
      R"({"key":"k","value":1,"ttl_seconds":-1})",      // negative
      R"({"key":"k","value":1,"ttl_seconds":315360001})",
      R"({"key":"k","value":1,"if_match_version":-1})",
      R"({"key":"k","value":1,"if_match_version":1.0})",
      R"({"key":"k","value":1,"if_match_version":"3"})",
      R"({"key":"k","value":1,"if_match_version":false})",
      R"({"key":"k","value":1,"if_match_version":1e2})",
      R"({"key":"k","value":1,"if_match_version":99999999999999999999999})",
      R"({"key":"k","value":1} trailing)",              // trailing garbage
      R"({"key":"k","value":1}{})",
      R"({"key":"k","value":1e400})",                   // beyond a double
  };
  for (const char* b : bodies) {
    HttpResponse r = Post(b);
    EXPECT_EQ(r.status, 400) << b;
    EXPECT_EQ(r.body.rfind(R"({"error":")", 0), 0u) << b << " -> " << r.body;
  }
  const std::string long_key = R"({"key":")" + std::string(1025, 'k') + R"(","value":1})";
  EXPECT_EQ(Post(long_key).status, 400);
  const std::string max_key = R"({"key":")" + std::string(1024, 'k') + R"(","value":1})";
  EXPECT_EQ(Post(max_key).status, 200);
  EXPECT_EQ(Post("{\"key\":\"\xff\xfe\",\"value\":1}").status, 400);            // invalid UTF-8 key
  EXPECT_EQ(Post("{\"key\":\"k\",\"value\":\"\xc3\x28\"}").status, 400);       // invalid UTF-8 value
  EXPECT_TRUE(store->List("default", "", "", 10).entries.size() == 1) << "nothing half-written";
}

TEST_F(HandlerTest, OversizedValueIs413) {
  const std::string body = R"({"key":"k","value":")" + std::string(1000, 'x') + R"("})";
  EXPECT_EQ(Post(body).status, 413);
}

TEST_F(HandlerTest, DeleteAndGuardedDelete) {
  EXPECT_EQ(Call("DELETE", "/memory/absent").body, R"({"status":"deleted"})");
  Post(R"({"key":"k","value":1})");
  Post(R"({"key":"k","value":2})");
  HttpResponse miss = Call("DELETE", "/memory/k?if_match_version=1");
  EXPECT_EQ(miss.status, 409);
  EXPECT_EQ(miss.body, R"({"error":"if_match_version mismatch","expected_version":1,"current_version":2,"current_value":2})");
  EXPECT_EQ(Call("DELETE", "/memory/k?if_match_version=x").status, 400);
  EXPECT_EQ(Call("DELETE", "/memory/k?if_match_version=2").body, R"({"status":"deleted","revision":3})");
  EXPECT_EQ(Call("GET", "/memory/k").status, 404);
  EXPECT_EQ(Call("GET", "/memory/k").body, R"({"error":"key not found"})");
  EXPECT_EQ(Post(R"({"key":"k","value":3,"if_match_version":0})").body,
            R"({"status":"ok","key":"k","version":3,"revision":4})");
}

TEST_F(HandlerTest, PercentEncodedKeysAndTheMemoryAlias) {
  Post(R"({"key":"a/b: c","value":1})");
  EXPECT_EQ(Call("GET", "/memory/a%2Fb%3A%20c").status, 200);
  EXPECT_EQ(Call("GET", "/workspaces/default/memory/a%2Fb:%20c").status, 200);
  Post(R"({"key":"research-backlog:pmm","value":1})", "team");
  EXPECT_EQ(Call("GET", "/workspaces/team/memory/research-backlog%3Apmm").status, 200);
  EXPECT_EQ(Call("GET", "/workspaces/team/memory/research-backlog:pmm").status, 200);
  EXPECT_EQ(Call("GET", "/memory/research-backlog:pmm").status, 404) << "other workspace";
  EXPECT_EQ(Call("GET", "/memory/%zz").status, 400);
  EXPECT_EQ(Call("GET", "/memory/%ff%fe").status, 400) << "invalid UTF-8";
  EXPECT_EQ(Call("GET", "/memory/a%00b").status, 400) << "NUL";
  EXPECT_EQ(Call("GET", "/workspaces/bad%20ws/memory").status, 400);
  EXPECT_EQ(Call("GET", ("/workspaces/" + std::string(129, 'w') + "/memory").c_str()).status, 400);
  EXPECT_EQ(Call("GET", ("/memory/" + std::string(1025, 'k')).c_str()).status, 400);
}

TEST_F(HandlerTest, UnknownRoutesAre404AndWrongMethods405WithAllow) {
  EXPECT_EQ(Call("GET", "/").status, 404);
  EXPECT_EQ(Call("GET", "/nope").status, 404);
  EXPECT_EQ(Call("GET", "/memory/a/b").status, 404);
  EXPECT_EQ(Call("GET", "/workspaces/x").status, 404);
  HttpResponse r = Call("PUT", "/memory");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET, POST");
  r = Call("POST", "/memory/k");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET, PATCH, DELETE");
  EXPECT_EQ(Call("POST", "/healthz").status, 405);
  EXPECT_EQ(Call("GET", "/healthz").body, R"({"status":"ok"})");
}

TEST_F(HandlerTest, ListFiltersAndLinksToTheNextPage) {
  for (std::string k : {"a", "b", "b/1", "b/2", "b/3 x", "c"}) {
    Post(R"({"key":")" + k + R"(","value":1})", "ws1");
  }
  auto keys = [](const std::string& body) {
    std::vector<std::string> out;
    size_t pos = 0;
    while ((pos = body.find("\"key\":\"", pos)) != std::string::npos) {
      pos += 7;
      out.push_back(body.substr(pos, body.find('"', pos) - pos));
    }
    return out;
  };
  EXPECT_EQ(keys(Call("GET", "/workspaces/ws1/memory").body),
            (std::vector<std::string>{"a", "b", "b/1", "b/2", "b/3 x", "c"}));
  EXPECT_EQ(keys(Call("GET", "/workspaces/ws1/memory?prefix=b%2F").body),
            (std::vector<std::string>{"b/1", "b/2", "b/3 x"}));
  EXPECT_EQ(keys(Call("GET", "/workspaces/ws1/memory?after=b%2F1").body),
            (std::vector<std::string>{"b/2", "b/3 x", "c"}));
  HttpResponse page = Call("GET", "/workspaces/ws1/memory?prefix=b/&limit=2");
  EXPECT_EQ(keys(page.body), (std::vector<std::string>{"b/1", "b/2"}));
  EXPECT_EQ(Header(page, "Link"), "</workspaces/ws1/memory?after=b%2F2&limit=2&prefix=b%2F>; rel=\"next\"");
  HttpResponse last = Call("GET", "/workspaces/ws1/memory?after=b%2F2&limit=2&prefix=b%2F");
  EXPECT_EQ(keys(last.body), (std::vector<std::string>{"b/3 x"}));
  EXPECT_EQ(Header(last, "Link"), "");
  EXPECT_EQ(Call("GET", "/workspaces/empty/memory").body, "[]");
  EXPECT_EQ(Call("GET", "/workspaces/ws1/memory?limit=0").status, 400);
  EXPECT_EQ(Call("GET", "/workspaces/ws1/memory?limit=10001").status, 400);
  EXPECT_EQ(Call("GET", "/workspaces/ws1/memory?limit=abc").status, 400);
}

TEST_F(HandlerTest, APageWithALimitEndsEarlyPastItsByteBudget) {
  // The default --max-value-bytes (1 MiB) instead of the fixture's 1000.
  handler.reset();
  store.reset();
  StoreOptions o;
  o.clock = &clock;
  o.sweep_interval = std::chrono::milliseconds(0);
  ASSERT_TRUE(Store::Open(o, &store).ok());
  handler = std::make_unique<Handler>(store.get(), &metrics);
  // Pieces of 32 entries make up a page: a limit of 70 over 100 keys.
  for (int i = 0; i < 100; ++i) Post(R"({"key":"s)" + std::to_string(1000 + i) + R"(","value":1})", "small");
  HttpResponse page = Call("GET", "/workspaces/small/memory?limit=70");
  size_t n = 0;
  for (size_t pos = 0; (pos = page.body.find("\"key\":", pos)) != std::string::npos; ++pos) ++n;
  EXPECT_EQ(n, 70u);
  EXPECT_EQ(Header(page, "Link"), "</workspaces/small/memory?after=s1069&limit=70>; rel=\"next\"");
  // Values of nearly 1 MiB: a page stops once past Handler::kPageBytes,
  // and its Link leads through every key exactly once.
  const std::string value = "\"" + std::string((1 << 20) - 100, 'v') + "\"";
  std::vector<std::string> want;
  for (int i = 0; i < 12; ++i) {
    want.push_back("k" + std::to_string(10 + i));
    ASSERT_EQ(Post(R"({"key":")" + want.back() + R"(","value":)" + value + "}", "big").status, 200);
  }
  std::vector<std::string> got;
  std::string target = "/workspaces/big/memory?limit=1000";
  int pages = 0;
  while (!target.empty() && pages < 20) {
    HttpResponse r = Call("GET", target);
    ASSERT_EQ(r.status, 200);
    EXPECT_LT(r.body.size(), Handler::kPageBytes + (1u << 20));
    ++pages;
    for (size_t pos = 0; (pos = r.body.find("\"key\":\"", pos)) != std::string::npos;) {
      pos += 7;
      got.push_back(r.body.substr(pos, r.body.find('"', pos) - pos));
    }
    const std::string link = Header(r, "Link");
    target = link.empty() ? "" : link.substr(1, link.find('>') - 1);
  }
  EXPECT_EQ(got, want);
  EXPECT_GE(pages, 3);
}

TEST_F(HandlerTest, LargeListWithoutLimitIsStreamedInPages) {
  for (int i = 0; i < 2500; ++i) {
    store->Put(PutRequest{"big", "k" + std::to_string(10000 + i), "1", std::nullopt, 0, {}, nullptr});
  }
  HandlerResult r = handler->Handle(HttpRequest{"GET", "/workspaces/big/memory", ""});
  ASSERT_TRUE(r.stream);
  std::string body, chunk;
  uint64_t lsn;
  int chunks = 0;
  while (r.stream->Next(&chunk, &lsn)) {
    body += chunk;
    ++chunks;
  }
  EXPECT_GE(chunks, 3);
  EXPECT_EQ(body.front(), '[');
  EXPECT_EQ(body.back(), ']');
  size_t count = 0, pos = 0;
  while ((pos = body.find("\"key\"", pos)) != std::string::npos) ++count, ++pos;
  EXPECT_EQ(count, 2500u);
  // A small workspace is answered in one piece.
  EXPECT_FALSE(handler->Handle(HttpRequest{"GET", "/memory", ""}).stream);
}

TEST_F(HandlerTest, MetricsExposeTheSeriesTheSpecNames) {
  Post(R"({"key":"k","value":1})");
  Post(R"({"key":"k","value":1,"if_match_version":9})");
  HandlerResult r = handler->Handle(HttpRequest{"GET", "/metrics", ""});
  EXPECT_EQ(r.response.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r.response.body;
  for (const char* series :
       {"casmem_http_requests_total", "casmem_conflicts_total 1", "casmem_write_latency_seconds_bucket",
        "casmem_wal_fsync_seconds_bucket", "casmem_wal_group_commit_records_bucket",
        "casmem_wal_bytes_written_total", "casmem_live_keys 1", "casmem_tombstones 0"}) {
    EXPECT_NE(m.find(series), std::string::npos) << series;
  }
}

// A disk that stalls: writes past --wal-max-pending are a retryable 503,
// distinct from the sticky "storage unavailable".
TEST(HandlerBusy, AStalledLogAnswers503StorageBusyWithRetryAfter) {
  testing::MemFs fs;
  StoreOptions o;
  o.data_dir = "/data";
  o.fs = &fs;
  o.sweep_interval = std::chrono::milliseconds(0);
  o.wal_max_pending_bytes = 2048;
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(o, &store).ok());
  Metrics metrics;
  Handler handler(store.get(), &metrics);
  std::mutex gate;
  gate.lock();
  fs.SetSyncHook([&] { std::lock_guard lk(gate); });
  HandlerResult r;
  for (int i = 0; i < 1000; ++i) {
    r = handler.Handle(HttpRequest{"POST", "/memory", R"({"key":"k","value":")" + std::string(100, 'v') + "\"}"});
    if (r.response.status != 200) break;
  }
  EXPECT_EQ(r.response.status, 503);
  EXPECT_EQ(r.response.body.rfind(R"({"error":"storage busy: the log is )", 0), 0u) << r.response.body;
  ASSERT_EQ(r.response.headers.size(), 1u);
  EXPECT_EQ(r.response.headers[0], (std::pair<std::string, std::string>{"Retry-After", "1"}));
  EXPECT_NE(metrics.Render(*store).find("casmem_wal_writes_refused_busy_total 1\n"), std::string::npos);
  gate.unlock();
  fs.SetSyncHook(nullptr);
}

TEST(Timestamp, Rfc3339WithMilliseconds) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(1'795'774'530'123), "2026-11-27T10:15:30.123Z");
  // The same text as gmtime_r + strftime, over four centuries of days and
  // every millisecond position (leap years, centuries, 2000, 2100).
  for (int64_t ms = 0; ms < 13'000'000'000'000; ms += 86'400'000LL * 97 + 3'723'456) {
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm;
    gmtime_r(&secs, &tm);
    char want[64];
    const size_t n = std::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(want + n, sizeof want - n, ".%03dZ", static_cast<int>(ms % 1000));
    ASSERT_EQ(FormatRfc3339(ms), want) << ms;
  }
  EXPECT_EQ(FormatRfc3339(951'782'400'000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(4'107'542'399'999), "2100-02-28T23:59:59.999Z");
}

// ParseRfc3339 reads what FormatRfc3339 writes back to the millisecond,
// and the other RFC 3339 forms a hand-written import may use.
TEST(Timestamp, ParseReadsWhatFormatWritesAndOtherForms) {
  for (int64_t ms = 0; ms < 13'000'000'000'000; ms += 86'400'000LL * 97 + 3'723'456) {
    int64_t back = -1;
    ASSERT_TRUE(ParseRfc3339(FormatRfc3339(ms), &back)) << FormatRfc3339(ms);
    ASSERT_EQ(back, ms);
  }
  const int64_t t = 1'795'774'530'123;  // 2026-11-27T10:15:30.123Z
  for (const char* same : {"2026-11-27T10:15:30.123Z", "2026-11-27t10:15:30.123z",
                           "2026-11-27T12:15:30.123+02:00", "2026-11-27T05:45:30.123-04:30",
                           "2026-11-27T10:15:30.123999999Z"}) {
    int64_t ms = 0;
    EXPECT_TRUE(ParseRfc3339(same, &ms)) << same;
    EXPECT_EQ(ms, t) << same;
  }
  int64_t ms = 0;
  EXPECT_TRUE(ParseRfc3339("2026-11-27T10:15:30Z", &ms));
  EXPECT_EQ(ms, t - 123);
  for (const char* bad : {"", "2026-11-27", "2026-11-27T10:15:30", "2026-02-30T00:00:00Z",
                          "2026-13-01T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T10:15:30.Z",
                          "2026-11-27T10:15:30.1234567890Z", "2026-11-27T10:15:30+2:00",
                          "2026-11-27T10:15:30Z ", "2026-11-27 10:15:30Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad, &ms)) << bad;
  }
}

}  // namespace
}  // namespace casmem::net
