// Routing and the memory endpoints; every status of memory-api.md §3.
#include "net/handler.h"

#include "net/json_body.h"
#include "net/json_out.h"
#include "net/url.h"
#include "engine/names.h"

namespace casmem::net {
namespace {

HandlerResult Result(HttpResponse r) {
  HandlerResult out;
  out.response = std::move(r);
  return out;
}

HandlerResult MethodNotAllowed(const char* allow) {
  HttpResponse r = Handler::Error(405, "method not allowed");
  r.headers.emplace_back("Allow", allow);
  return Result(std::move(r));
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

HttpResponse Handler::Error(int status, std::string_view message) {
  return Json(status, ErrorJson(message));
}

HttpResponse Handler::ServiceUnavailable() { return Error(503, "storage unavailable"); }

HandlerResult Handler::Handle(const HttpRequest& req) {
  std::string error;
  auto target = ParseTarget(req.target, &error);
  if (!target) return Result(Error(400, error));
  const auto& seg = target->segments;
  // /memory... is /workspaces/default/memory...
  std::string ws;
  size_t rest = 0;  // index of "memory"
  if (seg.size() >= 3 && seg[0] == "workspaces" && seg[2] == "memory") {
    ws = seg[1];
    rest = 2;
  } else if (!seg.empty() && seg[0] == "memory") {
    ws = "default";
    rest = 0;
  } else if (seg.size() == 1 && seg[0] == "healthz") {
    HandlerResult r = req.method == "GET" ? Result(Json(200, R"({"status":"ok"})"))
                                          : MethodNotAllowed("GET");
    r.route = Route::kHealth;
    return r;
  } else if (seg.size() == 1 && seg[0] == "metrics") {
    HandlerResult r = MethodNotAllowed("GET");
    if (req.method == "GET") {
      r = Result(Json(200, metrics_->Render(*store_)));
      r.response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    }
    r.route = Route::kMetrics;
    return r;
  } else {
    return Result(Error(404, "no such endpoint"));
  }
  const size_t extra = seg.size() - rest - 1;  // segments after "memory"
  if (extra > 1) return Result(Error(404, "no such endpoint"));
  if (const char* problem = WorkspaceProblem(ws)) {
    HandlerResult r = Result(Error(400, problem));
    r.route = extra == 0 ? Route::kCollection : Route::kItem;
    return r;
  }
  HandlerResult r;
  if (extra == 0) {
    if (req.method == "GET") r = List(ws, *target);
    else if (req.method == "POST") r = Write(ws, req.body);
    else r = MethodNotAllowed("GET, POST");
    r.route = Route::kCollection;
  } else {
    const std::string& key = seg[rest + 1];
    if (req.method != "GET" && req.method != "DELETE") {
      r = MethodNotAllowed("GET, DELETE");
    } else if (const char* problem = KeyProblem(key)) {
      r = Result(Error(400, problem));
    } else if (req.method == "GET") {
      r = Get(ws, key);
    } else {
      r = Delete(ws, key, *target);
    }
    r.route = Route::kItem;
  }
  return r;
}

HandlerResult Handler::List(const std::string& ws, const Target& t) {
  const std::string* prefix = QueryParam(t, "prefix");
  const std::string* after = QueryParam(t, "after");
  const std::string* limit_text = QueryParam(t, "limit");
  size_t limit = 0;
  if (limit_text != nullptr) {
    auto n = ParseUnsigned(*limit_text);
    if (!n || *n < 1 || *n > 10000) return Result(Error(400, "limit must be an integer from 1 to 10000"));
    limit = static_cast<size_t>(*n);
  }
  const std::string p = prefix ? *prefix : "";
  const std::string a = after ? *after : "";
  const ListResult page = store_->List(ws, p, a, limit ? limit : kStreamPage);
  HandlerResult r;
  r.visible_lsn = page.visible_lsn;
  if (limit == 0 && page.more) {
    // Too large for one page: stream it; the first page is fetched again
    // by the stream so the response is built in one place.
    r.stream = std::make_unique<ListStream>(store_, ws, p, a);
    return r;
  }
  std::string body = "[";
  for (size_t i = 0; i < page.entries.size(); ++i) {
    if (i) body += ',';
    AppendEntryJson(page.entries[i], &body);
  }
  body += ']';
  r.response = Json(200, std::move(body));
  if (limit != 0 && page.more) {
    std::string link = "</workspaces/" + ws + "/memory?after=" +
                       PercentEncode(page.entries.back().key) + "&limit=" + std::to_string(limit);
    if (prefix) link += "&prefix=" + PercentEncode(*prefix);
    link += ">; rel=\"next\"";
    r.response.headers.emplace_back("Link", std::move(link));
  }
  return r;
}

HandlerResult Handler::Write(const std::string& ws, std::string_view body) {
  std::string error;
  auto parsed = ParseWriteBody(body, &error);
  if (!parsed) return Result(Error(400, error));
  if (const char* problem = KeyProblem(parsed->key)) {
    return Result(Error(400, problem));
  }
  if (parsed->value.size() > store_->options().max_value_bytes) {
    return Result(Error(413, "value larger than " +
                                 std::to_string(store_->options().max_value_bytes) + " bytes"));
  }
  PutRequest req;
  req.workspace = ws;
  req.key = parsed->key;
  req.value = parsed->value;
  req.if_match_version = parsed->if_match_version;
  req.ttl_ms = parsed->ttl_seconds ? static_cast<int64_t>(*parsed->ttl_seconds) * 1000 : 0;
  const WriteResult w = store_->Put(req);
  return WriteReply(w, ws, parsed->key, parsed->if_match_version,
                    WriteOkJson(parsed->key, w.version));
}

HandlerResult Handler::WriteReply(const WriteResult& w, const std::string& ws,
                                  std::string_view key, std::optional<uint64_t> guard,
                                  std::string ok_body) {
  HandlerResult r;
  switch (w.outcome) {
    case Outcome::kOk:
      r.response = Json(200, std::move(ok_body));
      r.visible_lsn = w.visible_lsn;
      if (w.applied) r.key_event = KeyEvent::kCommitted;
      break;
    case Outcome::kConflict:
      metrics_->CountConflict();
      r.response = Json(409, ConflictJson(guard, w.current_version, w.current_value));
      r.visible_lsn = w.visible_lsn;
      // Only a loser behind the key's current version can win by waiting
      // for its turn; create-only on a live key or a guard on an absent or
      // younger key cannot.
      if (guard && *guard > 0 && w.current_version && *guard < *w.current_version) {
        r.key_event = KeyEvent::kStaleConflict;
        r.guard = *guard;
      }
      break;
    case Outcome::kStorageFailed:
      r.response = ServiceUnavailable();
      break;
    case Outcome::kBusy:
      // Transient, unlike "storage unavailable": the disk is behind.
      r.response = Error(503, "storage busy: " + w.error);
      r.response.headers.emplace_back("Retry-After", "1");
      break;
    default:
      r.response = Error(400, w.error);
      break;
  }
  r.is_write = true;
  if (r.key_event != KeyEvent::kNone) {
    r.workspace = ws;
    r.key = key;
  }
  return r;
}

HandlerResult Handler::ConflictNow(const std::string& ws, const std::string& key,
                                   uint64_t guard) {
  const GetResult g = store_->Get(ws, key);
  HandlerResult r;
  r.is_write = true;
  r.route = Route::kCollection;
  r.visible_lsn = g.visible_lsn;
  if (g.outcome == Outcome::kOk) {
    r.response = Json(409, ConflictJson(guard, g.entry.version, g.entry.value));
  } else {
    r.response = Json(409, ConflictJson(guard, std::nullopt, std::nullopt));
  }
  return r;
}

HandlerResult Handler::Get(const std::string& ws, const std::string& key) {
  const GetResult g = store_->Get(ws, key);
  HandlerResult r;
  r.visible_lsn = g.visible_lsn;
  if (g.outcome != Outcome::kOk) {
    r.response = Error(404, "key not found");
    return r;
  }
  r.response = Json(200, EntryJson(g.entry));
  r.response.headers.emplace_back("ETag", "\"" + std::to_string(g.entry.version) + "\"");
  return r;
}

HandlerResult Handler::Delete(const std::string& ws, const std::string& key, const Target& t) {
  std::optional<uint64_t> guard;
  if (const std::string* v = QueryParam(t, "if_match_version")) {
    guard = ParseUnsigned(*v);
    if (!guard) return Result(Error(400, "if_match_version must be a non-negative integer"));
  }
  const WriteResult w = store_->Delete(ws, key, guard);
  return WriteReply(w, ws, key, guard, R"({"status":"deleted"})");
}

ListStream::ListStream(Store* store, std::string workspace, std::string prefix,
                       std::string after)
    : store_(store),
      workspace_(std::move(workspace)),
      prefix_(std::move(prefix)),
      after_(std::move(after)) {}

bool ListStream::Next(std::string* chunk, uint64_t* visible_lsn) {
  chunk->clear();
  if (done_) return false;
  const ListResult page = store_->List(workspace_, prefix_, after_, Handler::kStreamPage);
  *visible_lsn = page.visible_lsn;
  for (const Entry& e : page.entries) {
    chunk->push_back(started_ ? ',' : '[');
    started_ = true;
    AppendEntryJson(e, chunk);
  }
  if (!page.entries.empty()) after_ = page.entries.back().key;
  if (!page.more) {
    if (!started_) chunk->push_back('[');
    chunk->push_back(']');
    done_ = true;
  }
  return true;
}

}  // namespace casmem::net
