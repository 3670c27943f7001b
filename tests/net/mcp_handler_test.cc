// The MCP endpoint at the handler (memory-api.md §10, issue 12): the
// transport's HTTP rules (405, 406, 415, MCP-Protocol-Version, 202),
// JSON-RPC (every error code, ids, batches under both protocol versions),
// initialize / ping / tools/list, every tool through the memory routes
// (exact digits, 404, 409 with current_value and a retry from it, paging,
// patches), access control per tool, durability (visible_lsn) and the
// route label.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>

#include "engine/clock.h"
#include "engine/store.h"
#include "net/access_control.h"
#include "net/handler.h"
#include "net/metrics.h"

namespace casmem::net {
namespace {

class McpHandlerTest : public ::testing::Test {
 protected:
  McpHandlerTest() {
    StoreOptions o;
    o.clock = &clock;
    o.sweep_interval = std::chrono::milliseconds(0);
    EXPECT_TRUE(Store::Open(o, &store).ok());
    handler = std::make_unique<Handler>(store.get(), &metrics);
  }
  void WithAccessControl() {
    access = std::make_unique<AccessControl>(store.get(), &metrics, AccessOptions{});
    handler = std::make_unique<Handler>(store.get(), &metrics, access.get());
  }
  std::string Token(const std::string& name, const std::string& ws, const std::string& role) {
    auto c = access->tokens().Create(name, ws, role, "test");
    EXPECT_EQ(c.outcome, Outcome::kOk) << c.error;
    EXPECT_TRUE(store->WaitVisible(c.visible_lsn).ok());
    return c.secret;
  }

  // A POST of `body` as an MCP client sends it; `version` "" sends no
  // MCP-Protocol-Version header.
  HandlerResult Post(std::string_view body, std::string_view version = "2025-06-18",
                     std::string_view target = "/mcp") {
    HttpRequest req("POST", target, body);
    req.content_type = "application/json";
    req.accept = "application/json, text/event-stream";
    if (!version.empty()) req.mcp_protocol_version = version;
    return Run(req);
  }
  HandlerResult Run(HttpRequest req) {
    if (!secret.empty()) {
      auth = "Bearer " + secret;
      req.authorization = auth;
    }
    req.remote_address = "127.0.0.1";
    HandlerResult r = handler->Handle(req);
    EXPECT_TRUE(store->WaitVisible(r.visible_lsn).ok());
    EXPECT_FALSE(r.stream || r.wait || r.watch);
    return r;
  }
  // tools/call of `tool` with `args` (a JSON object's text): the result.
  HandlerResult Call(std::string_view tool, std::string_view args, std::string_view version = "2025-06-18",
                     std::string_view target = "/mcp") {
    const std::string body = R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":")" +
                             std::string(tool) + R"(","arguments":)" + std::string(args) + "}}";
    return Post(body, version, target);
  }
  static rapidjson::Document Parse(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    EXPECT_FALSE(d.HasParseError()) << text;
    return d;
  }
  // The text content of a tools/call answer, and whether it is an error.
  static std::string ToolText(const HttpResponse& r, bool* is_error) {
    EXPECT_EQ(r.status, 200) << r.body;
    rapidjson::Document d = Parse(r.body);
    if (!d.IsObject() || !d.HasMember("result")) {
      ADD_FAILURE() << "no result: " << r.body;
      return "";
    }
    const auto& res = d["result"];
    *is_error = res["isError"].GetBool();
    EXPECT_EQ(std::string(res["content"][0]["type"].GetString()), "text");
    return res["content"][0]["text"].GetString();
  }
  static int ErrorCode(const std::string& body) {
    rapidjson::Document d = Parse(body);
    if (!d.IsObject() || !d.HasMember("error") || !d["error"].IsObject()) return 0;
    return d["error"]["code"].GetInt();
  }
  static std::string Header(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }

  ManualClock clock{1'795'774'530'123};
  std::unique_ptr<Store> store;
  Metrics metrics;
  std::unique_ptr<AccessControl> access;
  std::unique_ptr<Handler> handler;
  std::string secret, auth;
};

TEST_F(McpHandlerTest, InitializeNegotiatesTheVersion) {
  for (const char* asked : {"2025-03-26", "2025-06-18"}) {
    HandlerResult r = Post(std::string(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":")") +
                               asked + R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})",
                           "");
    ASSERT_EQ(r.response.status, 200) << r.response.body;
    EXPECT_EQ(r.route, Route::kMcp);
    EXPECT_EQ(r.response.content_type, "application/json");
    rapidjson::Document d = Parse(r.response.body);
    EXPECT_EQ(std::string(d["jsonrpc"].GetString()), "2.0");
    EXPECT_EQ(d["id"].GetInt(), 1);
    const auto& res = d["result"];
    EXPECT_EQ(std::string(res["protocolVersion"].GetString()), asked);
    EXPECT_FALSE(res["capabilities"]["tools"]["listChanged"].GetBool());
    EXPECT_EQ(std::string(res["serverInfo"]["name"].GetString()), "casmem");
    EXPECT_TRUE(res["serverInfo"]["version"].IsString());
    const std::string instructions = res["instructions"].GetString();
    EXPECT_NE(instructions.find("if_match_version"), std::string::npos);
    EXPECT_NE(instructions.find("current_value"), std::string::npos);
  }
  // A version the server does not speak: its newest, the client decides.
  HandlerResult r = Post(R"({"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"2099-01-01"}})", "");
  rapidjson::Document d = Parse(r.response.body);
  EXPECT_EQ(std::string(d["id"].GetString()), "a");
  EXPECT_EQ(std::string(d["result"]["protocolVersion"].GetString()), "2025-06-18");
  // Without a protocolVersion: bad params.
  r = Post(R"({"jsonrpc":"2.0","id":2,"method":"initialize","params":{}})", "");
  EXPECT_EQ(ErrorCode(r.response.body), -32602);
  r = Post(R"({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":20250618}})", "");
  EXPECT_EQ(ErrorCode(r.response.body), -32602);
}

TEST_F(McpHandlerTest, NotificationsAndResponsesAreAcceptedWithNoBody) {
  for (const char* body : {R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
                           R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}})",
                           R"({"jsonrpc":"2.0","id":5,"result":{}})",
                           R"([{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"x"}}])"}) {
    HandlerResult r = Post(body, "");
    EXPECT_EQ(r.response.status, 202) << body;
    EXPECT_TRUE(r.response.body.empty()) << body;
    EXPECT_EQ(r.route, Route::kMcp);
  }
}

TEST_F(McpHandlerTest, PingAnswersEmptyWithTheRequestsId) {
  HandlerResult r = Post(R"({"jsonrpc":"2.0","id":"abc-1","method":"ping"})");
  EXPECT_EQ(r.response.body, R"({"jsonrpc":"2.0","id":"abc-1","result":{}})");
  r = Post(R"({"jsonrpc":"2.0","id":12345678901234567890,"method":"ping"})");
  EXPECT_EQ(r.response.body, R"({"jsonrpc":"2.0","id":12345678901234567890,"result":{}})");
  EXPECT_EQ(r.visible_lsn, 0u);
}

TEST_F(McpHandlerTest, ToolsListDescribesEveryToolPerVersion) {
  for (const char* version : {"2025-03-26", "2025-06-18"}) {
    HandlerResult r = Post(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", version);
    ASSERT_EQ(r.response.status, 200);
    rapidjson::Document d = Parse(r.response.body);
    const auto& tools = d["result"]["tools"];
    ASSERT_TRUE(tools.IsArray());
    std::string names;
    for (const auto& t : tools.GetArray()) {
      names += std::string(t["name"].GetString()) + " ";
      EXPECT_GT(std::string(t["description"].GetString()).size(), 40u);
      EXPECT_EQ(std::string(t["inputSchema"]["type"].GetString()), "object");
      // outputSchema (and structured results) from 2025-06-18 only.
      EXPECT_EQ(t.HasMember("outputSchema"), std::string(version) == "2025-06-18") << version;
    }
    EXPECT_EQ(names, "memory_get memory_set memory_list memory_delete memory_patch ");
    const auto& set = tools[1]["inputSchema"];
    EXPECT_TRUE(set["properties"].HasMember("if_match_version"));
    EXPECT_TRUE(set["properties"].HasMember("ttl_seconds"));
    EXPECT_EQ(std::string(set["required"][1].GetString()), "value");
  }
}

TEST_F(McpHandlerTest, JsonRpcErrors) {
  // Not JSON: -32700 with id null, 400.
  for (const char* body : {"{", "", "nope", R"({"a":1} {"b":2})", "[\"\\udc00\"]"}) {
    HandlerResult r = Post(body);
    EXPECT_EQ(r.response.status, 400) << body;
    EXPECT_EQ(ErrorCode(r.response.body), -32700) << body;
    EXPECT_EQ(r.response.body.find(R"({"jsonrpc":"2.0","id":null,)"), 0u) << r.response.body;
  }
  // Invalid requests: -32600 (the id echoed when it is a valid one).
  for (const char* body : {R"({"jsonrpc":"1.0","id":1,"method":"ping"})", R"({"id":1,"method":"ping"})",
                           R"({"jsonrpc":"2.0","id":{"x":1},"method":"ping"})",
                           R"({"jsonrpc":"2.0","id":null,"method":"ping"})",
                           R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})",
                           R"({"jsonrpc":"2.0","id":1,"method":7})", R"({"jsonrpc":"2.0","id":1})",
                           R"({"jsonrpc":"2.0","id":1,"method":"ping","params":3})", R"(42)"}) {
    HandlerResult r = Post(body);
    EXPECT_EQ(r.response.status, 400) << body;
    EXPECT_EQ(ErrorCode(r.response.body), -32600) << body << " -> " << r.response.body;
  }
  HandlerResult r = Post(R"({"jsonrpc":"2.0","id":9,"method":"ping","params":3})");
  EXPECT_NE(r.response.body.find(R"("id":9)"), std::string::npos) << r.response.body;
  // Unknown method: -32601, a JSON-RPC answer (200).
  r = Post(R"({"jsonrpc":"2.0","id":3,"method":"resources/list"})");
  EXPECT_EQ(r.response.status, 200);
  EXPECT_EQ(ErrorCode(r.response.body), -32601);
  EXPECT_NE(r.response.body.find(R"("id":3)"), std::string::npos);
  // Bad params of tools/call: -32602.
  for (const char* params : {R"()", R"(,"params":{})", R"(,"params":{"name":"memory_nope","arguments":{}})",
                             R"(,"params":{"name":7})", R"(,"params":[1])",
                             R"(,"params":{"name":"memory_get","arguments":[]})",
                             R"(,"params":{"name":"memory_get","arguments":{}})",
                             R"(,"params":{"name":"memory_get","arguments":{"key":5}})",
                             R"(,"params":{"name":"memory_set","arguments":{"key":"k"}})",
                             R"(,"params":{"name":"memory_set","arguments":{"key":"k","value":1,"if_match_version":"3"}})",
                             R"(,"params":{"name":"memory_set","arguments":{"key":"k","value":1,"ttl_seconds":1.5}})",
                             R"(,"params":{"name":"memory_list","arguments":{"limit":"10"}})",
                             R"(,"params":{"name":"memory_list","arguments":{"prefix":1}})",
                             R"(,"params":{"name":"memory_delete","arguments":{"key":"k","if_match_version":true}})",
                             R"(,"params":{"name":"memory_patch","arguments":{"key":"k"}})",
                             R"(,"params":{"name":"memory_patch","arguments":{"key":"k","patch":[],"merge":{}}})",
                             R"(,"params":{"name":"memory_patch","arguments":{"key":"k","patch":{"op":"add"}}})"}) {
    r = Post(std::string(R"({"jsonrpc":"2.0","id":4,"method":"tools/call")") + params + "}");
    EXPECT_EQ(r.response.status, 200) << params;
    EXPECT_EQ(ErrorCode(r.response.body), -32602) << params << " -> " << r.response.body;
  }
  EXPECT_EQ(store->Get("default", "k").outcome, Outcome::kNotFound);
}

TEST_F(McpHandlerTest, BatchesUnder20250326AreRefusedUnder20250618) {
  const std::string batch = R"([{"jsonrpc":"2.0","id":1,"method":"ping"},)"
                            R"({"jsonrpc":"2.0","method":"notifications/initialized"},)"
                            R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_set","arguments":{"key":"b","value":[1]}}},)"
                            R"({"jsonrpc":"2.0","id":3,"method":"nope"},)"
                            R"({"jsonrpc":"1.0","id":4,"method":"ping"}])";
  for (const char* version : {"", "2025-03-26"}) {
    HandlerResult r = Post(batch, version);
    ASSERT_EQ(r.response.status, 200) << r.response.body;
    rapidjson::Document d = Parse(r.response.body);
    ASSERT_TRUE(d.IsArray());
    ASSERT_EQ(d.Size(), 4u);  // the notification gets no answer
    EXPECT_EQ(d[0]["id"].GetInt(), 1);
    EXPECT_EQ(d[1]["id"].GetInt(), 2);
    EXPECT_FALSE(d[1]["result"]["isError"].GetBool());
    EXPECT_FALSE(d[1]["result"].HasMember("structuredContent"));  // 2025-03-26
    EXPECT_EQ(d[2]["error"]["code"].GetInt(), -32601);
    EXPECT_EQ(d[3]["error"]["code"].GetInt(), -32600);
    EXPECT_GT(r.visible_lsn, 0u);
    EXPECT_TRUE(r.is_write);
    EXPECT_EQ(r.key_event, KeyEvent::kNone);
  }
  HandlerResult r = Post(batch, "2025-06-18");
  EXPECT_EQ(r.response.status, 400);
  EXPECT_EQ(ErrorCode(r.response.body), -32600);
  EXPECT_EQ(store->Get("default", "b").entry.version, 2u);  // the refused batch wrote nothing
  r = Post("[]", "");
  EXPECT_EQ(r.response.status, 400);
  EXPECT_EQ(ErrorCode(r.response.body), -32600);
  std::string big = "[";
  for (int i = 0; i < 33; ++i) big += std::string(i ? "," : "") + R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
  r = Post(big + "]", "");
  EXPECT_EQ(ErrorCode(r.response.body), -32600);
  big = "[";
  for (int i = 0; i < 32; ++i) big += std::string(i ? "," : "") + R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
  r = Post(big + "]", "");  // 32: served
  EXPECT_EQ(r.response.status, 200) << big << " -> " << r.response.body;
  EXPECT_EQ(Parse(r.response.body).Size(), 32u);
}

TEST_F(McpHandlerTest, TransportRules) {
  for (const char* method : {"GET", "DELETE", "PUT"}) {
    HttpRequest req(method, "/mcp");
    HandlerResult r = Run(req);
    EXPECT_EQ(r.response.status, 405) << method;
    EXPECT_EQ(Header(r.response, "Allow"), "POST");
    EXPECT_EQ(r.route, Route::kMcp);
  }
  EXPECT_EQ(Run(HttpRequest("GET", "/workspaces/team/mcp")).response.status, 405);
  const std::string ping = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
  auto with = [&](auto change) {
    HttpRequest req("POST", "/mcp", ping);
    req.content_type = "application/json";
    change(req);
    return Run(req).response;
  };
  // Accept: JSON or */* needed, q=0 refuses; absent accepts anything.
  for (const char* ok : {"application/json, text/event-stream", "*/*", "application/*", "text/html, application/json;q=0.5",
                         "APPLICATION/JSON"}) {
    EXPECT_EQ(with([&](HttpRequest& r) { r.accept = ok; }).status, 200) << ok;
  }
  EXPECT_EQ(with([](HttpRequest&) {}).status, 200);
  for (const char* refused : {"text/event-stream", "text/html", "application/json;q=0", "application/json; q=0.0"}) {
    HttpResponse r = with([&](HttpRequest& q) { q.accept = refused; });
    EXPECT_EQ(r.status, 406) << refused;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos);
  }
  // Content-Type: JSON only (parameters allowed).
  EXPECT_EQ(with([](HttpRequest& r) { r.content_type = "application/json; charset=utf-8"; }).status, 200);
  for (const char* bad : {"text/plain", "application/x-www-form-urlencoded", ""}) {
    HttpResponse r = with([&](HttpRequest& q) { q.content_type = bad; });
    EXPECT_EQ(r.status, 415) << bad;
    EXPECT_EQ(Header(r, "Accept-Post"), "application/json");
  }
  EXPECT_EQ(with([](HttpRequest& r) { r.content_type.reset(); }).status, 415);
  // MCP-Protocol-Version: the two served, else 400.
  for (const char* v : {"2025-03-26", "2025-06-18"}) {
    EXPECT_EQ(with([&](HttpRequest& r) { r.mcp_protocol_version = v; }).status, 200) << v;
  }
  for (const char* v : {"2024-11-05", "2025-11-25", "", "latest"}) {
    EXPECT_EQ(with([&](HttpRequest& r) { r.mcp_protocol_version = v; }).status, 400) << v;
  }
  // Idempotency-Key is refused (not silently ignored); repeated headers too.
  EXPECT_EQ(with([](HttpRequest& r) { r.idempotency_key = "k1"; }).status, 400);
  EXPECT_EQ(with([](HttpRequest& r) { r.repeated_header = "Content-Type"; }).status, 400);
  // A workspace that is not a name.
  HttpRequest bad_ws("POST", "/workspaces/a%20b/mcp", ping);
  bad_ws.content_type = "application/json";
  EXPECT_EQ(Run(bad_ws).response.status, 400);
  // Paths beside it are not MCP.
  EXPECT_EQ(Run(HttpRequest("POST", "/mcp/x", ping)).response.status, 404);
  EXPECT_EQ(Run(HttpRequest("POST", "/workspaces/a/mcp/x", ping)).response.status, 404);
}

TEST_F(McpHandlerTest, SetGetKeepDigitsAndStructuredContentFollowsTheVersion) {
  const std::string value = R"({"n":12345678901234567890,"f":1.10,"z":-0,"s":"caf\u00e9"})";
  HandlerResult w = Call("memory_set", R"({"key":"a/b c+d","value":)" + value + "}");
  bool is_error = true;
  const std::string set_text = ToolText(w.response, &is_error);
  EXPECT_FALSE(is_error);
  EXPECT_EQ(set_text, R"({"status":"ok","key":"a/b c+d","version":1,"revision":1})");
  EXPECT_TRUE(w.is_write);
  EXPECT_GT(w.visible_lsn, 0u);  // answered only once the write is durable
  EXPECT_EQ(w.key_event, KeyEvent::kCommitted);
  EXPECT_EQ(w.key, "a/b c+d");
  // structuredContent (2025-06-18) is the same object as the text.
  rapidjson::Document d = Parse(w.response.body);
  EXPECT_TRUE(d["result"]["structuredContent"]["version"].GetInt() == 1);

  HandlerResult g = Call("memory_get", R"({"key":"a/b c+d"})", "2025-03-26");
  const std::string entry = ToolText(g.response, &is_error);
  EXPECT_FALSE(is_error);
  EXPECT_FALSE(Parse(g.response.body)["result"].HasMember("structuredContent"));
  EXPECT_NE(entry.find(R"("value":{"n":12345678901234567890,"f":1.10,"z":-0,"s":"café"})"), std::string::npos)
      << entry;
  EXPECT_EQ(entry, Parse(Call("memory_get", R"({"key":"a/b c+d"})").response.body)["result"]["content"][0]["text"].GetString());
  // The same JSON as the HTTP API's GET.
  HttpRequest http("GET", "/memory/a%2Fb%20c%2Bd");
  EXPECT_EQ(Run(http).response.body, entry);
}

TEST_F(McpHandlerTest, MissingKeyIsAToolErrorWithThe404Body) {
  bool is_error = false;
  EXPECT_EQ(ToolText(Call("memory_get", R"({"key":"nothing"})").response, &is_error), R"({"error":"key not found"})");
  EXPECT_TRUE(is_error);
  EXPECT_FALSE(Parse(Call("memory_get", R"({"key":"nothing"})").response.body)["result"].HasMember("structuredContent"));
  // What the memory API refuses (an empty key, a TTL out of range) is a
  // tool error with its 400 body.
  EXPECT_EQ(ToolText(Call("memory_get", R"({"key":""})").response, &is_error).find(R"({"error":)"), 0u);
  EXPECT_TRUE(is_error);
  ToolText(Call("memory_set", R"({"key":"k","value":1,"ttl_seconds":0})").response, &is_error);
  EXPECT_TRUE(is_error);
  ToolText(Call("memory_delete", R"({"key":"k","if_match_version":-1})").response, &is_error);
  EXPECT_TRUE(is_error);
  EXPECT_EQ(store->Get("default", "k").outcome, Outcome::kNotFound);
}

TEST_F(McpHandlerTest, ConflictCarriesCurrentValueAndTheRetryFromItWins) {
  bool is_error = true;
  ToolText(Call("memory_set", R"({"key":"q","value":[1],"if_match_version":0})").response, &is_error);
  EXPECT_FALSE(is_error);
  ToolText(Call("memory_set", R"({"key":"q","value":[1,2],"if_match_version":1})").response, &is_error);
  EXPECT_FALSE(is_error);
  // A stale guard: the 409 body, as a tool error, never held for a turn.
  HandlerResult c = Call("memory_set", R"({"key":"q","value":[9],"if_match_version":1})");
  const std::string text = ToolText(c.response, &is_error);
  EXPECT_TRUE(is_error);
  EXPECT_EQ(text, R"({"error":"if_match_version mismatch","expected_version":1,"current_version":2,"current_value":[1,2]})");
  EXPECT_EQ(c.key_event, KeyEvent::kNone);
  rapidjson::Document conflict = Parse(text);
  const int current = conflict["current_version"].GetInt();
  ToolText(Call("memory_set", R"({"key":"q","value":[1,2,3],"if_match_version":)" + std::to_string(current) + "}").response,
           &is_error);
  EXPECT_FALSE(is_error);
  EXPECT_EQ(store->Get("default", "q").entry.value, "[1,2,3]");
  // Create-only on a live key, a guarded delete and patch: the same 409.
  ToolText(Call("memory_set", R"({"key":"q","value":0,"if_match_version":0})").response, &is_error);
  EXPECT_TRUE(is_error);
  EXPECT_NE(ToolText(Call("memory_delete", R"({"key":"q","if_match_version":1})").response, &is_error)
                .find(R"("current_value":[1,2,3])"),
            std::string::npos);
  EXPECT_TRUE(is_error);
  EXPECT_NE(ToolText(Call("memory_patch", R"({"key":"q","merge":{"a":1},"if_match_version":2})").response, &is_error)
                .find(R"("current_version":3)"),
            std::string::npos);
  EXPECT_TRUE(is_error);
  EXPECT_EQ(store->Get("default", "q").entry.version, 3u);
}

TEST_F(McpHandlerTest, ListPagesWithNextAfter) {
  for (const char* k : {"t:1", "t:2", "t:3", "u:1"}) {
    ASSERT_EQ(Call("memory_set", std::string(R"({"key":")") + k + R"(","value":1})").response.status, 200);
  }
  bool is_error = true;
  std::string text = ToolText(Call("memory_list", R"({"prefix":"t:","limit":2})").response, &is_error);
  EXPECT_FALSE(is_error);
  rapidjson::Document page = Parse(text);
  ASSERT_EQ(page["entries"].Size(), 2u);
  EXPECT_EQ(std::string(page["entries"][1]["key"].GetString()), "t:2");
  ASSERT_TRUE(page.HasMember("next_after"));
  EXPECT_EQ(std::string(page["next_after"].GetString()), "t:2");
  EXPECT_EQ(page["revision"].GetInt(), 4);
  text = ToolText(Call("memory_list", R"({"prefix":"t:","limit":2,"after":"t:2"})").response, &is_error);
  page = Parse(text);
  ASSERT_EQ(page["entries"].Size(), 1u);
  EXPECT_EQ(std::string(page["entries"][0]["key"].GetString()), "t:3");
  EXPECT_FALSE(page.HasMember("next_after"));
  // No arguments at all: the first page of everything.
  page = Parse(ToolText(Call("memory_list", "{}").response, &is_error));
  EXPECT_EQ(page["entries"].Size(), 4u);
  page = Parse(ToolText(Post(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"memory_list"}})").response, &is_error));
  EXPECT_EQ(page["entries"].Size(), 4u);
  // A limit past the most is served as the most; below 1 is the API's 400.
  EXPECT_FALSE((ToolText(Call("memory_list", R"({"limit":100000})").response, &is_error), is_error));
  EXPECT_TRUE((ToolText(Call("memory_list", R"({"limit":0})").response, &is_error), is_error));
}

TEST_F(McpHandlerTest, ListDefaultsToAPage) {
  for (int i = 0; i < 105; ++i) {
    PutRequest p;
    p.workspace = "default";
    const std::string key = "k" + std::to_string(1000 + i);
    p.key = key;
    p.value = "1";
    ASSERT_EQ(store->Put(p).outcome, Outcome::kOk);
  }
  bool is_error = true;
  rapidjson::Document page = Parse(ToolText(Call("memory_list", "{}").response, &is_error));
  EXPECT_EQ(page["entries"].Size(), 100u);
  EXPECT_EQ(std::string(page["next_after"].GetString()), "k1099");
}

TEST_F(McpHandlerTest, DeleteAndPatch) {
  bool is_error = true;
  ToolText(Call("memory_set", R"({"key":"c","value":{"n":1,"keep":1.50}})").response, &is_error);
  HandlerResult p = Call("memory_patch", R"({"key":"c","patch":[{"op":"increment","path":"/n","value":41}],"if_match_version":1})");
  EXPECT_EQ(ToolText(p.response, &is_error),
            R"({"status":"ok","key":"c","version":2,"revision":2,"value":{"n":42,"keep":1.50}})");
  EXPECT_FALSE(is_error);
  EXPECT_GT(p.visible_lsn, 0u);
  EXPECT_EQ(ToolText(Call("memory_patch", R"({"key":"c","merge":{"keep":null,"m":true},"ttl_seconds":60})").response, &is_error),
            R"({"status":"ok","key":"c","version":3,"revision":3,"value":{"n":42,"m":true}})");
  EXPECT_NE(store->Get("default", "c").entry.expires_at_ms, 0);
  // A failed patch op: the 409 with current_value.
  EXPECT_NE(ToolText(Call("memory_patch", R"({"key":"c","patch":[{"op":"test","path":"/n","value":1}]})").response, &is_error)
                .find(R"("current_value":{"n":42,"m":true})"),
            std::string::npos);
  EXPECT_TRUE(is_error);
  // A malformed patch: the API's 400.
  ToolText(Call("memory_patch", R"({"key":"c","patch":[{"op":"jump"}]})").response, &is_error);
  EXPECT_TRUE(is_error);
  EXPECT_EQ(ToolText(Call("memory_delete", R"({"key":"c","if_match_version":3})").response, &is_error),
            R"({"status":"deleted","revision":4})");
  EXPECT_FALSE(is_error);
  EXPECT_EQ(ToolText(Call("memory_delete", R"({"key":"c"})").response, &is_error), R"({"status":"deleted"})");
  EXPECT_EQ(store->Get("default", "c").outcome, Outcome::kNotFound);
}

TEST_F(McpHandlerTest, ANullPatchOrMergeCountsAsNotGiven) {
  bool is_error = true;
  ToolText(Call("memory_set", R"({"key":"c","value":{"n":1}})").response, &is_error);
  // Models fill optional fields with null: the other one applies.
  EXPECT_EQ(ToolText(Call("memory_patch", R"({"key":"c","patch":[{"op":"increment","path":"/n","value":1}],"merge":null})").response, &is_error),
            R"({"status":"ok","key":"c","version":2,"revision":2,"value":{"n":2}})");
  EXPECT_EQ(ToolText(Call("memory_patch", R"({"key":"c","merge":{"m":1},"patch":null})").response, &is_error),
            R"({"status":"ok","key":"c","version":3,"revision":3,"value":{"n":2,"m":1}})");
  // Both null is neither: refused, and the value is not erased.
  EXPECT_EQ(ErrorCode(Call("memory_patch", R"({"key":"c","patch":null,"merge":null})").response.body), -32602);
  EXPECT_EQ(store->Get("default", "c").entry.value, R"({"n":2,"m":1})");
}

TEST_F(McpHandlerTest, ABatchAnswerStopsGrowingPast16MiB) {
  // 24 values of nearly 1 MiB: one listing of them all would be 24 MiB,
  // 32 of them in a batch 768 MiB (times the copies of an answer).
  const std::string value = "\"" + std::string((1 << 20) - 64, 'v') + "\"";
  for (int i = 0; i < 24; ++i) {
    PutRequest put;
    const std::string key = "big" + std::to_string(100 + i);
    put.workspace = "default";
    put.key = key;
    put.value = value;
    ASSERT_EQ(store->Put(put).outcome, Outcome::kOk);
  }
  std::string batch = "[";
  for (int i = 0; i < 32; ++i) {
    batch += std::string(i ? "," : "") + R"({"jsonrpc":"2.0","id":)" + std::to_string(i) +
             R"(,"method":"tools/call","params":{"name":"memory_list","arguments":{"limit":1000}}})";
  }
  HandlerResult r = Post(batch + "]", "2025-03-26");
  ASSERT_EQ(r.response.status, 200);
  EXPECT_LT(r.response.body.size(), 32u << 20);
  rapidjson::Document d = Parse(r.response.body);
  ASSERT_TRUE(d.IsArray());
  ASSERT_EQ(d.Size(), 32u);
  // The first list is a page of about Handler::kPageBytes that says where
  // to go on; the last requests were not run.
  ASSERT_TRUE(d[0].HasMember("result")) << r.response.body.substr(0, 300);
  const std::string first = d[0]["result"]["content"][0]["text"].GetString();
  EXPECT_NE(first.find("\"next_after\":\"big10"), std::string::npos) << first.substr(first.size() - 200);
  EXPECT_LT(first.size(), Handler::kPageBytes + (2u << 20));
  EXPECT_EQ(d[31]["error"]["code"].GetInt(), -32000);
  EXPECT_EQ(d[31]["id"].GetInt(), 31);
}

TEST_F(McpHandlerTest, WorkspaceRouteAndWriterHeader) {
  HttpRequest req("POST", "/workspaces/team/mcp",
                  R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"memory_set","arguments":{"key":"k","value":"v"}}})");
  req.content_type = "application/json";
  req.writer = "agent-7";
  ASSERT_EQ(Run(req).response.status, 200);
  const GetResult g = store->Get("team", "k");
  ASSERT_EQ(g.outcome, Outcome::kOk);
  EXPECT_EQ(g.entry.writer, "agent-7");
  EXPECT_EQ(store->Get("default", "k").outcome, Outcome::kNotFound);
  bool is_error = false;
  EXPECT_NE(ToolText(Call("memory_get", R"({"key":"k"})", "2025-06-18", "/workspaces/team/mcp").response, &is_error)
                .find(R"("writer":"agent-7")"),
            std::string::npos);
  EXPECT_FALSE(is_error);
}

TEST_F(McpHandlerTest, AccessControlPerTool) {
  WithAccessControl();
  const std::string reader = Token("reader", "a", "read");
  const std::string writer = Token("writer", "a", "write");
  const std::string other = Token("other", "b", "write");
  // No token: 401 before any JSON-RPC.
  HandlerResult r = Post(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", "", "/workspaces/a/mcp");
  EXPECT_EQ(r.response.status, 401);
  EXPECT_NE(Header(r.response, "WWW-Authenticate").find("Bearer"), std::string::npos);
  secret = "cm_not-a-token";
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", "", "/workspaces/a/mcp").response.status, 401);
  // Any token may initialize and list; each tool is checked as its route.
  for (const std::string* s : {&reader, &writer, &other}) {
    secret = *s;
    EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})", "",
                   "/workspaces/a/mcp").response.status, 200);
    EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", "2025-06-18", "/workspaces/a/mcp").response.status,
              200);
  }
  bool is_error = false;
  secret = writer;
  ToolText(Call("memory_set", R"({"key":"k","value":1})", "2025-06-18", "/workspaces/a/mcp").response, &is_error);
  EXPECT_FALSE(is_error);
  // A write with the token and no Casmem-Writer is named after it, as over HTTP.
  EXPECT_EQ(store->Get("a", "k").entry.writer, "writer");
  secret = reader;
  ToolText(Call("memory_get", R"({"key":"k"})", "2025-06-18", "/workspaces/a/mcp").response, &is_error);
  EXPECT_FALSE(is_error);
  ToolText(Call("memory_list", "{}", "2025-06-18", "/workspaces/a/mcp").response, &is_error);
  EXPECT_FALSE(is_error);
  for (const auto& [tool, args] : std::vector<std::pair<std::string, std::string>>{
           {"memory_set", R"({"key":"k","value":2})"},
           {"memory_delete", R"({"key":"k"})"},
           {"memory_patch", R"({"key":"k","merge":{"x":1}})"}}) {
    const std::string text = ToolText(Call(tool, args, "2025-06-18", "/workspaces/a/mcp").response, &is_error);
    EXPECT_TRUE(is_error) << tool;
    EXPECT_NE(text.find("token 'reader' (read on workspace 'a') may not write workspace 'a'"), std::string::npos)
        << tool << ": " << text;
  }
  // A token of another workspace: every tool refused, the 403 body.
  secret = other;
  const std::string text = ToolText(Call("memory_get", R"({"key":"k"})", "2025-06-18", "/workspaces/a/mcp").response, &is_error);
  EXPECT_TRUE(is_error);
  EXPECT_NE(text.find("may not read workspace 'a'"), std::string::npos) << text;
  // /mcp is the default workspace's: a token of "a" may not use its tools.
  secret = writer;
  ToolText(Call("memory_get", R"({"key":"k"})").response, &is_error);
  EXPECT_TRUE(is_error);
  EXPECT_EQ(store->Get("a", "k").entry.value, "1");
}

TEST(McpRouteLabel, IsMcp) {
  EXPECT_STREQ(RouteLabel(Route::kMcp), "mcp");
  Metrics m;
  m.CountRequest(Route::kMcp, 202);
  m.CountRequest(Route::kMcp, 406);
  StoreOptions o;
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::Open(o, &store).ok());
  const std::string text = m.Render(*store);
  EXPECT_NE(text.find(R"(route="mcp",status="202"} 1)"), std::string::npos) << text.substr(0, 2000);
  EXPECT_NE(text.find(R"(route="mcp",status="406"} 1)"), std::string::npos);
}

}  // namespace
}  // namespace casmem::net
