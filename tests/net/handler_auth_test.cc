// Access control in the handler (memory-api.md §9, issue 11): every route
// against every kind of caller (no token, an unknown one, a revoked one,
// one of another workspace, a read token writing, a write token, an
// admin), /healthz open to all, /admin/tokens, and --rate-limit's 429.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "engine/clock.h"
#include "engine/names.h"
#include "engine/store.h"
#include "net/access_control.h"
#include "net/handler.h"
#include "net/metrics.h"

namespace casmem::net {
namespace {

class AuthHandlerTest : public ::testing::Test {
 protected:
  AuthHandlerTest() { Open(); }
  void Open(AccessOptions ao = {}) {
    handler.reset();
    access.reset();
    store.reset();
    StoreOptions o;
    o.clock = &clock;
    o.sweep_interval = std::chrono::milliseconds(0);
    EXPECT_TRUE(Store::Open(o, &store).ok());
    access = std::make_unique<AccessControl>(store.get(), &metrics, ao);
    handler = std::make_unique<Handler>(store.get(), &metrics, access.get());
  }
  // Creates a token straight in the registry: its secret.
  std::string Token(const std::string& name, const std::string& ws, const std::string& role) {
    auto c = access->tokens().Create(name, ws, role, "test");
    EXPECT_EQ(c.outcome, Outcome::kOk) << c.error;
    EXPECT_TRUE(store->WaitVisible(c.visible_lsn).ok());
    return c.secret;
  }
  HandlerResult Run(std::string_view method, std::string_view target, std::string_view body,
                    const std::string& secret, std::string_view content_type = "") {
    // POST bodies are JSON unless the test says otherwise.
    HttpRequest req(method, target, body);
    const std::string auth = "Bearer " + secret;
    if (!secret.empty()) req.authorization = auth;
    if (content_type.empty() && method == "POST") content_type = "application/json";
    if (!content_type.empty()) req.content_type = content_type;
    req.remote_address = "192.0.2.7";
    HandlerResult r = handler->Handle(req);
    EXPECT_TRUE(store->WaitVisible(r.visible_lsn).ok());
    return r;
  }
  static std::string Header(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }

  ManualClock clock{1'795'774'530'123};
  Metrics metrics;
  std::unique_ptr<Store> store;
  std::unique_ptr<AccessControl> access;
  std::unique_ptr<Handler> handler;
};

struct RouteCase {
  const char* name;
  const char* method;
  const char* target;
  const char* body;
  const char* content_type;
  Role need;
  const char* ws;  // the workspace acted on; "" for the server
};

const std::vector<RouteCase>& Routes() {
  static const std::vector<RouteCase> routes = {
      {"list", "GET", "/workspaces/a/memory", "", "", Role::kRead, "a"},
      {"get", "GET", "/workspaces/a/memory/k", "", "", Role::kRead, "a"},
      {"get default", "GET", "/memory/k", "", "", Role::kRead, "default"},
      {"blocking get", "GET", "/workspaces/a/memory/k?wait_version=0&wait=1s", "", "", Role::kRead, "a"},
      {"watch", "GET", "/workspaces/a/watch", "", "", Role::kRead, "a"},
      {"changes", "GET", "/workspaces/a/changes?since=0", "", "", Role::kRead, "a"},
      {"post", "POST", "/workspaces/a/memory", R"({"key":"k","value":1})", "", Role::kWrite, "a"},
      {"post default", "POST", "/memory", R"({"key":"k","value":1})", "", Role::kWrite, "default"},
      {"patch", "PATCH", "/workspaces/a/memory/k", R"({"x":1})", "application/merge-patch+json",
       Role::kWrite, "a"},
      {"delete", "DELETE", "/workspaces/a/memory/k", "", "", Role::kWrite, "a"},
      {"txn", "POST", "/workspaces/a/txn", R"({"ops":[{"op":"put","key":"t","value":1}]})", "",
       Role::kWrite, "a"},
      {"method not allowed", "PUT", "/workspaces/a/memory/k", "", "", Role::kWrite, "a"},
      {"metrics", "GET", "/metrics", "", "", Role::kAdmin, ""},
      {"admin list", "GET", "/admin/tokens", "", "", Role::kAdmin, ""},
      {"admin get", "GET", "/admin/tokens/nobody", "", "", Role::kAdmin, ""},
      {"admin create", "POST", "/admin/tokens", R"({"name":"made","workspace":"a","role":"read"})", "",
       Role::kAdmin, ""},
      {"admin revoke", "DELETE", "/admin/tokens/nobody", "", "", Role::kAdmin, ""},
  };
  return routes;
}

TEST_F(AuthHandlerTest, EveryRouteAgainstEveryKindOfCaller) {
  const std::string admin = Token("root", "*", "admin");
  const std::string reader = Token("reader", "a", "read");
  const std::string writer = Token("writer", "a", "write");
  const std::string other = Token("other", "b", "write");
  const std::string all_reader = Token("all-reader", "*", "read");
  const std::string revoked = Token("gone", "a", "write");
  ASSERT_EQ(access->tokens().Revoke("gone", "test").outcome, Outcome::kOk);

  struct Caller {
    const char* name;
    std::string secret;
    // The token's role and workspace; unauthenticated callers: 401.
    bool authenticated;
    Role role;
    const char* ws;
    const char* token_name;
  };
  const std::vector<Caller> callers = {
      {"no token", "", false, Role::kRead, "", ""},
      {"unknown", "cm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", false, Role::kRead, "", ""},
      {"revoked", revoked, false, Role::kRead, "", ""},
      {"other workspace", other, true, Role::kWrite, "b", "other"},
      {"read role", reader, true, Role::kRead, "a", "reader"},
      {"read role of every workspace", all_reader, true, Role::kRead, "*", "all-reader"},
      {"write role", writer, true, Role::kWrite, "a", "writer"},
      {"admin", admin, true, Role::kAdmin, "*", "root"},
  };
  int created = 0;
  for (const RouteCase& rc : Routes()) {
    for (const Caller& c : callers) {
      SCOPED_TRACE(std::string(rc.name) + " by " + c.name);
      std::string body = rc.body;
      if (std::string(rc.name) == "admin create") {
        body = R"({"name":"made)" + std::to_string(created) + R"(","workspace":"a","role":"read"})";
      }
      HandlerResult r = Run(rc.method, rc.target, body, c.secret, rc.content_type);
      const int status = r.response.status;
      if (!c.authenticated) {
        EXPECT_EQ(status, 401);
        EXPECT_EQ(Header(r.response, "WWW-Authenticate").rfind("Bearer", 0), 0u);
        EXPECT_FALSE(r.watch || r.wait);
        continue;
      }
      const bool role_ok = static_cast<int>(c.role) >= static_cast<int>(rc.need);
      const bool ws_ok = std::string(c.ws) == "*" || (rc.ws[0] != '\0' && std::string(c.ws) == rc.ws);
      if (role_ok && ws_ok) {
        EXPECT_NE(status, 401);
        EXPECT_NE(status, 403) << r.response.body;
        if (std::string(rc.name) == "admin create") {
          EXPECT_EQ(status, 201) << r.response.body;
          ++created;
        }
      } else {
        EXPECT_EQ(status, 403) << r.response.body;
        EXPECT_FALSE(r.watch || r.wait);
        // The refusal names the token, never its secret.
        EXPECT_NE(r.response.body.find(std::string("token '") + c.token_name + "'"), std::string::npos);
        EXPECT_EQ(r.response.body.find(c.secret), std::string::npos);
      }
    }
  }
  EXPECT_EQ(created, 1);  // only the admin created a token
  EXPECT_TRUE(access->tokens().Get("made0"));
}

TEST_F(AuthHandlerTest, HealthzIsOpenAndUnknownEndpointsNeedAToken) {
  const std::string admin = Token("root", "*", "admin");
  EXPECT_EQ(Run("GET", "/healthz", "", "").response.status, 200);
  EXPECT_EQ(Run("GET", "/healthz", "", "cm_wrong").response.status, 200);
  EXPECT_EQ(Run("GET", "/nope", "", "").response.status, 401);
  EXPECT_EQ(Run("GET", "/nope", "", admin).response.status, 404);
  // A target that does not parse is not answered before authentication.
  EXPECT_EQ(Run("GET", "/memory/%zz", "", "").response.status, 401);
  EXPECT_EQ(Run("GET", "/memory/%zz", "", admin).response.status, 400);
}

TEST_F(AuthHandlerTest, WithoutTokensNothingIsCheckedAndTheFirstTokenTurnsChecksOn) {
  EXPECT_EQ(Run("POST", "/memory", R"({"key":"k","value":1})", "").response.status, 200);
  EXPECT_EQ(Run("GET", "/metrics", "", "").response.status, 200);
  // The first token may be made over HTTP while none exists (bootstrap, as
  // Consul's ACL bootstrap): the server is loopback-only or --insecure-no-auth then.
  HandlerResult r = Run("POST", "/admin/tokens", R"({"name":"root","workspace":"*","role":"admin"})", "");
  ASSERT_EQ(r.response.status, 201) << r.response.body;
  EXPECT_NE(r.response.body.find("\"created_by\":\"(no token)\""), std::string::npos);
  EXPECT_EQ(Run("GET", "/memory/k", "", "").response.status, 401);
}

TEST_F(AuthHandlerTest, ProtectedModeServesOnlyLoopbackWhileNoTokenExists) {
  Open(AccessOptions{0, true});
  HttpRequest req("GET", "/memory/k");
  req.remote_address = "192.0.2.7";
  HandlerResult r = handler->Handle(req);
  EXPECT_EQ(r.response.status, 403);
  EXPECT_NE(r.response.body.find("protected mode"), std::string::npos);
  for (const char* loopback : {"127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"}) {
    req.remote_address = loopback;
    EXPECT_EQ(handler->Handle(req).response.status, 404) << loopback;
  }
  // Once a token exists, a client anywhere may use it.
  const std::string admin = Token("root", "*", "admin");
  HttpRequest with(req);
  const std::string auth = "Bearer " + admin;
  with.authorization = auth;
  with.remote_address = "192.0.2.7";
  EXPECT_EQ(handler->Handle(with).response.status, 404);
}

TEST_F(AuthHandlerTest, AdminTokensCreateListGetRevoke) {
  const std::string admin = Token("root", "*", "admin");
  HandlerResult c = Run("POST", "/admin/tokens", R"({"name":"agent-1","workspace":"team","role":"write"})", admin);
  ASSERT_EQ(c.response.status, 201) << c.response.body;
  EXPECT_TRUE(c.is_write);
  EXPECT_GT(c.visible_lsn, 0u);  // answered once durable
  EXPECT_EQ(Header(c.response, "Cache-Control"), "no-store");
  EXPECT_EQ(Header(c.response, "Location"), "/admin/tokens/agent-1");
  const std::string& b = c.response.body;
  const size_t at = b.find("\"secret\":\"");
  ASSERT_NE(at, std::string::npos);
  const std::string secret = b.substr(at + 10, b.find('"', at + 10) - at - 10);
  EXPECT_EQ(secret.rfind("cm_", 0), 0u);
  EXPECT_GE(secret.size(), 3u + 22);  // at least 128 bits of base64url
  EXPECT_NE(b.find("\"created_by\":\"root\""), std::string::npos);
  EXPECT_EQ(Run("POST", "/workspaces/team/memory", R"({"key":"k","value":1})", secret).response.status, 200);

  HandlerResult list = Run("GET", "/admin/tokens", "", admin);
  EXPECT_EQ(list.response.status, 200);
  EXPECT_NE(list.response.body.find("\"name\":\"agent-1\""), std::string::npos);
  EXPECT_NE(list.response.body.find("\"name\":\"root\""), std::string::npos);
  EXPECT_EQ(list.response.body.find("secret"), std::string::npos);
  EXPECT_EQ(list.response.body.find(secret), std::string::npos);
  HandlerResult one = Run("GET", "/admin/tokens/agent-1", "", admin);
  EXPECT_EQ(one.response.status, 200);
  EXPECT_NE(one.response.body.find("\"workspace\":\"team\""), std::string::npos);

  // A name is one token.
  EXPECT_EQ(Run("POST", "/admin/tokens", R"({"name":"agent-1","workspace":"x","role":"read"})", admin)
                .response.status,
            409);
  HandlerResult rv = Run("DELETE", "/admin/tokens/agent-1", "", admin);
  EXPECT_EQ(rv.response.status, 200) << rv.response.body;
  EXPECT_EQ(Run("POST", "/workspaces/team/memory", R"({"key":"k","value":2})", secret).response.status, 401);
  EXPECT_EQ(Run("DELETE", "/admin/tokens/agent-1", "", admin).response.status, 404);
  EXPECT_EQ(Run("GET", "/admin/tokens/agent-1", "", admin).response.status, 404);
  EXPECT_EQ(Run("PUT", "/admin/tokens", "", admin).response.status, 405);
  EXPECT_EQ(Run("POST", "/admin/tokens/x", "", admin).response.status, 405);
  EXPECT_EQ(Run("GET", "/admin/tokens/x/y", "", admin).response.status, 404);
}

TEST_F(AuthHandlerTest, TheLastAdminTokenIsNotRevokedOverHttp) {
  // Found by review: revoking it turned every check off (fail open).
  const std::string admin = Token("root", "*", "admin");
  Token("reader", "*", "read");
  HandlerResult r = Run("DELETE", "/admin/tokens/root", "", admin);
  EXPECT_EQ(r.response.status, 409);
  EXPECT_NE(r.response.body.find("last admin token"), std::string::npos);
  EXPECT_TRUE(access->tokens().Get("root"));
  Token("root2", "*", "admin");
  EXPECT_EQ(Run("DELETE", "/admin/tokens/root", "", admin).response.status, 200);
  // Offline (the registry itself) it may go.
  EXPECT_EQ(access->tokens().Revoke("root2", "t").outcome, Outcome::kOk);
}

TEST_F(AuthHandlerTest, AdminTokenCreateRefusesBadBodies) {
  const std::string admin = Token("root", "*", "admin");
  for (const char* body : {
           "", "[]", "{", R"({"name":"n","workspace":"w"})", R"({"name":"n","workspace":"w","role":"owner"})",
           R"({"name":"n","workspace":"w","role":"admin"})",  // an admin is of "*" only
           R"({"name":"n n","workspace":"w","role":"read"})", R"({"name":"","workspace":"w","role":"read"})",
           R"({"name":"n","workspace":"w/x","role":"read"})", R"({"name":"n","workspace":"w","role":"read","x":1})",
           R"({"name":"n","workspace":"w","role":"read","name":"m"})", R"({"name":1,"workspace":"w","role":"read"})",
           "{\"name\":\"\xff\",\"workspace\":\"w\",\"role\":\"read\"}"}) {
    SCOPED_TRACE(body);
    HandlerResult r = Run("POST", "/admin/tokens", body, admin);
    EXPECT_EQ(r.response.status, 400) << r.response.body;
    EXPECT_NE(r.response.body.find("\"error\""), std::string::npos);
  }
  // What follows a NUL byte is not overlooked.
  const std::string nul = std::string(R"({"name":"n","workspace":"w","role":"read"})") + '\0' + "x";
  EXPECT_EQ(Run("POST", "/admin/tokens", nul, admin).response.status, 400);
  EXPECT_EQ(access->tokens().size(), 1u);
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST_F(AuthHandlerTest, ErrorsNeverEchoBytesThatAreNotUtf8) {
  // Found by fuzz_handler: a 403 named the URL's workspace, and /admin
  // errors the URL's token name and a body's unknown field, before any of
  // them was checked.
  const std::string admin = Token("root", "*", "admin");
  const std::string reader = Token("reader", "a", "read");
  for (const auto& [method, target, body, secret] : std::vector<std::tuple<const char*, const char*, std::string, std::string>>{
           {"POST", "/workspaces/%ff%fe/memory", R"({"key":"k","value":1})", reader},
           {"GET", "/admin/tokens/%ff", "", admin},
           {"DELETE", "/admin/tokens/%c3", "", admin},
           {"POST", "/admin/tokens", "{\"" + Repeat("\xe2\x82\xac", 22) + "\":1}", admin}}) {
    SCOPED_TRACE(target);
    HandlerResult r = Run(method, target, body, secret);
    EXPECT_GE(r.response.status, 400);
    EXPECT_TRUE(ValidUtf8(r.response.body)) << r.response.body;
  }
}

TEST_F(AuthHandlerTest, WithoutTokensWebPagesAreRefusedAndTokensNeedJson) {
  // Found by review: with no token, any page a local browser opened could
  // POST (text/plain needs no CORS preflight) and make the first admin.
  HandlerResult page = Run("POST", "/admin/tokens", R"({"name":"pwn","workspace":"*","role":"admin"})", "",
                           "text/plain");
  EXPECT_EQ(page.response.status, 415);
  EXPECT_EQ(Header(page.response, "Accept-Post"), "application/json");
  HttpRequest req("POST", "/admin/tokens", R"({"name":"pwn","workspace":"*","role":"admin"})");
  req.content_type = "application/json";
  req.origin = "http://evil.example";
  req.remote_address = "127.0.0.1";
  HandlerResult r = handler->Handle(req);
  EXPECT_EQ(r.response.status, 403);
  EXPECT_NE(r.response.body.find("Origin"), std::string::npos);
  req.target = "/memory";
  req.body = R"({"key":"k","value":1})";
  EXPECT_EQ(handler->Handle(req).response.status, 403);
  EXPECT_TRUE(access->tokens().empty());
  // Once tokens exist, a browser with a token is served like anyone.
  const std::string admin = Token("root", "*", "admin");
  const std::string auth = "Bearer " + admin;
  req.authorization = auth;
  EXPECT_EQ(handler->Handle(req).response.status, 200);
  // --insecure-no-auth serves everyone, browsers included.
  Open(AccessOptions{0, false, false});
  req.authorization.reset();
  EXPECT_EQ(handler->Handle(req).response.status, 200);
}

TEST_F(AuthHandlerTest, ARepeatedAuthorizationHeaderIsRefused) {
  // Found by review: the first of two was used; a proxy may use the other.
  const std::string admin = Token("root", "*", "admin");
  HttpRequest req("GET", "/admin/tokens");
  const std::string auth = "Bearer " + admin;
  req.authorization = auth;
  req.repeated_header = "Authorization";
  HandlerResult r = handler->Handle(req);
  EXPECT_EQ(r.response.status, 400);
  EXPECT_NE(r.response.body.find("Authorization given more than once"), std::string::npos);
}

TEST_F(AuthHandlerTest, MalformedAuthorizationIsA401) {
  Token("root", "*", "admin");
  for (const char* value : {"", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a b", "bearer"}) {
    SCOPED_TRACE(value);
    HttpRequest req("GET", "/memory/k");
    req.authorization = std::string_view(value);
    HandlerResult r = handler->Handle(req);
    EXPECT_EQ(r.response.status, 401);
    EXPECT_NE(Header(r.response, "WWW-Authenticate").find("invalid_request"), std::string::npos);
  }
}

TEST_F(AuthHandlerTest, FailedAuthenticationsAreCountedPerAddress) {
  Token("root", "*", "admin");
  for (int i = 0; i < 3; ++i) Run("GET", "/memory/k", "", "cm_nope");
  HttpRequest req("GET", "/memory/k");
  req.remote_address = "198.51.100.1";
  handler->Handle(req);
  const std::string m = metrics.Render(*store);
  EXPECT_NE(m.find("casmem_auth_failures_total{address=\"192.0.2.7\"} 3"), std::string::npos) << m;
  EXPECT_NE(m.find("casmem_auth_failures_total{address=\"198.51.100.1\"} 1"), std::string::npos);
  EXPECT_NE(m.find("casmem_tokens 1"), std::string::npos);
  EXPECT_EQ(m.find("cm_nope"), std::string::npos);
}

TEST_F(AuthHandlerTest, RateLimitAnswers429WithRetryAfterPerToken) {
  Open(AccessOptions{3, false});
  const std::string a = Token("a", "*", "write");
  const std::string b = Token("b", "*", "write");
  int ok = 0;
  HandlerResult refused;
  for (int i = 0; i < 10; ++i) {
    HandlerResult r = Run("GET", "/memory/k", "", a);
    if (r.response.status == 429) {
      refused = std::move(r);
      break;
    }
    ++ok;
  }
  // A burst of one second's worth (3), then refused (the test runs in far
  // less than the second that would refill one more).
  EXPECT_GE(ok, 3);
  EXPECT_LE(ok, 5);
  ASSERT_EQ(refused.response.status, 429);
  EXPECT_GE(std::stoi(Header(refused.response, "Retry-After")), 1);
  EXPECT_NE(refused.response.body.find("rate limit"), std::string::npos);
  // Another token has its own bucket; /healthz is not limited.
  EXPECT_EQ(Run("GET", "/memory/k", "", b).response.status, 404);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Run("GET", "/healthz", "", a).response.status, 200);
  EXPECT_NE(metrics.Render(*store).find("casmem_rate_limited_total 1"), std::string::npos);
}

TEST_F(AuthHandlerTest, AWriteWithoutCasmemWriterIsNamedAfterItsToken) {
  const std::string dev = Token("dev-lead", "*", "write");
  Token("root", "*", "admin");
  ASSERT_EQ(Run("POST", "/memory", R"({"key":"k","value":1})", dev).response.status, 200);
  EXPECT_NE(Run("GET", "/memory/k", "", dev).response.body.find(R"("writer":"dev-lead")"),
            std::string::npos);
  // PATCH and transactions too.
  ASSERT_EQ(Run("PATCH", "/memory/k", R"([{"op":"replace","path":"","value":2}])", dev,
                "application/json-patch+json").response.status, 200);
  EXPECT_EQ(store->Get("default", "k").entry.writer, "dev-lead");
  ASSERT_EQ(Run("POST", "/txn", R"({"ops":[{"op":"set","key":"t","value":1}]})", dev)
                .response.status, 200);
  EXPECT_EQ(store->Get("default", "t").entry.writer, "dev-lead");
  // A 409 names the token that wrote the current version.
  const HandlerResult c = Run("POST", "/memory", R"({"key":"k","value":3,"if_match_version":1})", dev);
  ASSERT_EQ(c.response.status, 409);
  EXPECT_NE(c.response.body.find(R"("current_writer":"dev-lead")"), std::string::npos);
  // Casmem-Writer, when given, names the write instead.
  HttpRequest req("POST", "/memory", R"({"key":"k","value":4})");
  const std::string auth = "Bearer " + dev;
  req.authorization = auth;
  req.writer = "pm";
  req.content_type = "application/json";
  req.remote_address = "192.0.2.7";
  const HandlerResult named = handler->Handle(req);
  ASSERT_EQ(named.response.status, 200);
  ASSERT_TRUE(store->WaitVisible(named.visible_lsn).ok());
  EXPECT_EQ(store->Get("default", "k").entry.writer, "pm");
}

TEST_F(AuthHandlerTest, AWatchCarriesItsToken) {
  const std::string reader = Token("reader", "a", "read");
  HandlerResult r = Run("GET", "/workspaces/a/watch", "", reader);
  ASSERT_TRUE(r.watch);
  ASSERT_TRUE(r.watch->token);
  EXPECT_EQ(r.watch->token->name, "reader");
}

TEST_F(AuthHandlerTest, TheTokensWorkspaceIsNotReachable) {
  const std::string admin = Token("root", "*", "admin");
  for (const char* target : {"/workspaces/casmem:tokens/memory", "/workspaces/casmem:tokens/memory/root",
                             "/workspaces/casmem%3Atokens/memory/root", "/workspaces/casmem:tokens/watch"}) {
    SCOPED_TRACE(target);
    HandlerResult r = Run("GET", target, "", admin);
    EXPECT_EQ(r.response.status, 400);
    EXPECT_EQ(r.response.body.find("sha256"), std::string::npos);
  }
  EXPECT_EQ(Run("POST", "/workspaces/casmem:tokens/memory", R"({"key":"x","value":{}})", admin).response.status,
            400);
}

}  // namespace
}  // namespace casmem::net
