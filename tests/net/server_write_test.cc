// casmemd end to end for issue 8's writes: PATCH, transactions, revision,
// Casmem-Writer and Idempotency-Key through real HTTP (the headers as the
// session reads them), and remembered answers surviving a SIGTERM restart
// and a SIGKILL after the acknowledged reply.
#include <gtest/gtest.h>

#include <string>

#include "tests/net/server_fixture.h"

namespace casmem::testing {
namespace {

uint64_t RevisionIn(const std::string& body) {
  const size_t at = body.find("\"revision\":");
  return at == std::string::npos ? 0 : std::stoull(body.substr(at + 11));
}

TEST_F(ServerTest, PatchAndTransactionOverHttp) {
  Start();
  auto c = Client();
  ASSERT_EQ(c->Request("POST", "/workspaces/w/memory", R"({"key":"ctr","value":{"n":1,"agents":[]}})").status, 200);
  HttpReply r = c->Request("PATCH", "/workspaces/w/memory/ctr",
                           R"([{"op":"increment","path":"/n","value":1},{"op":"add","path":"/agents/-","value":"a1"}])",
                           "Content-Type: application/json-patch+json; charset=utf-8\r\nIf-Match: \"1\"\r\n");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"status":"ok","key":"ctr","version":2,"revision":)" + std::to_string(RevisionIn(r.body)) +
                        R"(,"value":{"n":2,"agents":["a1"]}})");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  r = c->Request("PATCH", "/workspaces/w/memory/ctr", R"({"n":5})", "Content-Type: application/json\r\n");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(r.Header("accept-patch"), "application/json-patch+json, application/merge-patch+json");
  r = c->Request("PATCH", "/workspaces/w/memory/ctr?if_match_version=2", R"({"n":5})",
                 "Content-Type: application/merge-patch+json\r\nIf-Match: \"1\"\r\n");
  EXPECT_EQ(r.status, 400);
  r = c->Request("PATCH", "/workspaces/w/memory/ctr", R"({"n":5})",
                 "Content-Type: application/merge-patch+json\r\nIf-Match: \"1\"\r\n");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find(R"("current_version":2,"current_value":{"n":2,"agents":["a1"]})"), std::string::npos) << r.body;

  r = c->Request("POST", "/workspaces/w/txn",
                 R"({"ops":[{"op":"check","key":"ctr","version":2},{"op":"patch","key":"ctr","merge":{"n":null}},)"
                 R"({"op":"set","key":"claim","value":true,"if_match_version":0}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const uint64_t rev = RevisionIn(r.body);
  EXPECT_EQ(r.body, R"({"status":"ok","revision":)" + std::to_string(rev) +
                        R"(,"results":[{"key":"ctr","version":2},{"key":"ctr","version":3},{"key":"claim","version":1}]})");
  EXPECT_EQ(RevisionIn(c->Request("GET", "/workspaces/w/memory/ctr").body), rev);
  EXPECT_EQ(RevisionIn(c->Request("GET", "/workspaces/w/memory/claim").body), rev);
  r = c->Request("POST", "/workspaces/w/txn",
                 R"({"ops":[{"op":"set","key":"x","value":1},{"op":"check","key":"claim","version":7}]})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body.rfind(R"({"error":"transaction failed","op_index":1,"reason":"version mismatch")", 0), 0u) << r.body;
  EXPECT_EQ(c->Request("GET", "/workspaces/w/memory/x").status, 404);
}

TEST_F(ServerTest, WriterAndHeaderChecksOverHttp) {
  Start();
  auto c = Client();
  HttpReply r = c->Request("POST", "/memory", R"({"key":"k","value":1})", "Casmem-Writer: dev lead\r\n");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(c->Request("GET", "/memory/k").body.find(R"("writer":"dev lead")"), std::string::npos);
  r = c->Request("POST", "/memory", R"({"key":"k","value":2,"if_match_version":0})");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find(R"("current_writer":"dev lead")"), std::string::npos) << r.body;
  // Repeated and malformed headers: 400, nothing written.
  EXPECT_EQ(c->Request("POST", "/memory", R"({"key":"k","value":3})",
                       "Idempotency-Key: a\r\nIdempotency-Key: b\r\n").status, 400);
  EXPECT_EQ(c->Request("POST", "/memory", R"({"key":"k","value":3})",
                       "Casmem-Writer: a\r\ncasmem-writer: b\r\n").status, 400);
  EXPECT_EQ(c->Request("DELETE", "/memory/k", "", "Idempotency-Key: \xC3\xA9\r\n").status, 400);
  EXPECT_EQ(c->Request("PATCH", "/memory/k", "{}",
                       "Content-Type: application/merge-patch+json\r\nContent-Type: application/json-patch+json\r\n")
                .status,
            400);
  EXPECT_EQ(c->Request("GET", "/memory/k").body.find("\"value\":3"), std::string::npos);
  EXPECT_NE(c->Request("GET", "/metrics").body.find(R"(route="memory_collection",status="400"} 2)"),
            std::string::npos);
}

// The answer to a write with an Idempotency-Key is kept with the write:
// replayed byte for byte (with Idempotency-Replayed) on the same
// connection, after a SIGTERM restart and after a SIGKILL that follows
// the acknowledged reply; the key with another request is a 422.
TEST_F(ServerTest, IdempotentRepliesSurviveRestartAndKill) {
  Start();
  auto c = Client();
  const std::string inc = R"([{"op":"increment","path":"/n","value":1}])";
  const std::string patch_headers = "Content-Type: application/json-patch+json\r\nIdempotency-Key: inc-1\r\n";
  ASSERT_EQ(c->Request("POST", "/memory", R"({"key":"ctr","value":{"n":0}})").status, 200);
  const HttpReply first = c->Request("PATCH", "/memory/ctr", inc, patch_headers);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.Header("idempotency-replayed"), "");
  HttpReply again = c->Request("PATCH", "/memory/ctr", inc, patch_headers);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("idempotency-replayed"), "true");
  EXPECT_EQ(c->Request("PATCH", "/memory/ctr", R"([{"op":"increment","path":"/n","value":2}])", patch_headers).status,
            422);
  const std::string txn = R"({"ops":[{"op":"set","key":"t","value":"x"}]})";
  const HttpReply txn_first = c->Request("POST", "/txn", txn, "Idempotency-Key: txn-1\r\n");
  ASSERT_EQ(txn_first.status, 200);

  c.reset();
  ASSERT_EQ(server->Terminate(), 0) << server->Stderr();
  Start();
  c = Client();
  again = c->Request("PATCH", "/memory/ctr", inc, patch_headers);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("idempotency-replayed"), "true");
  again = c->Request("POST", "/txn", txn, "Idempotency-Key: txn-1\r\n");
  EXPECT_EQ(again.body, txn_first.body);
  EXPECT_EQ(again.Header("idempotency-replayed"), "true");

  // Acknowledged, then killed: the answer is durable with the write.
  const HttpReply second = c->Request("PATCH", "/memory/ctr", inc,
                                      "Content-Type: application/json-patch+json\r\nIdempotency-Key: inc-2\r\n");
  ASSERT_EQ(second.status, 200);
  const HttpReply conflict = c->Request("POST", "/memory", R"({"key":"ctr","value":0,"if_match_version":1})",
                                        "Idempotency-Key: lost-1\r\n");
  ASSERT_EQ(conflict.status, 409);
  c.reset();
  server->Kill();
  Start();
  c = Client();
  again = c->Request("PATCH", "/memory/ctr", inc,
                     "Content-Type: application/json-patch+json\r\nIdempotency-Key: inc-2\r\n");
  EXPECT_EQ(again.body, second.body);
  EXPECT_EQ(again.Header("idempotency-replayed"), "true");
  again = c->Request("POST", "/memory", R"({"key":"ctr","value":0,"if_match_version":1})", "Idempotency-Key: lost-1\r\n");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.body, conflict.body);
  EXPECT_EQ(again.Header("idempotency-replayed"), "true");
  // Each increment was applied exactly once.
  EXPECT_NE(c->Request("GET", "/memory/ctr").body.find(R"("value":{"n":2})"), std::string::npos);
  EXPECT_NE(c->Request("GET", "/metrics").body.find("casmem_idempotency_replays_total 2\n"), std::string::npos);
}

}  // namespace
}  // namespace casmem::testing
