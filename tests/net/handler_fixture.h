// HandlerTest: the fixture of the pure handler's tests: a memory-only
// Store on a manual clock, a Handler, and helpers that call it as the
// session would (waiting for the result to be visible).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "engine/clock.h"
#include "engine/store.h"
#include "net/handler.h"
#include "net/metrics.h"

namespace casmem::net {

class HandlerTest : public ::testing::Test {
 protected:
  HandlerTest() {
    StoreOptions o;
    o.clock = &clock;
    o.sweep_interval = std::chrono::milliseconds(0);
    o.max_value_bytes = 1000;
    EXPECT_TRUE(Store::Open(o, &store).ok());
    handler = std::make_unique<Handler>(store.get(), &metrics);
  }
  HttpResponse Call(std::string_view method, std::string_view target, std::string_view body = "") {
    return Call(HttpRequest{method, target, body});
  }
  HttpResponse Call(const HttpRequest& req) {
    HandlerResult r = handler->Handle(req);
    EXPECT_TRUE(store->WaitVisible(r.visible_lsn).ok());
    EXPECT_FALSE(r.stream) << "unexpected stream";
    return r.response;
  }
  HttpResponse Post(std::string_view body, std::string_view ws = "") {
    std::string target = ws.empty() ? "/memory" : "/workspaces/" + std::string(ws) + "/memory";
    return Call("POST", target, body);
  }
  static std::string Header(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }

  ManualClock clock{1'795'774'530'123};  // 2026-11-27T10:15:30.123Z
  std::unique_ptr<Store> store;
  Metrics metrics;
  std::unique_ptr<Handler> handler;
};

}  // namespace casmem::net
