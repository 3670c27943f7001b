// The MCP endpoint through a real casmemd (memory-api.md §10): the
// session hands the route its headers (Accept, MCP-Protocol-Version; a
// repeated Accept counts as absent, a repeated version is refused, and
// neither repeat troubles the other routes), a 202 goes out with no body
// on a connection that stays usable, and a tool's write is durable and
// visible to the HTTP API.
#include <gtest/gtest.h>

#include <string>

#include "tests/net/server_fixture.h"

namespace casmem::testing {
namespace {

class McpServerTest : public ServerTest {};

constexpr const char* kJson = "Content-Type: application/json\r\n";

TEST_F(McpServerTest, HeadersAnd202OverTheWire) {
  Start();
  auto c = Client();
  const std::string ping = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
  HttpReply r = c->Request("POST", "/mcp", ping, std::string(kJson) + "Accept: text/event-stream\r\n");
  EXPECT_EQ(r.status, 406) << r.body;
  r = c->Request("POST", "/mcp", ping, std::string(kJson) + "Accept: text/event-stream\r\nAccept: application/json\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  r = c->Request("POST", "/mcp", ping, std::string(kJson) + "MCP-Protocol-Version: 2024-01-01\r\n");
  EXPECT_EQ(r.status, 400) << r.body;
  r = c->Request("POST", "/mcp", ping,
                 std::string(kJson) + "MCP-Protocol-Version: 2025-06-18\r\nMCP-Protocol-Version: 2025-06-18\r\n");
  EXPECT_EQ(r.status, 400) << r.body;
  // The batch rule follows the header the session passes on.
  const std::string batch = "[" + ping + "]";
  r = c->Request("POST", "/mcp", batch, std::string(kJson) + "MCP-Protocol-Version: 2025-06-18\r\n");
  EXPECT_EQ(r.status, 400) << r.body;
  r = c->Request("POST", "/mcp", batch, std::string(kJson) + "MCP-Protocol-Version: 2025-03-26\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"([{"jsonrpc":"2.0","id":1,"result":{}}])");
  // Other routes do not care about either header, repeated or not.
  r = c->Request("GET", "/memory", "", "Accept: text/html\r\nAccept: text/plain\r\nMCP-Protocol-Version: x\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  // A notification: 202, no body, and the connection goes on.
  r = c->Request("POST", "/mcp", R"({"jsonrpc":"2.0","method":"notifications/initialized"})", kJson);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.Header("content-length"), "0");
  r = c->Request("GET", "/mcp");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("allow"), "POST");
  // A tool's write, then the HTTP API reads it.
  r = c->Request("POST", "/workspaces/team/mcp",
                 R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_set","arguments":{"key":"k","value":1.50}}})",
                 std::string(kJson) + "Casmem-Writer: mcp-agent\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("isError":false)"), std::string::npos) << r.body;
  r = c->Request("GET", "/workspaces/team/memory/k");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("value":1.50)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("writer":"mcp-agent")"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace casmem::testing
