// ParseTxnBody: the shapes of memory-api.md §6's ops, every 400 naming the
// op at fault, the key rules across ops, and the input rules every body
// parser shares (depth, UTF-8, exact number text).
#include "net/txn_body.h"

#include <gtest/gtest.h>

#include <string>

namespace casmem::net {
namespace {

std::vector<TxnBodyOp> Ok(std::string_view body) {
  std::string error;
  auto ops = ParseTxnBody(body, &error);
  EXPECT_TRUE(ops) << body << ": " << error;
  return ops ? *ops : std::vector<TxnBodyOp>{};
}

std::string Bad(std::string_view body) {
  std::string error;
  auto ops = ParseTxnBody(body, &error);
  EXPECT_FALSE(ops) << body;
  return error;
}

TEST(TxnBodyTest, TheSpecExampleParses) {
  auto ops = Ok(R"({"ops": [
    {"op": "check",  "key": "queue", "version": 7},
    {"op": "patch",  "key": "queue", "patch": [{"op": "remove", "path": "/0"}]},
    {"op": "set",    "key": "claim:42", "value": {"by": "dev-lead"}, "if_match_version": 0, "ttl_seconds": 600},
    {"op": "delete", "key": "stale", "if_match_version": 3}
  ]})");
  ASSERT_EQ(ops.size(), 4u);
  EXPECT_EQ(ops[0].type, TxnOp::Type::kCheck);
  EXPECT_EQ(ops[0].key, "queue");
  EXPECT_EQ(ops[0].version, 7u);
  EXPECT_EQ(ops[1].type, TxnOp::Type::kPatch);
  EXPECT_EQ(ops[1].patch_text, R"([{"op":"remove","path":"/0"}])");
  EXPECT_FALSE(ops[1].merge);
  EXPECT_FALSE(ops[1].version);
  EXPECT_FALSE(ops[1].ttl_seconds);
  EXPECT_EQ(ops[2].type, TxnOp::Type::kSet);
  EXPECT_EQ(ops[2].value, R"({"by":"dev-lead"})");
  EXPECT_EQ(ops[2].version, 0u);
  EXPECT_EQ(ops[2].ttl_seconds, 600u);
  EXPECT_EQ(ops[3].type, TxnOp::Type::kDelete);
  EXPECT_EQ(ops[3].version, 3u);
}

TEST(TxnBodyTest, ValuesAndMergePatchesKeepTheirExactText) {
  auto ops = Ok(R"({"ops":[{"op":"set","key":"a","value":[1.10, -0, 12345678901234567890, "\u00e9"]},)"
                R"({"op":"patch","key":"b","merge":{"n": 1e5, "x": null}},)"
                R"({"op":"patch","key":"c","merge":null}]})");
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0].value, "[1.10,-0,12345678901234567890,\"\xC3\xA9\"]");
  EXPECT_TRUE(ops[1].merge);
  EXPECT_EQ(ops[1].patch_text, R"({"n":1e5,"x":null})");
  EXPECT_TRUE(ops[2].merge);
  EXPECT_EQ(ops[2].patch_text, "null");
}

TEST(TxnBodyTest, NullMeansNotGivenAndUnknownMembersAreIgnored) {
  auto ops = Ok(R"({"ops":[{"op":"set","key":"a","value":null,"if_match_version":null,)"
                R"("ttl_seconds":null,"note":{"deep":[1,2]}}],"comment":[{"x":1}]})");
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].value, "null");
  EXPECT_FALSE(ops[0].version);
  EXPECT_FALSE(ops[0].ttl_seconds);
}

TEST(TxnBodyTest, MalformedBodiesAre400sNamingTheOp) {
  std::string hidden = R"({"ops":[{"op":"delete","key":"a"}]})";
  hidden.append(1, '\0').append("{");  // (appended: GCC 12 -O1 misreads a + chain)
  EXPECT_EQ(Bad(hidden), "malformed JSON at offset 35: a NUL byte");
  EXPECT_EQ(Bad("[]"), "the body must be a JSON object");
  EXPECT_EQ(Bad("{}"), "missing field \"ops\"");
  EXPECT_EQ(Bad(R"({"ops":[]})"), "\"ops\" must hold 1 to 128 operations");
  EXPECT_EQ(Bad(R"({"ops":{}})"), "\"ops\" must be an array");
  EXPECT_EQ(Bad(R"({"ops":3})"), "\"ops\" must be an array");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"set","key":"a","value":1}],"ops":[]})"), "\"ops\" given twice");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"set","key":"a","value":1},2]})"), "op 1: an op must be a JSON object");
  EXPECT_EQ(Bad(R"({"ops":[{"key":"a","value":1}]})"), "op 0: missing field \"op\"");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"set","value":1}]})"), "op 0: missing field \"key\"");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"set","key":"a"}]})"), "op 0: missing field \"value\"");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"check","key":"a"}]})"), "op 0: missing field \"version\"");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"check","key":"a","version":null}]})"),
            "op 0: missing field \"version\"");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"patch","key":"a"}]})"), "op 0: a patch op needs \"patch\" or \"merge\"");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"zap","key":"a"}]})"),
            "op 0: \"op\" must be \"set\", \"patch\", \"delete\" or \"check\"");
  EXPECT_EQ(Bad(R"({"ops":[{"op":1,"key":"a"}]})"), "op 0: \"op\" must be a string");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"delete","key":7}]})"), "op 0: \"key\" must be a string");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"delete","key":""}]})"), "op 0: key must not be empty");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"patch","key":"a","patch":{"op":"add"}}]})"),
            "op 0: \"patch\" must be an array of operations");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"patch","key":"a","patch":"x"}]})"),
            "op 0: \"patch\" must be an array of operations");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"delete","key":"a","if_match_version":{}}]})"),
            "op 0: \"if_match_version\" must not be an object or array");
  for (const char* guard : {"-1", "1.5", "\"3\"", "true", "1e2", "99999999999999999999999"}) {
    EXPECT_NE(Bad(std::string(R"({"ops":[{"op":"set","key":"a","value":1},{"op":"delete","key":"b","if_match_version":)") +
                  guard + "}]}")
                  .find("op 1: \"if_match_version\""),
              std::string::npos)
        << guard;
  }
  EXPECT_EQ(Bad(R"({"ops":[{"op":"set","key":"a","value":1,"ttl_seconds":0}]})"),
            "op 0: \"ttl_seconds\" must be an integer from 1 to 315360000");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"set","key":"a","value":1,"ttl_seconds":315360001}]})"),
            "op 0: \"ttl_seconds\" must be an integer from 1 to 315360000");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"set","key":"a","value":1})"),
            "malformed JSON at offset 40: Missing a comma or ']' after an array element.");
}

// A member of another op type is refused, not ignored: a `version` meant
// as a guard on a delete would otherwise delete unconditionally.
TEST(TxnBodyTest, MembersOfAnotherOpTypeAreRefused) {
  EXPECT_EQ(Bad(R"({"ops":[{"op":"delete","key":"a","version":3}]})"),
            "op 0: \"version\" does not apply to a delete op");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"check","key":"a","version":1,"if_match_version":1}]})"),
            "op 0: \"if_match_version\" does not apply to a check op");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"set","key":"a","value":1,"merge":{}}]})"),
            "op 0: \"merge\" does not apply to a set op");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"patch","key":"a","merge":{},"value":1}]})"),
            "op 0: \"value\" does not apply to a patch op");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"delete","key":"a","ttl_seconds":5}]})"),
            "op 0: \"ttl_seconds\" does not apply to a delete op");
  // A null member is "not given", so it applies to nothing and is allowed.
  EXPECT_EQ(Ok(R"({"ops":[{"op":"check","key":"a","version":2,"if_match_version":null}]})")[0].version, 2u);
}

TEST(TxnBodyTest, AKeyIsWrittenOnceAndCheckedOnlyBeforeItsWrite) {
  EXPECT_EQ(Bad(R"({"ops":[{"op":"set","key":"a","value":1},{"op":"delete","key":"a"}]})"),
            "op 1: key already written by op 0");
  EXPECT_EQ(Bad(R"({"ops":[{"op":"set","key":"a","value":1},{"op":"check","key":"a","version":1}]})"),
            "op 1: a check of a key must come before its write (op 0)");
  auto ops = Ok(R"({"ops":[{"op":"check","key":"a","version":1},{"op":"check","key":"a","version":1},)"
                R"({"op":"set","key":"a","value":1},{"op":"set","key":"b","value":1}]})");
  EXPECT_EQ(ops.size(), 4u);
}

TEST(TxnBodyTest, AtMost128Ops) {
  auto body = [](int n) {
    std::string b = R"({"ops":[)";
    for (int i = 0; i < n; ++i) {
      if (i) b += ',';
      b += R"({"op":"set","key":"k)" + std::to_string(i) + R"(","value":1})";
    }
    return b + "]}";
  };
  EXPECT_EQ(Ok(body(128)).size(), 128u);
  EXPECT_EQ(Bad(body(129)), "a transaction holds at most 128 ops");
}

TEST(TxnBodyTest, DepthIsBoundedEverywhereWithoutRecursion) {
  auto nest = [](int n) { return std::string(n, '[') + std::string(n, ']'); };
  // A value may nest kMaxJsonDepth levels; a JSON Patch two more (its
  // array and an operation object around each value, as in a PATCH body).
  Ok(R"({"ops":[{"op":"set","key":"a","value":)" + nest(kMaxJsonDepth) + "}]}");
  EXPECT_NE(Bad(R"({"ops":[{"op":"set","key":"a","value":)" + nest(kMaxJsonDepth + 1) + "}]}")
                .find("nested deeper"),
            std::string::npos);
  Ok(R"({"ops":[{"op":"patch","key":"a","patch":[)" + nest(kMaxJsonDepth + 1) + "]}]}");
  Ok(R"({"ops":[{"op":"patch","key":"a","patch":[{"op":"add","path":"","value":)" +
     nest(kMaxJsonDepth) + "}]}]}");
  EXPECT_NE(Bad(R"({"ops":[{"op":"patch","key":"a","patch":[)" + nest(kMaxJsonDepth + 2) + "]}]}")
                .find("nested deeper"),
            std::string::npos);
  EXPECT_NE(Bad(R"({"ops":[{"op":"patch","key":"a","merge":)" + nest(kMaxJsonDepth + 1) + "}]}")
                .find("nested deeper"),
            std::string::npos);
  // Ignored members too, and a flood of brackets does not overflow a stack.
  EXPECT_NE(Bad(R"({"x":)" + nest(kMaxJsonDepth + 10) + R"(,"ops":[]})").find("nested deeper"),
            std::string::npos);
  EXPECT_NE(Bad(R"({"ops":[{"op":"set","key":"a","value":)" + std::string(500000, '[')).find("nested deeper"),
            std::string::npos);
}

TEST(TxnBodyTest, StringsMustBeValidUnicode) {
  EXPECT_NE(Bad(R"({"ops":[{"op":"set","key":"a","value":"\udc00"}]})").find("not valid Unicode"),
            std::string::npos);
  EXPECT_NE(Bad("{\"ops\":[{\"op\":\"set\",\"key\":\"\xff\",\"value\":1}]}").find("malformed JSON"),
            std::string::npos);
  // A lone high surrogate RapidJSON refuses itself.
  EXPECT_NE(Bad(R"({"ops":[{"op":"delete","key":"\ud800"}]})").find("surrogate"), std::string::npos);
}

}  // namespace
}  // namespace casmem::net
