// SIGKILL of casmemd in the middle of concurrent PATCH increments and
// /txn transfers (issue 8): the restarted server has every acknowledged
// increment, none twice (the counter equals the number of increments its
// version says were applied), and never half a transfer.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/net/server_fixture.h"

namespace casmem::testing {
namespace {

int64_t IntAfter(const std::string& body, const std::string& field) {
  const size_t at = body.find("\"" + field + "\":");
  return at == std::string::npos ? -1 : std::stoll(body.substr(at + field.size() + 3));
}

TEST_F(ServerTest, SigkillUnderConcurrentPatchesAndTransactions) {
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Start();
    const std::string ws = "/workspaces/k" + std::to_string(round);
    {
      auto c = Client();
      ASSERT_EQ(c->Request("POST", ws + "/memory", R"({"key":"ctr","value":{"n":0}})").status, 200);
      ASSERT_EQ(c->Request("POST", ws + "/memory", R"({"key":"x","value":{"n":500}})").status, 200);
      ASSERT_EQ(c->Request("POST", ws + "/memory", R"({"key":"y","value":{"n":500}})").status, 200);
    }
    std::atomic<int64_t> acked_version{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 3; ++t) {
      clients.emplace_back([&] {
        auto c = HttpClient::Connect(server->port());
        while (!stop) {
          HttpReply r = c->Request("PATCH", ws + "/memory/ctr",
                                   R"([{"op":"increment","path":"/n","value":1}])",
                                   "Content-Type: application/json-patch+json\r\n");
          if (r.status != 200) return;  // the server died under us
          const int64_t v = IntAfter(r.body, "version");
          int64_t seen = acked_version.load();
          while (v > seen && !acked_version.compare_exchange_weak(seen, v)) {
          }
        }
      });
    }
    clients.emplace_back([&] {
      auto c = HttpClient::Connect(server->port());
      while (!stop) {
        HttpReply r = c->Request(
            "POST", ws + "/txn",
            R"({"ops":[{"op":"patch","key":"x","patch":[{"op":"increment","path":"/n","value":-1}]},)"
            R"({"op":"patch","key":"y","patch":[{"op":"increment","path":"/n","value":1}]}]})");
        if (r.status != 200) return;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + 150 * round));
    server->Kill();
    stop = true;
    for (auto& t : clients) t.join();
    Start();
    auto c = Client();
    const HttpReply ctr = c->Request("GET", ws + "/memory/ctr");
    ASSERT_EQ(ctr.status, 200);
    const int64_t version = IntAfter(ctr.body, "version");
    EXPECT_GE(version, acked_version.load()) << "an acknowledged increment was lost";
    EXPECT_EQ(IntAfter(ctr.body, "n"), version - 1) << "an increment applied twice: " << ctr.body;
    const HttpReply x = c->Request("GET", ws + "/memory/x"), y = c->Request("GET", ws + "/memory/y");
    EXPECT_EQ(IntAfter(x.body, "n") + IntAfter(y.body, "n"), 1000) << x.body << " " << y.body;
    EXPECT_EQ(IntAfter(x.body, "version"), IntAfter(y.body, "version")) << "half a transfer";
    EXPECT_EQ(IntAfter(x.body, "revision"), IntAfter(y.body, "revision"));
    server->Kill();
  }
}

}  // namespace
}  // namespace casmem::testing
