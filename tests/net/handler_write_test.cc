// The pure handler's issue-8 writes: PATCH (memory-api.md §5),
// transactions (§6), revision in every write and entry (§1), Casmem-Writer
// and Idempotency-Key (§7), with the exact body shapes of the spec.
#include <gtest/gtest.h>

#include <string>

#include "net/handler_internal.h"
#include "net/json_out.h"
#include "tests/net/handler_fixture.h"

namespace casmem::net {
namespace {

constexpr const char* kJsonPatch = "application/json-patch+json";
constexpr const char* kMergePatch = "application/merge-patch+json";

// The number after "revision": in a body (0 if none).
uint64_t RevisionIn(const std::string& body) {
  const size_t at = body.find("\"revision\":");
  if (at == std::string::npos) return 0;
  return std::stoull(body.substr(at + 11));
}

class HandlerWriteTest : public HandlerTest {
 protected:
  HttpResponse Patch(std::string_view target, std::string_view body,
                     std::optional<std::string_view> type = kJsonPatch,
                     std::optional<std::string_view> if_match = std::nullopt) {
    HttpRequest req("PATCH", target, body);
    req.content_type = type;
    req.if_match = if_match;
    return Call(req);
  }
  HttpResponse Txn(std::string_view body, std::string_view target = "/workspaces/default/txn") {
    return Call("POST", target, body);
  }
  std::string Value(std::string_view key) {
    HttpResponse r = Call("GET", "/memory/" + std::string(key));
    if (r.status != 200) return "absent";
    const size_t v = r.body.find("\"value\":") + 8;
    return r.body.substr(v, r.body.find(",\"version\":") - v);
  }
};

TEST_F(HandlerWriteTest, JsonPatchAppliesAllOpsAndAnswersTheNewValue) {
  EXPECT_EQ(Post(R"({"key":"k","value":{"n":1,"l":[1.10],"big":12345678901234567890}})").status, 200);
  HttpResponse r = Patch("/memory/k", R"([{"op":"increment","path":"/n","value":41},)"
                                      R"({"op":"add","path":"/l/-","value":"x"}])");
  ASSERT_EQ(r.status, 200) << r.body;
  const uint64_t rev = RevisionIn(r.body);
  EXPECT_GT(rev, 0u);
  EXPECT_EQ(r.body, R"({"status":"ok","key":"k","version":2,"revision":)" + std::to_string(rev) +
                        R"(,"value":{"n":42,"l":[1.10,"x"],"big":12345678901234567890}})");
  EXPECT_EQ(Value("k"), R"({"n":42,"l":[1.10,"x"],"big":12345678901234567890})");
}

TEST_F(HandlerWriteTest, MergePatchCreatesAnAbsentKeyAndMediaTypesAreCaseInsensitive) {
  HttpResponse r = Patch("/workspaces/w/memory/m", R"({"a":{"b":1},"c":null})",
                         "Application/Merge-Patch+JSON ; charset=utf-8");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("version":1,)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("value":{"a":{"b":1}}})"), std::string::npos) << r.body;
  r = Patch("/workspaces/w/memory/m", R"({"a":{"b":null,"d":[]}})", kMergePatch);
  EXPECT_NE(r.body.find(R"("value":{"a":{"d":[]}}})"), std::string::npos) << r.body;
  // A JSON Patch on the whole absent document (path "") works too.
  r = Patch("/memory/fresh", R"([{"op":"add","path":"","value":[0]}])", " APPLICATION/JSON-PATCH+JSON");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Value("fresh"), "[0]");
}

TEST_F(HandlerWriteTest, OtherContentTypesAre415WithAcceptPatch) {
  Post(R"({"key":"k","value":1})");
  for (std::optional<std::string_view> type :
       {std::optional<std::string_view>(), std::optional<std::string_view>("application/json"),
        std::optional<std::string_view>("text/plain"), std::optional<std::string_view>(""),
        std::optional<std::string_view>("application/json-patch+jsonx")}) {
    HttpResponse r = Patch("/memory/k", "[]", type);
    EXPECT_EQ(r.status, 415) << type.value_or("(none)");
    EXPECT_EQ(Header(r, "Accept-Patch"), "application/json-patch+json, application/merge-patch+json");
    EXPECT_NE(r.body.find("\"error\":"), std::string::npos);
  }
  EXPECT_EQ(Value("k"), "1");
}

TEST_F(HandlerWriteTest, MalformedPatchesAndParametersAre400s) {
  Post(R"({"key":"k","value":{"a":1}})");
  const std::pair<std::string, std::string> bad[] = {
      {"/memory/k", "not json"},
      {"/memory/k", R"({"op":"add"})"},
      {"/memory/k", R"([{"op":"frobnicate","path":"/a"}])"},
      {"/memory/k", R"([{"op":"add","path":"a","value":1}])"},
      {"/memory/k", R"([{"op":"add","value":1}])"},
      {"/memory/k", R"([{"op":"increment","path":"/a","value":1.5}])"},
      {"/memory/k?if_match_version=x", "[]"},
      {"/memory/k?if_match_version=-1", "[]"},
      {"/memory/k?ttl_seconds=0", "[]"},
      {"/memory/k?ttl_seconds=315360001", "[]"},
      {"/memory/k?ttl_seconds=5s", "[]"},
      {"/memory/%ZZ", "[]"},
  };
  for (const auto& [target, body] : bad) {
    HttpResponse r = Patch(target, body);
    EXPECT_EQ(r.status, 400) << target << " " << body << " -> " << r.body;
    EXPECT_NE(r.body.find("\"error\":"), std::string::npos);
  }
  EXPECT_EQ(Patch("/memory/k", "{\"a\":", kMergePatch).status, 400);
  EXPECT_EQ(Patch("/memory/k", R"({"a":"\udc00"})", kMergePatch).status, 400);
  EXPECT_EQ(Value("k"), R"({"a":1})");
}

TEST_F(HandlerWriteTest, GuardFromTheQueryOrIfMatchAndBothMustAgree) {
  Post(R"({"key":"k","value":{"n":1}})");
  Post(R"({"key":"k","value":{"n":2}})");  // version 2
  const std::string inc = R"([{"op":"increment","path":"/n","value":1}])";
  HttpResponse r = Patch("/memory/k?if_match_version=1", inc);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, ConflictJson(1, 2, std::string(R"({"n":2})")));
  r = Patch("/memory/k", inc, kJsonPatch, "\"1\"");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, ConflictJson(1, 2, std::string(R"({"n":2})")));
  // Weak tags, lists, `*` and garbage are refused, not ignored.
  for (std::string_view tag : {"W/\"2\"", "*", "\"2\", \"3\"", "2", "\"\"", "\"x\""}) {
    EXPECT_EQ(Patch("/memory/k", inc, kJsonPatch, tag).status, 400) << tag;
  }
  EXPECT_EQ(Patch("/memory/k?if_match_version=2", inc, kJsonPatch, "\"1\"").status, 400);
  EXPECT_EQ(Value("k"), R"({"n":2})");
  r = Patch("/memory/k?if_match_version=2", inc, kJsonPatch, "\"2\"");
  EXPECT_EQ(r.status, 200) << r.body;
  r = Patch("/memory/k", inc, kJsonPatch, "\"3\"");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Value("k"), R"({"n":4})");
  // 0: only if absent.
  EXPECT_EQ(Patch("/memory/new?if_match_version=0", R"({"x":1})", kMergePatch).status, 200);
  EXPECT_EQ(Patch("/memory/new?if_match_version=0", R"({"x":1})", kMergePatch).status, 409);
}

TEST_F(HandlerWriteTest, FailedPatchIs409WithTheOpIndexAndCurrentState) {
  HttpRequest post("POST", "/memory", R"({"key":"k","value":{"a":[1,2]}})");
  post.writer = "seeder";
  Call(post);
  HttpResponse r = Patch("/memory/k", R"([{"op":"add","path":"/b","value":1},)"
                                      R"({"op":"test","path":"/a/0","value":7}])");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body.rfind(R"({"error":"patch failed: )", 0), 0u) << r.body;
  EXPECT_NE(r.body.find(R"(,"op_index":1,"current_version":1,"current_value":{"a":[1,2]},"current_writer":"seeder"})"),
            std::string::npos)
      << r.body;
  r = Patch("/memory/absent", R"([{"op":"remove","path":"/x"}])");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find(R"("op_index":0,"current_version":null})"), std::string::npos) << r.body;
  EXPECT_EQ(Value("k"), R"({"a":[1,2]})");
  EXPECT_EQ(Value("absent"), "absent");
}

TEST_F(HandlerWriteTest, PatchKeepsTheTtlUnlessGiven) {
  Post(R"({"key":"k","value":{"n":0},"ttl_seconds":3600})");
  const std::string inc = R"([{"op":"increment","path":"/n","value":1}])";
  clock.Advance(1000);
  EXPECT_EQ(Patch("/memory/k", inc).status, 200);
  EXPECT_NE(Call("GET", "/memory/k").body.find(R"("expires_at":"2026-11-27T11:15:30.123Z")"),
            std::string::npos);
  EXPECT_EQ(Patch("/memory/k?ttl_seconds=60", inc).status, 200);
  EXPECT_NE(Call("GET", "/memory/k").body.find(R"("expires_at":"2026-11-27T10:16:31.123Z")"),
            std::string::npos)
      << Call("GET", "/memory/k").body;
}

TEST_F(HandlerWriteTest, APatchResultOverTheValueLimitIs413) {
  Post(R"({"key":"k","value":[]})");
  const std::string big(600, 'x');
  EXPECT_EQ(Patch("/memory/k", R"([{"op":"add","path":"/-","value":")" + big + R"("}])").status, 200);
  HttpResponse r = Patch("/memory/k", R"([{"op":"add","path":"/-","value":")" + big + R"("}])");
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(Call("GET", "/memory/k").body.find("\"version\":3"), std::string::npos);
}

TEST_F(HandlerWriteTest, ItemRouteAllowsPatch) {
  HttpResponse r = Call("PUT", "/memory/k");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET, PATCH, DELETE");
  r = Call("GET", "/workspaces/w/txn");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "POST");
  EXPECT_EQ(Call("POST", "/workspaces/w/txn/x", "{}").status, 404);
  EXPECT_EQ(Call("POST", "/workspaces/bad%20ws/txn", "{}").status, 400);
}

TEST_F(HandlerWriteTest, RevisionGrowsWithEveryWriteAndEntriesCarryIt) {
  std::vector<uint64_t> revs;
  revs.push_back(RevisionIn(Post(R"({"key":"a","value":1})").body));
  revs.push_back(RevisionIn(Post(R"({"key":"b","value":1})", "other").body));
  revs.push_back(RevisionIn(Patch("/memory/a", R"({"x":1})", kMergePatch).body));
  HttpResponse del = Call("DELETE", "/memory/a");
  EXPECT_EQ(del.body, R"({"status":"deleted","revision":)" + std::to_string(RevisionIn(del.body)) + "}");
  revs.push_back(RevisionIn(del.body));
  revs.push_back(RevisionIn(Txn(R"({"ops":[{"op":"set","key":"c","value":1}]})").body));
  for (size_t i = 1; i < revs.size(); ++i) EXPECT_GT(revs[i], revs[i - 1]) << i;
  // A delete of an absent key writes nothing and reports no revision.
  EXPECT_EQ(Call("DELETE", "/memory/a").body, R"({"status":"deleted"})");
  // Entries carry the revision of the write that made their version.
  EXPECT_EQ(RevisionIn(Call("GET", "/memory/c").body), revs.back());
  EXPECT_NE(Call("GET", "/workspaces/other/memory").body.find("\"revision\":" + std::to_string(revs[1]) + ","),
            std::string::npos);
}

TEST_F(HandlerWriteTest, TransactionWritesAllKeysAtOneRevision) {
  Post(R"({"key":"queue","value":[1,2,3]})");
  Post(R"({"key":"stale","value":0})");
  HttpResponse r = Txn(R"({"ops":[
    {"op":"check","key":"queue","version":1},
    {"op":"patch","key":"queue","patch":[{"op":"remove","path":"/0"}]},
    {"op":"set","key":"claim:42","value":{"by":"dev-lead"},"if_match_version":0,"ttl_seconds":600},
    {"op":"delete","key":"stale","if_match_version":1},
    {"op":"delete","key":"never"},
    {"op":"check","key":"nothing","version":0},
    {"op":"patch","key":"counter","merge":{"n":1}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const uint64_t rev = RevisionIn(r.body);
  EXPECT_EQ(r.body, R"({"status":"ok","revision":)" + std::to_string(rev) +
                        R"(,"results":[{"key":"queue","version":1},{"key":"queue","version":2},)"
                        R"({"key":"claim:42","version":1},{"key":"stale","version":1},)"
                        R"({"key":"never","version":null},{"key":"nothing","version":null},)"
                        R"({"key":"counter","version":1}]})");
  EXPECT_EQ(Value("queue"), "[2,3]");
  EXPECT_EQ(Value("stale"), "absent");
  for (const char* key : {"queue", "claim%3A42", "counter"}) {
    EXPECT_EQ(RevisionIn(Call("GET", std::string("/memory/") + key).body), rev) << key;
  }
  EXPECT_NE(Call("GET", "/memory/claim:42").body.find("expires_at"), std::string::npos);
  // Only checks: the current revision, nothing written.
  r = Txn(R"({"ops":[{"op":"check","key":"queue","version":2}]})", "/txn");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RevisionIn(r.body), rev);
}

// A transaction that fails at any op writes nothing, and its 409 names
// that op with that op's own 409 members.
TEST_F(HandlerWriteTest, TransactionFailingAtEachOpWritesNothing) {
  HttpRequest seed("POST", "/memory", R"({"key":"a","value":{"n":1}})");
  seed.writer = "w1";
  Call(seed);
  Post(R"({"key":"b","value":[1]})");
  Post(R"({"key":"c","value":"c"})");
  const std::string ops[] = {
      R"({"op":"check","key":"a","version":1})",
      R"({"op":"set","key":"a","value":2,"if_match_version":1})",
      R"({"op":"patch","key":"b","patch":[{"op":"add","path":"/-","value":2}]})",
      R"({"op":"delete","key":"c","if_match_version":1})",
  };
  const std::string failing[] = {
      R"({"op":"check","key":"a","version":5})",
      R"({"op":"set","key":"a","value":2,"if_match_version":4})",
      R"({"op":"patch","key":"b","patch":[{"op":"add","path":"/-","value":2},{"op":"test","path":"/0","value":9}]})",
      R"({"op":"delete","key":"c","if_match_version":0})",
  };
  const std::string expected[] = {
      R"({"error":"transaction failed","op_index":0,"reason":"version mismatch","expected_version":5,"current_version":1,"current_value":{"n":1},"current_writer":"w1"})",
      R"({"error":"transaction failed","op_index":1,"reason":"if_match_version mismatch","expected_version":4,"current_version":1,"current_value":{"n":1},"current_writer":"w1"})",
      "",  // the patch's message is the engine's: checked by parts below
      R"({"error":"transaction failed","op_index":3,"reason":"if_match_version mismatch","expected_version":0,"current_version":1,"current_value":"c"})",
  };
  const uint64_t before = store->revision();
  for (int fail = 0; fail < 4; ++fail) {
    std::string body = R"({"ops":[)";
    for (int i = 0; i < 4; ++i) {
      if (i) body += ",";
      body += i == fail ? failing[i] : ops[i];
    }
    body += "]}";
    HttpResponse r = Txn(body);
    EXPECT_EQ(r.status, 409) << fail << ": " << r.body;
    if (fail == 2) {
      EXPECT_EQ(r.body.rfind(R"({"error":"transaction failed","op_index":2,"reason":"patch failed: )", 0), 0u) << r.body;
      EXPECT_NE(r.body.find(R"(,"patch_op_index":1,"current_version":1,"current_value":[1]})"), std::string::npos)
          << r.body;
    } else {
      EXPECT_EQ(r.body, expected[fail]);
    }
    EXPECT_EQ(store->revision(), before) << fail;
    EXPECT_EQ(Value("a"), R"({"n":1})");
    EXPECT_EQ(Value("b"), "[1]");
    EXPECT_EQ(Value("c"), R"("c")");
  }
}

TEST_F(HandlerWriteTest, MalformedTransactionsAre400sAndBigValues413) {
  EXPECT_EQ(Txn("nope").status, 400);
  EXPECT_EQ(Txn(R"({"ops":[]})").status, 400);
  HttpResponse r = Txn(R"({"ops":[{"op":"set","key":"a","value":1},{"op":"patch","key":"b","patch":[{"op":"nope"}]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.rfind(R"({"error":"op 1: malformed patch)", 0), 0u) << r.body;
  r = Txn(R"({"ops":[{"op":"set","key":"a","value":1},{"op":"set","key":"a","value":2}]})");
  EXPECT_EQ(r.body, ErrorJson("op 1: key already written by op 0"));
  r = Txn(R"({"ops":[{"op":"set","key":"a","value":")" + std::string(1200, 'x') + R"("}]})");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Value("a"), "absent");
}

TEST_F(HandlerWriteTest, WriterIsKeptWithItsVersionAndReportedInConflicts) {
  HttpRequest req("POST", "/memory", R"({"key":"k","value":1})");
  req.writer = "dev lead";
  Call(req);
  HttpResponse get = Call("GET", "/memory/k");
  EXPECT_EQ(get.body.substr(get.body.size() - 21), R"(,"writer":"dev lead"})") << get.body;
  EXPECT_NE(Call("GET", "/memory").body.find(R"("writer":"dev lead")"), std::string::npos);
  HttpResponse conflict = Post(R"({"key":"k","value":2,"if_match_version":0})");
  EXPECT_EQ(conflict.body, ConflictJson(0, 1, std::string("1"), std::string("dev lead")));
  EXPECT_EQ(handler->ConflictNow("default", "k", 0).response.body, conflict.body);
  // A write without the header makes a version without a writer.
  Post(R"({"key":"k","value":3})");
  EXPECT_EQ(Call("GET", "/memory/k").body.find("writer"), std::string::npos);
  HttpRequest patch("PATCH", "/memory/k", "[]");
  patch.content_type = kJsonPatch;
  patch.writer = "patcher";
  Call(patch);
  HttpRequest txn("POST", "/txn", R"({"ops":[{"op":"set","key":"t","value":1}]})");
  txn.writer = "txn-writer";
  Call(txn);
  EXPECT_NE(Call("GET", "/memory/k").body.find(R"("writer":"patcher")"), std::string::npos);
  EXPECT_NE(Call("GET", "/memory/t").body.find(R"("writer":"txn-writer")"), std::string::npos);
}

TEST_F(HandlerWriteTest, BadOrRepeatedHeadersAre400s) {
  HttpRequest req("POST", "/memory", R"({"key":"k","value":1})");
  req.idempotency_key = "has space";
  EXPECT_EQ(Call(req).status, 400);
  req.idempotency_key = std::string(256, 'k');
  EXPECT_EQ(Call(req).status, 400);
  req.idempotency_key.reset();
  req.writer = "";
  EXPECT_EQ(Call(req).status, 400);
  req.writer = std::string(129, 'w');
  EXPECT_EQ(Call(req).status, 400);
  req.writer = "ok";
  req.repeated_header = "Casmem-Writer";
  HttpResponse r = Call(req);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, ErrorJson("Casmem-Writer given more than once"));
  EXPECT_EQ(Value("k"), "absent");
}

TEST_F(HandlerWriteTest, IdempotencyKeyReplaysTheFirstAnswerByteForByte) {
  auto with_key = [](HttpRequest r, std::string_view key) {
    r.idempotency_key = key;
    return r;
  };
  // POST: replayed, written once.
  const HttpRequest post = with_key(HttpRequest("POST", "/memory", R"({"key":"k","value":{"n":0}})"), "p-1");
  HandlerResult first = handler->Handle(post);
  ASSERT_TRUE(store->WaitVisible(first.visible_lsn).ok());
  EXPECT_EQ(first.response.status, 200);
  EXPECT_EQ(Header(first.response, "Idempotency-Replayed"), "");
  HandlerResult again = handler->Handle(post);
  ASSERT_TRUE(store->WaitVisible(again.visible_lsn).ok());
  EXPECT_EQ(again.response.status, 200);
  EXPECT_EQ(again.response.body, first.response.body);
  EXPECT_EQ(Header(again.response, "Idempotency-Replayed"), "true");
  EXPECT_EQ(again.key_event, KeyEvent::kNone);
  EXPECT_NE(Call("GET", "/memory/k").body.find("\"version\":1,"), std::string::npos);
  // The same key with another request: 422, nothing written.
  HttpResponse reused = Call(with_key(HttpRequest("POST", "/memory", R"({"key":"k","value":{"n":9}})"), "p-1"));
  EXPECT_EQ(reused.status, 422);
  EXPECT_EQ(reused.body, R"({"error":"Idempotency-Key already used for a different request"})");
  EXPECT_EQ(Value("k"), R"({"n":0})");
  // PATCH: an increment retried is applied once.
  HttpRequest inc("PATCH", "/memory/k", R"([{"op":"increment","path":"/n","value":1}])");
  inc.content_type = kJsonPatch;
  inc = with_key(inc, "inc-1");
  const HttpResponse inc1 = Call(inc);
  const HttpResponse inc2 = Call(inc);
  EXPECT_EQ(inc1.status, 200);
  EXPECT_EQ(inc2.body, inc1.body);
  EXPECT_EQ(Header(inc2, "Idempotency-Replayed"), "true");
  EXPECT_EQ(Value("k"), R"({"n":1})");
  // If-Match is part of the request: the same key with another If-Match is 422.
  inc.if_match = "\"2\"";
  EXPECT_EQ(Call(inc).status, 422);
  // A 409 is remembered and replayed too, even after the key changed.
  const HttpRequest guarded =
      with_key(HttpRequest("POST", "/memory", R"({"key":"k","value":5,"if_match_version":1})"), "g-1");
  const HttpResponse c1 = Call(guarded);
  EXPECT_EQ(c1.status, 409);
  Post(R"({"key":"k","value":"moved on"})");
  const HttpResponse c2 = Call(guarded);
  EXPECT_EQ(c2.status, 409);
  EXPECT_EQ(c2.body, c1.body);
  EXPECT_EQ(Header(c2, "Idempotency-Replayed"), "true");
  // DELETE and a transaction.
  const HttpRequest del = with_key(HttpRequest("DELETE", "/memory/k"), "d-1");
  const HttpResponse d1 = Call(del);
  Post(R"({"key":"k","value":"back"})");
  const HttpResponse d2 = Call(del);
  EXPECT_EQ(d2.body, d1.body);
  EXPECT_EQ(Header(d2, "Idempotency-Replayed"), "true");
  EXPECT_EQ(Value("k"), R"("back")");
  const HttpRequest txn =
      with_key(HttpRequest("POST", "/txn", R"({"ops":[{"op":"patch","key":"ctr","merge":{"x":1}}]})"), "t-1");
  const HttpResponse t1 = Call(txn);
  const uint64_t rev = store->revision();
  const HttpResponse t2 = Call(txn);
  EXPECT_EQ(t1.status, 200);
  EXPECT_EQ(t2.body, t1.body);
  EXPECT_EQ(Header(t2, "Idempotency-Replayed"), "true");
  EXPECT_EQ(store->revision(), rev);
  // Keys are per workspace.
  EXPECT_EQ(Call(with_key(HttpRequest("POST", "/workspaces/w2/memory", R"({"key":"k","value":{"n":0}})"), "p-1")).status,
            200);
}

// A stale loser with an Idempotency-Key is answered at once, never held
// for its key's turn: a held 409 is rebuilt from the key's state when its
// turn comes and would differ from the answer remembered for a replay.
TEST_F(HandlerWriteTest, RememberedConflictsAreNotHeldForATurn) {
  Post(R"({"key":"k","value":1})");
  Post(R"({"key":"k","value":2})");
  HttpRequest stale("POST", "/memory", R"({"key":"k","value":3,"if_match_version":1})");
  HandlerResult r = handler->Handle(stale);
  EXPECT_EQ(r.response.status, 409);
  EXPECT_EQ(r.key_event, KeyEvent::kStaleConflict);
  stale.idempotency_key = "s-1";
  r = handler->Handle(stale);
  EXPECT_EQ(r.response.status, 409);
  EXPECT_EQ(r.key_event, KeyEvent::kNone);
  HttpRequest patch("PATCH", "/memory/k?if_match_version=1", R"({"a":1})");
  patch.content_type = kMergePatch;
  EXPECT_EQ(handler->Handle(patch).key_event, KeyEvent::kStaleConflict);
  patch.idempotency_key = "s-2";
  EXPECT_EQ(handler->Handle(patch).key_event, KeyEvent::kNone);
  HttpRequest del("DELETE", "/memory/k?if_match_version=1");
  del.idempotency_key = "s-3";
  EXPECT_EQ(handler->Handle(del).key_event, KeyEvent::kNone);
}

TEST_F(HandlerWriteTest, MetricsCountPatchTxnReplaysAndIdempotencyMemory) {
  HttpRequest req("POST", "/memory", R"({"key":"k","value":1})");
  req.idempotency_key = "m-1";
  for (int i = 0; i < 2; ++i) {
    HandlerResult r = handler->Handle(req);
    metrics.CountRequest(r.route, r.response.status);
  }
  HttpRequest other("POST", "/memory", R"({"key":"k","value":2})");
  other.idempotency_key = "m-1";
  HandlerResult r = handler->Handle(other);
  metrics.CountRequest(r.route, r.response.status);
  HttpRequest patch("PATCH", "/memory/k", "[]");
  patch.content_type = "text/plain";
  r = handler->Handle(patch);
  metrics.CountRequest(r.route, r.response.status);
  r = handler->Handle(HttpRequest("POST", "/txn", R"({"ops":[{"op":"check","key":"k","version":1}]})"));
  metrics.CountRequest(r.route, r.response.status);
  const std::string text = metrics.Render(*store);
  for (const char* line : {
           R"(casmem_http_requests_total{route="memory_collection",status="200"} 2)",
           R"(casmem_http_requests_total{route="memory_collection",status="422"} 1)",
           R"(casmem_http_requests_total{route="memory_patch",status="415"} 1)",
           R"(casmem_http_requests_total{route="txn",status="200"} 1)",
           "casmem_idempotency_replays_total 1\n",
           "casmem_idempotency_entries 1\n",
           "# TYPE casmem_idempotency_bytes gauge\n",
           "casmem_idempotency_evicted_total 0\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

// Outcomes the handler tests cannot reach with a memory-only store (an
// answer still waiting for its fsync, a failing or busy log) map to their
// documented answers; none of them carries Idempotency-Replayed.
TEST(RenderWriteTest, EveryOutcomeHasItsAnswer) {
  WriteResult w;
  w.outcome = Outcome::kInProgress;
  HttpResponse r = RenderWrite(WriteKind::kPut, "k", std::nullopt, w);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, R"({"error":"request in progress"})");
  EXPECT_TRUE(r.headers.empty());
  w.outcome = Outcome::kIdempotencyReused;
  r = RenderWrite(WriteKind::kPatch, "k", std::nullopt, w);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body, R"({"error":"Idempotency-Key already used for a different request"})");
  w.outcome = Outcome::kReplay;
  w.replay = Replay{409, R"({"error":"if_match_version mismatch","expected_version":1,"current_version":null})"};
  r = RenderWrite(WriteKind::kDelete, "k", 1, w);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, w.replay.body);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>("Idempotency-Replayed", "true")));
  w.outcome = Outcome::kStorageFailed;
  EXPECT_EQ(RenderWrite(WriteKind::kPut, "k", std::nullopt, w).body, R"({"error":"storage unavailable"})");
  w.outcome = Outcome::kBusy;
  w.error = "behind";
  r = RenderWrite(WriteKind::kPut, "k", std::nullopt, w);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  w.outcome = Outcome::kTooLarge;
  w.patch_error.message = "result larger than 1000 bytes";
  r = RenderWrite(WriteKind::kPatch, "k", std::nullopt, w);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, R"({"error":"result larger than 1000 bytes"})");
  w.outcome = Outcome::kInvalid;
  w.patch_error.message = "result nested deeper than 128 levels";
  EXPECT_EQ(RenderWrite(WriteKind::kPatch, "k", std::nullopt, w).status, 400);
}

}  // namespace
}  // namespace casmem::net
