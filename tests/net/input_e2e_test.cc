// casmemd end to end against hostile bodies (issue 7): a value nested
// 300,000 levels deep, and escaped lone surrogates, get a 400 while the
// server keeps serving every other client.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/http_client.h"

namespace casmem::testing {
namespace {

class InputE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = ::testing::TempDir() + "casmemd-input-" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
          std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    server = std::make_unique<Casmemd>(dir);
    ASSERT_GT(server->port(), 0) << server->Stderr();
  }
  void TearDown() override {
    server.reset();
    std::filesystem::remove_all(dir);
    std::filesystem::remove(dir + ".stderr");
  }
  // A request on a fresh connection; status 0 when casmemd is gone.
  HttpReply Fresh(const std::string& method, const std::string& target,
                  const std::string& body = "") {
    auto c = HttpClient::Connect(server->port());
    EXPECT_TRUE(c) << "casmemd no longer accepts connections";
    return c ? c->Request(method, target, body) : HttpReply{};
  }
  std::string dir;
  std::unique_ptr<Casmemd> server;
};

TEST_F(InputE2eTest, DeeplyNestedBodyIs400AndTheServerKeepsServing) {
  auto other = HttpClient::Connect(server->port());  // connected before, must survive
  ASSERT_TRUE(other);
  ASSERT_EQ(other->Request("POST", "/memory", R"({"key":"a","value":1})").status, 200);
  const std::string deep = R"({"key":"k","value":)" + std::string(300'000, '[');
  HttpReply r = Fresh("POST", "/memory", deep);
  EXPECT_EQ(r.status, 400) << server->Stderr();
  EXPECT_NE(r.body.find("nested deeper"), std::string::npos) << r.body;
  // The same body closed properly, and deep objects in an ignored field.
  std::string closed = R"({"key":"k","value":)" + std::string(300'000, '[') +
                       std::string(300'000, ']') + "}";
  EXPECT_EQ(Fresh("POST", "/memory", closed).status, 400);
  std::string objs = R"({"key":"k","value":1,"x":)";
  for (int i = 0; i < 50'000; ++i) objs += R"({"a":)";
  EXPECT_EQ(Fresh("POST", "/memory", objs).status, 400);
  // Everyone else is still served, on old and new connections.
  HttpReply g = other->Request("GET", "/memory/a");
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(Fresh("GET", "/healthz").status, 200);
  EXPECT_EQ(Fresh("GET", "/memory/k").status, 404);
}

TEST_F(InputE2eTest, LoneSurrogateIs400AndNeverServed) {
  auto c = HttpClient::Connect(server->port());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->Request("POST", "/memory", R"({"key":"k","value":"\udc00"})").status, 400);
  EXPECT_EQ(c->Request("POST", "/memory", R"({"key":"k","value":["\ud800"]})").status, 400);
  EXPECT_EQ(c->Request("GET", "/memory/k").status, 404);
  EXPECT_EQ(c->Request("GET", "/memory").body, "[]");
}

}  // namespace
}  // namespace casmem::testing
