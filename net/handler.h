// Handler: the pure request handler of the memory API (Beast's
// advanced-server split): request in, response out, no I/O. It routes,
// validates, calls the store and builds the response; the session that
// does the I/O must not send it before store.WhenVisible(visible_lsn)
// fires OK (and sends ServiceUnavailable() if it fires with an error).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/change_history.h"
#include "engine/store.h"
#include "net/metrics.h"
#include "net/token_registry.h"
#include "net/url.h"

namespace casmem::net {

// What the handler sees of a request. The header fields are those it
// acts on, absent when not sent; the session (or a test) sets
// `repeated_header` to the name of one of them that came more than once,
// which the handler answers with a 400.
struct HttpRequest {
  HttpRequest() = default;
  HttpRequest(std::string_view m, std::string_view t, std::string_view b = {})
      : method(m), target(t), body(b) {}
  std::string_view method;
  std::string_view target;
  std::string_view body;
  std::optional<std::string_view> content_type;
  std::optional<std::string_view> if_match;
  std::optional<std::string_view> idempotency_key;
  std::optional<std::string_view> writer;  // Casmem-Writer
  std::optional<std::string_view> last_event_id;  // Last-Event-ID (a watch's resume point)
  std::optional<std::string_view> authorization;  // Authorization ("Bearer <secret>")
  std::optional<std::string_view> origin;  // Origin: sent by web browsers (refused while no token exists)
  std::optional<std::string_view> accept;  // Accept (read by the MCP route only)
  std::optional<std::string_view> mcp_protocol_version;  // MCP-Protocol-Version (the MCP route)
  // The client's IP address as text (failed authentications are counted
  // per address; the rate limit keys on it while no token exists).
  std::string_view remote_address;
  std::string_view repeated_header;
  // Set by the session when it runs a waiting request (HandlerResult::wait)
  // again: the deadline its first run computed. At or past it, the request
  // is answered with the state now (a shutdown sets it to now).
  std::optional<std::chrono::steady_clock::time_point> wait_deadline;
};

struct WriteHeaders;
class AccessControl;

struct HttpResponse {
  int status = 200;
  std::string body;  // JSON, or Prometheus text for /metrics
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // Allow, ETag, Link
};

// A listing without `limit` that did not fit one page: the body is sent in
// chunks, each released only when its own visible_lsn is acknowledged.
class ListStream {
 public:
  // `revision`: the store's revision read before the listing began (its
  // Casmem-Revision header).
  ListStream(Store* store, std::string workspace, std::string prefix, std::string after,
             uint64_t revision);
  // The next piece of the JSON array. Returns false once the closing "]"
  // has been produced (by an earlier call).
  bool Next(std::string* chunk, uint64_t* visible_lsn);
  uint64_t revision() const { return revision_; }

 private:
  Store* store_;
  const std::string workspace_, prefix_;
  std::string after_;
  const uint64_t revision_;
  bool started_ = false;
  bool done_ = false;
};

// What a write did to its key, for the server's ConflictTurns.
enum class KeyEvent {
  kNone,
  kCommitted,      // the key changed
  kStaleConflict,  // a guard older than the key's current version lost
};

// GET …/watch accepted: the session hands the connection to a watch stream
// (SSE) of the changes matching `filter` after `since`.
struct WatchStart {
  ChangeFilter filter;
  uint64_t since = 0;
  // The token the watch was opened with (null while no token exists): the
  // stream ends once it is revoked.
  std::shared_ptr<const TokenInfo> token;
};

// A blocking read or long-poll with nothing to answer yet: the session
// keeps the request and runs it again (HttpRequest::wait_deadline =
// deadline) once the change feed dispatches a change matching `filter`
// after `since`, or at `wake_at` (the deadline, or sooner: when the key's
// TTL runs out), or at shutdown.
struct WaitFor {
  ChangeFilter filter;
  uint64_t since = 0;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::steady_clock::time_point wake_at;
};

struct HandlerResult {
  HttpResponse response;
  uint64_t visible_lsn = 0;
  std::unique_ptr<ListStream> stream;  // set: send the body chunked from it
  Route route = Route::kUnknown;
  bool is_write = false;
  KeyEvent key_event = KeyEvent::kNone;
  std::string workspace, key;  // set with key_event
  uint64_t guard = 0;          // kStaleConflict: the if_match_version that lost
  uint64_t current_version = 0;  // kStaleConflict: the key's version the 409 reports
  std::optional<WatchStart> watch;  // set: no response; serve the watch
  std::optional<WaitFor> wait;      // set: no response yet; wait, then run again
};

class Handler {
 public:
  static constexpr size_t kStreamPage = 1000;
  // A listing with `limit` ends its page (with a Link to the rest) once
  // its body passes this many bytes.
  static constexpr size_t kPageBytes = 4u << 20;

  // `access`: null serves everyone (tests, fuzzing); else every request
  // but /healthz is checked by it (memory-api.md §9).
  Handler(Store* store, Metrics* metrics, AccessControl* access = nullptr)
      : store_(store), metrics_(metrics), access_(access) {}
  HandlerResult Handle(const HttpRequest& req);
  AccessControl* access() const { return access_; }
  // The refusal of a request whose header alone shows it will not be
  // served (no valid token, memory-api.md §9), or nullopt. The session asks
  // once the header is read, before it reads or invites (100 Continue) a
  // body: an unauthenticated client cannot make it buffer bodies.
  std::optional<HttpResponse> RefuseBeforeBody(const HttpRequest& req) const;

  // The 409 for a stale loser whose turn has come (ConflictTurns): built
  // from the key's state now, so that a retry from it can win.
  HandlerResult ConflictNow(const std::string& ws, const std::string& key, uint64_t guard);

  static HttpResponse ServiceUnavailable();
  static HttpResponse Error(int status, std::string_view message);

 private:
  // One file per resource: memory_handlers.cc (list, get, POST, DELETE),
  // patch_handler.cc, txn_handler.cc. `h` holds the request's validated
  // Idempotency-Key and Casmem-Writer (write_headers.h).
  HandlerResult List(const std::string& ws, const Target& t);
  HandlerResult Write(const std::string& ws, const HttpRequest& req, const WriteHeaders& h);
  HandlerResult Get(const std::string& ws, const std::string& key);
  // The GET answer from a read already made (`g`).
  HandlerResult Get(const std::string& ws, const std::string& key, const GetResult& g);
  // watch_handlers.cc: GET …/watch, GET …/changes and the blocking read
  // (GET …/memory/{key}?wait_version=V&wait=D, memory-api.md §8).
  HandlerResult Watch(const std::string& ws, const Target& t, const HttpRequest& req);
  HandlerResult Changes(const std::string& ws, const Target& t, const HttpRequest& req);
  HandlerResult BlockingGet(const std::string& ws, const std::string& key, const Target& t,
                            const HttpRequest& req);
  // The 400 for a `since` above the newest revision, if it is.
  std::optional<HttpResponse> FutureRevision(uint64_t since) const;
  HandlerResult Delete(const std::string& ws, const std::string& key, const Target& t,
                       const HttpRequest& req, const WriteHeaders& h);
  HandlerResult Patch(const std::string& ws, const std::string& key, const Target& t,
                      const HttpRequest& req, const WriteHeaders& h);
  HandlerResult Txn(const std::string& ws, const HttpRequest& req, const WriteHeaders& h);
  // admin_handlers.cc: /admin/tokens[/{name}] (memory-api.md §9). `by`:
  // the caller's token name (the writer of what it changes).
  HandlerResult AdminTokens(const std::vector<std::string>& seg, const HttpRequest& req,
                            std::string_view by);
  // Everything Handle does after authentication: routing, the per-route
  // access check against `token` (null: not checked, no token exists or no
  // access control), the resource's handler. The MCP route runs its tools
  // through it with requests it builds, so they are checked, validated and
  // answered exactly as the HTTP routes are.
  HandlerResult Dispatch(const HttpRequest& req, const Target& target,
                         const std::shared_ptr<const TokenInfo>& token);
  // mcp_handler.cc: POST /mcp and /workspaces/{ws}/mcp (memory-api.md §10).
  HandlerResult Mcp(const std::string& ws, const HttpRequest& req,
                    const std::shared_ptr<const TokenInfo>& token);
  // The reply to a put, delete or patch: `response` (RenderWrite's, the
  // same function that renders the answer an Idempotency-Key remembers)
  // plus what the session needs (visibility, ConflictTurns, metrics).
  // `remembered`: the request carried an Idempotency-Key, so its 409 is
  // never held for a turn (a held 409 is rebuilt later and would differ
  // from the answer the store remembered for replays).
  HandlerResult WriteReply(const WriteResult& w, const std::string& ws, std::string_view key,
                           std::optional<uint64_t> guard, HttpResponse response, bool remembered);

  Store* store_;
  Metrics* metrics_;
  AccessControl* access_;
};

}  // namespace casmem::net
