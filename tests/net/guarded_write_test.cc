// GuardedWriteOf: which requests ConflictTurns may defer (single-key
// writes with a non-zero guard and no Idempotency-Key), and their key.
#include "net/guarded_write.h"

#include <gtest/gtest.h>

namespace casmem::net {
namespace {

std::optional<GuardedKey> Of(std::string_view method, std::string_view target,
                             std::string_view body = {}) {
  return GuardedWriteOf(HttpRequest(method, target, body));
}

TEST(GuardedWriteOf, PostWithAGuardNamesItsWorkspaceAndKey) {
  auto g = Of("POST", "/workspaces/team/memory", R"({"key":"ledger","value":1,"if_match_version":4})");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->workspace, "team");
  EXPECT_EQ(g->key, "ledger");
  g = Of("POST", "/memory", R"({"if_match_version":2,"key":"q","value":[]})");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->workspace, "default");
  EXPECT_EQ(g->key, "q");
}

TEST(GuardedWriteOf, PatchAndDeleteTakeTheGuardFromQueryOrIfMatch) {
  auto g = Of("PATCH", "/workspaces/w/memory/a%2Fb?if_match_version=3", "[]");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->workspace, "w");
  EXPECT_EQ(g->key, "a/b");
  HttpRequest del("DELETE", "/memory/k");
  del.if_match = "\"7\"";
  g = GuardedWriteOf(del);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->key, "k");
}

TEST(GuardedWriteOf, EverythingElseRunsAtOnce) {
  EXPECT_FALSE(Of("POST", "/memory", R"({"key":"k","value":1})")) << "last-write-wins";
  EXPECT_FALSE(Of("POST", "/memory", R"({"key":"k","value":1,"if_match_version":0})")) << "create only";
  EXPECT_FALSE(Of("POST", "/memory", R"({"key":"k","value":)")) << "malformed";
  EXPECT_FALSE(Of("GET", "/memory/k?if_match_version=3"));
  EXPECT_FALSE(Of("PATCH", "/memory/k", "[]"));
  EXPECT_FALSE(Of("DELETE", "/memory/k?if_match_version=x"));
  EXPECT_FALSE(Of("POST", "/txn", R"({"ops":[]})"));
  EXPECT_FALSE(Of("POST", "/workspaces/w/memory/k", R"({"key":"k","value":1,"if_match_version":1})"));
  HttpRequest keyed("POST", "/memory", R"({"key":"k","value":1,"if_match_version":1})");
  keyed.idempotency_key = "abc";
  EXPECT_FALSE(GuardedWriteOf(keyed)) << "an Idempotency-Key's first answer is final";
  HttpRequest twice("DELETE", "/memory/k?if_match_version=1");
  twice.repeated_header = "If-Match";
  EXPECT_FALSE(GuardedWriteOf(twice));
}

}  // namespace
}  // namespace casmem::net
