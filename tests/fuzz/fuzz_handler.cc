// Fuzz target: the request handler (net/handler.h) on a fresh memory-only
// Store per input, so a crash reproduces from its input alone. Input: one
// or more requests separated by "\n--\n"; each is "METHOD TARGET" on its
// first line, then header lines "Name: value" (the ones the handler reads:
// Content-Type, If-Match, Idempotency-Key, Casmem-Writer, Last-Event-ID,
// Authorization, Accept, MCP-Protocol-Version; a repeat is
// passed on as repeated_header) as long as lines look like one, and the
// body after them. Invariants per response: a status the API defines; a
// JSON body that is exactly one valid-UTF-8 JSON value (a streamed list
// too, once drained); an error body for every status >= 400; a 415 names
// the media types it accepts (Accept-Patch, or Accept-Post for a POST); after a 200 POST the store holds exactly the
// value ParseWriteBody produced; and a write with an Idempotency-Key that
// got its answer, sent again unchanged, gets the same status and body
// byte for byte, marked Idempotency-Replayed. GuardedWriteOf (what the
// server's conflict turns read before a request runs) names the key the
// request then writes, and every stale-guard loser is one it names.
// Access control (memory-api.md §9) is always on: an input that begins
// "AUTH\n" starts with three tokens whose secrets the dictionary knows
// (cm_fuzz-admin of "*", cm_fuzz-w writing and cm_fuzz-r reading
// workspace "w"); otherwise none exists until a POST /admin/tokens makes
// one. Then: a request without an Authorization header is a 401 (with
// WWW-Authenticate) unless it is /healthz; a 403 only comes to a known
// token; no response body holds a known secret (unless the input has
// it outside an Authorization header: a client may store any text).
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/clock.h"
#include "engine/store.h"
#include "engine/names.h"
#include "net/access_control.h"
#include "net/guarded_write.h"
#include "net/handler.h"
#include "net/json_body.h"
#include "net/metrics.h"
#include "net/token_secret.h"
#include "net/url.h"
#include "tests/fuzz/fuzz_util.h"
#include "common/logger.h"

namespace {

using namespace casmem;
using namespace casmem::net;

bool KnownStatus(int s) {
  switch (s) {
    case 200: case 201: case 202: case 400: case 401: case 403: case 404: case 405: case 406: case 409:
    case 410: case 413: case 415: case 422: case 503:
      return true;
    default: return false;
  }
}

void CheckJson(std::string_view body) {
  FUZZ_CHECK(ValidUtf8(body));
  FUZZ_CHECK(fuzz::IsOneJsonValue(body));
}

bool HasHeader(const HttpResponse& r, std::string_view name, std::string_view value = {}) {
  for (const auto& [k, v] : r.headers)
    if (k == name && (value.empty() || v == value)) return true;
  return false;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Takes the header lines off the front of `rest` into `req`.
void TakeHeaders(std::string_view* rest, HttpRequest* req) {
  static constexpr std::string_view kNames[] = {"Content-Type", "If-Match", "Idempotency-Key",
                                                "Casmem-Writer", "Last-Event-ID", "Authorization",
                                                "Accept", "MCP-Protocol-Version"};
  while (!rest->empty()) {
    const size_t nl = rest->find('\n');
    const std::string_view line = rest->substr(0, nl);
    const size_t colon = line.find(": ");
    if (colon == std::string_view::npos || colon == 0) return;
    const std::string_view name = line.substr(0, colon);
    for (char c : name)
      if (!std::isalpha(static_cast<unsigned char>(c)) && c != '-') return;
    std::optional<std::string_view>* slots[] = {&req->content_type, &req->if_match,
                                                &req->idempotency_key, &req->writer,
                                                &req->last_event_id, &req->authorization,
                                                &req->accept, &req->mcp_protocol_version};
    for (size_t i = 0; i < 8; ++i) {
      if (!IEquals(name, kNames[i])) continue;
      if (*slots[i]) req->repeated_header = kNames[i];
      *slots[i] = line.substr(colon + 2);
    }
    rest->remove_prefix(nl == std::string_view::npos ? rest->size() : nl + 1);
  }
}

constexpr const char* kSecrets[] = {"cm_fuzz-admin", "cm_fuzz-w", "cm_fuzz-r"};

// Puts the three known tokens in the store, as TokenRegistry keeps them.
void PlantTokens(Store* store) {
  const std::pair<const char*, const char*> kinds[] = {{"*", "admin"}, {"w", "write"}, {"w", "read"}};
  for (int i = 0; i < 3; ++i) {
    const std::string value = std::string(R"({"workspace":")") + kinds[i].first + R"(","role":")" +
                              kinds[i].second + R"(","sha256":")" + HashHex(HashSecret(kSecrets[i])) + "\"}";
    PutRequest p;
    p.workspace = kTokensWorkspace;
    const std::string key = "t" + std::to_string(i);
    p.key = key;
    p.value = value;
    FUZZ_CHECK(store->Put(p).outcome == Outcome::kOk);
  }
}

// Whether a known secret appears in the input anywhere but in the value
// of an Authorization line (a client may store any text, secrets too).
bool SecretInData(std::string_view in) {
  while (!in.empty()) {
    const size_t nl = in.find('\n');
    const std::string_view line = in.substr(0, nl);
    if (!(line.size() > 14 && IEquals(line.substr(0, 14), "Authorization:")) &&
        line.find("cm_fuzz") != std::string_view::npos) {
      return true;
    }
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  }
  return false;
}
bool secret_in_data = false;  // of the current input

void OneRequest(Store* store, Handler* handler, AccessControl* access, std::string_view req) {
  const size_t nl = req.find('\n');
  const std::string_view line = req.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? "" : req.substr(nl + 1);
  const size_t sp = line.find(' ');
  const std::string_view method = line.substr(0, sp);
  const std::string_view target = sp == std::string_view::npos ? "" : line.substr(sp + 1);
  HttpRequest http(method, target);
  TakeHeaders(&body, &http);
  http.body = body;

  const std::optional<GuardedKey> guarded = GuardedWriteOf(http);
  const bool checked = !access->tokens().empty();
  std::shared_ptr<const TokenInfo> token;
  if (http.authorization) {
    if (auto secret = BearerSecret(*http.authorization)) token = access->tokens().Find(*secret);
  }
  HandlerResult r = handler->Handle(http);
  if (!secret_in_data) {
    for (const char* secret : kSecrets) FUZZ_CHECK(r.response.body.find(secret) == std::string::npos);
  }
  // /healthz however spelled (percent-encoded, a trailing slash, a query).
  std::string parse_error;
  const auto parsed_target = ParseTarget(target, &parse_error);
  const bool health = parsed_target && parsed_target->segments.size() == 1 &&
                      parsed_target->segments[0] == "healthz";
  if (checked && !http.authorization && !health) FUZZ_CHECK(r.response.status == 401);
  if (r.response.status == 401) {
    FUZZ_CHECK(checked && !token && HasHeader(r.response, "WWW-Authenticate"));
    return;
  }
  if (r.response.status == 403) FUZZ_CHECK(token || !checked);
  FUZZ_CHECK(store->WaitVisible(r.visible_lsn).ok());
  if (r.key_event == KeyEvent::kStaleConflict) FUZZ_CHECK(guarded && guarded->guard == r.guard);
  if (guarded && r.key_event != KeyEvent::kNone) {
    FUZZ_CHECK(guarded->workspace == r.workspace && guarded->key == r.key);
  }
  // A watch or a wait decided without a response: GET of its route only;
  // a wait run again at its deadline answers (never waits for ever).
  if (r.watch) FUZZ_CHECK(method == "GET" && r.route == Route::kWatch);
  if (r.wait) {
    FUZZ_CHECK(method == "GET" && (r.route == Route::kChanges || r.route == Route::kItem));
    FUZZ_CHECK(r.wait->wake_at <= r.wait->deadline);
    HttpRequest again = http;
    again.wait_deadline = std::chrono::steady_clock::now();  // its time is up
    HandlerResult late = handler->Handle(again);
    FUZZ_CHECK(!late.wait && !late.watch);
    FUZZ_CHECK(store->WaitVisible(late.visible_lsn).ok());
    CheckJson(late.response.body);
    return;
  }
  if (r.watch) return;
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
  if (resp.status == 202) {
    // MCP: only notifications or responses were posted; no body.
    FUZZ_CHECK(r.route == Route::kMcp && resp.body.empty());
  } else if (resp.content_type == "application/json") {
    CheckJson(resp.body);
  } else {
    FUZZ_CHECK(resp.status == 200 && method == "GET");  // /metrics
  }
  if (resp.status >= 400) FUZZ_CHECK(resp.body.find("\"error\":") != std::string::npos);
  if (resp.status == 405) FUZZ_CHECK(HasHeader(resp, "Allow"));
  if (resp.status == 415) FUZZ_CHECK(HasHeader(resp, method == "PATCH" ? "Accept-Patch" : "Accept-Post"));
  if (resp.status == 406) FUZZ_CHECK(r.route == Route::kMcp);
  // An MCP answer never waits for a conflict turn (a held 409 would be
  // rebuilt as HTTP, not as the tool result).
  if (r.route == Route::kMcp) FUZZ_CHECK(r.key_event != KeyEvent::kStaleConflict);
  const bool replayed = HasHeader(resp, "Idempotency-Replayed", "true");
  if (replayed) FUZZ_CHECK(http.idempotency_key && r.is_write);
  // A remembered answer (2xx or a 409 other than "in progress") comes back
  // byte for byte.
  if (r.is_write && http.idempotency_key && !replayed &&
      (resp.status == 200 ||
       (resp.status == 409 && resp.body != R"({"error":"request in progress"})"))) {
    HandlerResult again = handler->Handle(http);
    FUZZ_CHECK(store->WaitVisible(again.visible_lsn).ok());
    FUZZ_CHECK(again.response.status == resp.status);
    FUZZ_CHECK(again.response.body == resp.body);
    FUZZ_CHECK(HasHeader(again.response, "Idempotency-Replayed", "true"));
  }
  if (method == "POST" && resp.status == 200 && r.is_write && !replayed && r.route == Route::kCollection) {
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
  std::string_view in(reinterpret_cast<const char*>(data), size);
  secret_in_data = SecretInData(in);
  if (in.starts_with("AUTH\n")) {
    PlantTokens(store.get());
    in.remove_prefix(5);
  }
  AccessControl access(store.get(), &metrics, AccessOptions{});
  Handler handler(store.get(), &metrics, &access);

  constexpr std::string_view kSep = "\n--\n";
  for (int n = 0; n < 16; ++n) {  // bounded: each input stays fast
    const size_t cut = in.find(kSep);
    OneRequest(store.get(), &handler, &access, in.substr(0, cut));
    if (cut == std::string_view::npos) break;
    in.remove_prefix(cut + kSep.size());
  }
  return 0;
}
