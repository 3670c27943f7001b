// Fuzz target: the request handler (net/handler.h) on a fresh memory-only
// Store per input, so a crash reproduces from its input alone. Input: one
// or more requests separated by "\n--\n"; each is "METHOD TARGET" on its
// first line and the body after it (the handler sees no headers: the
// server keeps them). Invariants per response: a status the API defines;
// a JSON body that is exactly one valid-UTF-8 JSON value (a streamed list
// too, once drained); an error body for every status >= 400; and after a
// 200 POST the store holds exactly the value ParseWriteBody produced.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/clock.h"
#include "engine/store.h"
#include "net/handler.h"
#include "net/json_body.h"
#include "net/metrics.h"
#include "net/url.h"
#include "tests/fuzz/fuzz_util.h"
#include "common/logger.h"

namespace {

using namespace casmem;
using namespace casmem::net;

bool KnownStatus(int s) {
  switch (s) {
    case 200: case 400: case 404: case 405: case 409: case 413: case 503: return true;
    default: return false;
  }
}

void CheckJson(std::string_view body) {
  FUZZ_CHECK(ValidUtf8(body));
  FUZZ_CHECK(fuzz::IsOneJsonValue(body));
}

void OneRequest(Store* store, Handler* handler, std::string_view req) {
  const size_t nl = req.find('\n');
  const std::string_view line = req.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? "" : req.substr(nl + 1);
  const size_t sp = line.find(' ');
  const std::string_view method = line.substr(0, sp);
  const std::string_view target = sp == std::string_view::npos ? "" : line.substr(sp + 1);

  HandlerResult r = handler->Handle(HttpRequest{method, target, body});
  FUZZ_CHECK(store->WaitVisible(r.visible_lsn).ok());
  if (r.stream) {
    std::string all, chunk;
    uint64_t lsn = 0;
    while (r.stream->Next(&chunk, &lsn)) {
      FUZZ_CHECK(store->WaitVisible(lsn).ok());
      all += chunk;
    }
    CheckJson(all);
    FUZZ_CHECK(all.front() == '[');
    return;
  }
  const HttpResponse& resp = r.response;
  FUZZ_CHECK(KnownStatus(resp.status));
  if (resp.content_type == "application/json") {
    CheckJson(resp.body);
  } else {
    FUZZ_CHECK(resp.status == 200 && method == "GET");  // /metrics
  }
  if (resp.status >= 400) FUZZ_CHECK(resp.body.find("\"error\":") != std::string::npos);
  if (resp.status == 405) {
    bool allow = false;
    for (const auto& [k, v] : resp.headers) allow |= k == "Allow";
    FUZZ_CHECK(allow);
  }
  if (method == "POST" && resp.status == 200 && r.is_write) {
    std::string error;
    auto parsed = ParseWriteBody(body, &error);
    FUZZ_CHECK(parsed);
    auto t = ParseTarget(target, &error);
    FUZZ_CHECK(t);
    const std::string ws = t->segments[0] == "memory" ? "default" : t->segments[1];
    const GetResult g = store->Get(ws, parsed->key);
    if (g.outcome == Outcome::kOk) {  // absent only if the TTL already ran out
      FUZZ_CHECK(g.entry.value == parsed->value);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  SetLogLevel(LogLevel::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ManualClock clock(1'795'774'530'123);
  StoreOptions o;  // empty data_dir: memory only, no log
  o.shards = 4;
  o.sweep_interval = std::chrono::milliseconds(0);
  o.max_value_bytes = 4096;
  o.clock = &clock;
  std::unique_ptr<Store> store;
  FUZZ_CHECK(Store::Open(o, &store).ok());
  Metrics metrics;
  Handler handler(store.get(), &metrics);

  std::string_view in(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kSep = "\n--\n";
  for (int n = 0; n < 16; ++n) {  // bounded: each input stays fast
    const size_t cut = in.find(kSep);
    OneRequest(store.get(), &handler, in.substr(0, cut));
    if (cut == std::string_view::npos) break;
    in.remove_prefix(cut + kSep.size());
  }
  return 0;
}
