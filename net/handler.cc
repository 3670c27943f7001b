// Routing of the memory API (memory-api.md §3, §5, §6): target, method,
// the request headers every write may carry, then the resource's handler
// (memory_handlers.cc, patch_handler.cc, txn_handler.cc).
#include "net/handler.h"

#include "engine/names.h"
#include "net/access_control.h"
#include "net/handler_internal.h"
#include "net/json_out.h"
#include "net/url.h"
#include "net/write_headers.h"

namespace casmem::net {

HandlerResult ResultOf(HttpResponse r) {
  HandlerResult out;
  out.response = std::move(r);
  return out;
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HandlerResult MethodNotAllowed(const char* allow) {
  HttpResponse r = Handler::Error(405, "method not allowed");
  r.headers.emplace_back("Allow", allow);
  return ResultOf(std::move(r));
}

HttpResponse Handler::Error(int status, std::string_view message) {
  return Json(status, ErrorJson(message));
}

HttpResponse Handler::ServiceUnavailable() { return Error(503, "storage unavailable"); }

// Whether `method` only reads (the read role's methods).
static bool Reads(std::string_view method) { return method == "GET" || method == "HEAD"; }

std::optional<HttpResponse> Handler::RefuseBeforeBody(const HttpRequest& req) const {
  if (access_ == nullptr) return std::nullopt;
  std::string error;
  const auto target = ParseTarget(req.target, &error);
  if (target && target->segments.size() == 1 && target->segments[0] == "healthz") return std::nullopt;
  AccessControl::Caller caller;
  return access_->Authenticate(req, &caller);
}

// With access control on, a write without Casmem-Writer is named after its
// token (memory-api.md §7). Token names are valid writer names ([A-Za-z0-9._-],
// 1-128 bytes), and the caller's TokenInfo outlives the request.
static void NameWriterAfterToken(WriteHeaders* h, const AccessControl::Caller& caller) {
  if (h->writer.empty() && caller.token) h->writer = caller.token->name;
}

HandlerResult Handler::Handle(const HttpRequest& req) {
  std::string error;
  auto target = ParseTarget(req.target, &error);
  // Who asks, before anything else is looked at (memory-api.md §9): every
  // endpoint but /healthz needs a token once any exists.
  AccessControl::Caller caller;
  const bool health = target && target->segments.size() == 1 && target->segments[0] == "healthz";
  if (access_ != nullptr && !health) {
    if (auto refused = access_->Admit(req, &caller)) return ResultOf(std::move(*refused));
  }
  if (!target) return ResultOf(Error(400, error));
  return Dispatch(req, *target, caller.token);
}

HandlerResult Handler::Dispatch(const HttpRequest& req, const Target& target_in,
                                const std::shared_ptr<const TokenInfo>& token) {
  std::string error;
  const Target* target = &target_in;
  AccessControl::Caller caller;
  caller.token = token;
  // The 403 for a caller who may not act on `ws` ("" for the server) with
  // `need`, if so.
  auto forbidden = [&](std::string_view ws, Role need, Route route) -> std::optional<HandlerResult> {
    if (access_ == nullptr) return std::nullopt;
    auto refused = access_->Check(caller, ws, need);
    if (!refused) return std::nullopt;
    HandlerResult r = ResultOf(std::move(*refused));
    r.route = route;
    return r;
  };
  // A parameter the API reads, given twice, is ambiguous (which guard?):
  // refused like a repeated header rather than resolved silently.
  for (const char* name : {"if_match_version", "ttl_seconds", "prefix", "after", "limit", "since",
                           "wait", "wait_version"}) {
    int count = 0;
    for (const auto& [k, v] : target->query) count += k == name;
    if (count > 1) return ResultOf(Error(400, std::string("query parameter ") + name + " given twice"));
  }
  const auto& seg = target->segments;
  // The change feed (memory-api.md §8): /workspaces/{ws}/watch and
  // /workspaces/{ws}/changes; /watch and /changes are the default
  // workspace's, as /memory is.
  const bool feed_ws = seg.size() == 3 && seg[0] == "workspaces" && (seg[2] == "watch" || seg[2] == "changes");
  const bool feed_default = seg.size() == 1 && (seg[0] == "watch" || seg[0] == "changes");
  if (feed_ws || feed_default) {
    const std::string feed_ws_name = feed_ws ? seg[1] : "default";
    const bool watch = seg.back() == "watch";
    const Route route = watch ? Route::kWatch : Route::kChanges;
    if (auto r = forbidden(feed_ws_name, Role::kRead, route)) return std::move(*r);
    HandlerResult r;
    if (const char* problem = WorkspaceProblem(feed_ws_name)) {
      r = ResultOf(Error(400, problem));
    } else if (req.method != "GET") {
      r = MethodNotAllowed("GET");
    } else if (!req.repeated_header.empty()) {
      r = ResultOf(Error(400, std::string(req.repeated_header) + " given more than once"));
    } else {
      r = watch ? Watch(feed_ws_name, *target, req) : Changes(feed_ws_name, *target, req);
      if (r.watch) r.watch->token = caller.token;
    }
    r.route = route;
    return r;
  }
  // /memory... is /workspaces/default/memory..., /txn is /workspaces/default/txn.
  std::string ws;
  size_t rest = 0;  // index of "memory" or "txn"
  if (seg.size() >= 3 && seg[0] == "workspaces" && (seg[2] == "memory" || seg[2] == "txn")) {
    ws = seg[1];
    rest = 2;
  } else if (!seg.empty() && (seg[0] == "memory" || seg[0] == "txn")) {
    ws = "default";
    rest = 0;
  } else if (seg.size() == 1 && seg[0] == "healthz") {
    HandlerResult r = req.method == "GET" ? ResultOf(Json(200, R"({"status":"ok"})"))
                                          : MethodNotAllowed("GET");
    r.route = Route::kHealth;
    return r;
  } else if (seg.size() == 1 && seg[0] == "metrics") {
    if (auto r = forbidden("", Role::kAdmin, Route::kMetrics)) return std::move(*r);
    HandlerResult r = MethodNotAllowed("GET");
    if (req.method == "GET") {
      r = ResultOf(Json(200, metrics_->Render(*store_)));
      r.response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    }
    r.route = Route::kMetrics;
    return r;
  } else if (seg.size() == 2 && seg[0] == "admin" && seg[1] == "import") {
    if (auto r = forbidden("", Role::kAdmin, Route::kAdmin)) return std::move(*r);
    HandlerResult r = AdminImport(store_, req);
    r.route = Route::kAdmin;
    return r;
  } else if ((seg.size() == 1 && seg[0] == "mcp") ||
             (seg.size() == 3 && seg[0] == "workspaces" && seg[2] == "mcp")) {
    // MCP (memory-api.md §10): any valid token may speak the protocol; each
    // tool is checked as the HTTP route it runs (mcp_handler.cc).
    HandlerResult r = Mcp(seg.size() == 1 ? std::string("default") : seg[1], req, caller.token);
    r.route = Route::kMcp;
    return r;
  } else if (seg.size() >= 2 && seg[0] == "admin" && seg[1] == "tokens") {
    if (auto r = forbidden("", Role::kAdmin, Route::kAdmin)) return std::move(*r);
    HandlerResult r = AdminTokens(seg, req, caller.token ? std::string_view(caller.token->name)
                                                         : std::string_view("(no token)"));
    r.route = Route::kAdmin;
    return r;
  } else {
    return ResultOf(Error(404, "no such endpoint"));
  }
  const bool txn = seg[rest] == "txn";
  const size_t extra = seg.size() - rest - 1;  // segments after "memory" / "txn"
  if (extra > (txn ? 0 : 1)) return ResultOf(Error(404, "no such endpoint"));
  const Route route = txn ? Route::kTxn
                      : extra == 0 ? Route::kCollection
                      : req.method == "PATCH" ? Route::kPatch
                                              : Route::kItem;
  const char* allow = txn ? "POST" : extra == 0 ? "GET, POST" : "GET, PATCH, DELETE";
  const bool allowed = txn ? req.method == "POST"
                       : extra == 0 ? (req.method == "GET" || req.method == "POST")
                                    : (req.method == "GET" || req.method == "PATCH" ||
                                       req.method == "DELETE");
  const char* key_problem = extra == 1 ? KeyProblem(seg[rest + 1]) : nullptr;
  if (auto r = forbidden(ws, Reads(req.method) ? Role::kRead : Role::kWrite, route)) return std::move(*r);
  HandlerResult r;
  if (const char* problem = WorkspaceProblem(ws)) {
    r = ResultOf(Error(400, problem));
  } else if (!allowed) {
    r = MethodNotAllowed(allow);
  } else if (!req.repeated_header.empty()) {
    r = ResultOf(Error(400, std::string(req.repeated_header) + " given more than once"));
  } else if (key_problem != nullptr) {
    r = ResultOf(Error(400, key_problem));
  } else if (req.method == "GET") {
    if (extra == 0) {
      r = List(ws, *target);
    } else if (QueryParam(*target, "wait_version") != nullptr) {
      r = BlockingGet(ws, seg[rest + 1], *target, req);
    } else {
      r = Get(ws, seg[rest + 1]);
    }
  } else if (auto headers = ParseWriteHeaders(req, &error); !headers) {
    r = ResultOf(Error(400, error));
  } else {
    NameWriterAfterToken(&*headers, caller);
    if (txn) {
      r = Txn(ws, req, *headers);
    } else if (extra == 0) {
      r = Write(ws, req, *headers);
    } else if (req.method == "PATCH") {
      r = Patch(ws, seg[rest + 1], *target, req, *headers);
    } else {
      r = Delete(ws, seg[rest + 1], *target, req, *headers);
    }
  }
  r.route = route;
  return r;
}

}  // namespace casmem::net
