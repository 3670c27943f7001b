// ServerTest: the fixture of the end-to-end casmemd tests (server_*_test.cc):
// a real casmemd on an ephemeral port in a fresh data directory, removed
// after the test.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/http_client.h"

namespace casmem::testing {

inline std::string FreshDir(const std::string& name) {
  const std::string dir =
      ::testing::TempDir() + "casmemd-" + name + "-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

class ServerTest : public ::testing::Test {
 protected:
  void Start(const std::vector<std::string>& args = {}) {
    server = std::make_unique<Casmemd>(dir, args);
    ASSERT_GT(server->port(), 0) << server->Stderr();
  }
  std::unique_ptr<HttpClient> Client(int rcvbuf = 0) {
    auto c = HttpClient::Connect(server->port(), rcvbuf);
    EXPECT_TRUE(c);
    return c;
  }
  void TearDown() override {
    server.reset();
    std::filesystem::remove_all(dir);
    std::filesystem::remove(dir + ".stderr");
  }
  std::string dir = FreshDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::unique_ptr<Casmemd> server;
};

}  // namespace casmem::testing
