// The memory resources (memory-api.md §3): list, get, POST and DELETE,
// the reply every single-key write shares (RenderWrite, WriteReply), the
// held loser's 409 (ConflictNow) and the streamed listing.
#include "engine/names.h"
#include "net/handler.h"
#include "net/handler_internal.h"
#include "net/json_body.h"
#include "net/json_out.h"
#include "net/url.h"
#include "net/write_headers.h"

namespace casmem::net {

std::optional<HttpResponse> IdempotencyResponse(Outcome o, const Replay& replay) {
  switch (o) {
    case Outcome::kReplay: {
      HttpResponse r = Json(replay.status, replay.body);
      r.headers.emplace_back("Idempotency-Replayed", "true");
      return r;
    }
    case Outcome::kIdempotencyReused:
      return Handler::Error(422, "Idempotency-Key already used for a different request");
    case Outcome::kInProgress:
      return Handler::Error(409, "request in progress");
    default:
      return std::nullopt;
  }
}

std::optional<HttpResponse> StorageResponse(Outcome o, const std::string& error) {
  if (o == Outcome::kStorageFailed) return Handler::ServiceUnavailable();
  if (o != Outcome::kBusy) return std::nullopt;
  // Transient, unlike "storage unavailable": the disk is behind.
  HttpResponse r = Handler::Error(503, "storage busy: " + error);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

HttpResponse RenderWrite(WriteKind kind, std::string_view key, std::optional<uint64_t> guard,
                         const WriteResult& w) {
  if (auto r = IdempotencyResponse(w.outcome, w.replay)) return std::move(*r);
  if (auto r = StorageResponse(w.outcome, w.error)) return std::move(*r);
  const std::string& patch_message = w.patch_error.message.empty() ? w.error : w.patch_error.message;
  switch (w.outcome) {
    case Outcome::kOk:
      switch (kind) {
        case WriteKind::kPut: return Json(200, WriteOkJson(key, w.version, w.revision));
        case WriteKind::kPatch: return Json(200, WriteOkJson(key, w.version, w.revision, &w.value));
        case WriteKind::kDelete: return Json(200, DeleteOkJson(w.applied, w.revision));
      }
      break;
    case Outcome::kConflict:
      return Json(409, ConflictJson(guard, w.current_version, w.current_value, w.current_writer));
    case Outcome::kPatchFailed:
      return Json(409, PatchFailedJson(patch_message, w.patch_error.op_index, w.current_version,
                                       w.current_value, w.current_writer));
    case Outcome::kTooLarge:
      return Handler::Error(413, patch_message);
    default:
      break;
  }
  return Handler::Error(400, patch_message);
}

HandlerResult Handler::WriteReply(const WriteResult& w, const std::string& ws,
                                  std::string_view key, std::optional<uint64_t> guard,
                                  HttpResponse response, bool remembered) {
  HandlerResult r;
  r.response = std::move(response);
  r.visible_lsn = w.visible_lsn;
  r.is_write = true;
  switch (w.outcome) {
    case Outcome::kOk:
      if (w.applied) r.key_event = KeyEvent::kCommitted;
      break;
    case Outcome::kConflict:
      metrics_->CountConflict();
      // Only a loser behind the key's current version can win by waiting
      // for its turn; create-only on a live key or a guard on an absent or
      // younger key cannot.
      if (!remembered && guard && *guard > 0 && w.current_version && *guard < *w.current_version) {
        r.key_event = KeyEvent::kStaleConflict;
        r.guard = *guard;
        r.current_version = *w.current_version;
      }
      break;
    case Outcome::kReplay:
      metrics_->CountReplay();
      break;
    default:
      break;
  }
  if (r.key_event != KeyEvent::kNone) {
    r.workspace = ws;
    r.key = key;
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
    if (!n || *n < 1 || *n > 10000) return ResultOf(Error(400, "limit must be an integer from 1 to 10000"));
    limit = static_cast<size_t>(*n);
  }
  const std::string p = prefix ? *prefix : "";
  const std::string a = after ? *after : "";
  // Casmem-Revision (list-then-watch, memory-api.md §8): read before the
  // listing, so every write with a revision up to it is in the listing (it
  // was applied under its shard's lock before that revision was handed
  // out) and a watch from it misses nothing; later writes may show in both.
  const uint64_t revision = store_->revision();
  HandlerResult r;
  std::string body = "[";
  size_t count = 0;
  bool more = false;
  std::string last_key;
  if (limit == 0) {
    const ListResult page = store_->List(ws, p, a, kStreamPage);
    r.visible_lsn = page.visible_lsn;
    if (page.more) {
      // Too large for one page: stream it; the first page is fetched again
      // by the stream so the response is built in one place.
      r.stream = std::make_unique<ListStream>(store_, ws, p, a, revision);
      return r;
    }
    for (const Entry& e : page.entries) {
      if (count++) body += ',';
      AppendEntryJson(e, &body);
    }
  } else {
    // A page is built whole, so it ends early (with its Link) once its
    // body passes kPageBytes: `limit` entries of up to --max-value-bytes
    // each would otherwise make one request hold gigabytes. Read in small
    // pieces for the same reason.
    std::string cursor = a;
    while (!more) {
      const ListResult piece = store_->List(ws, p, cursor, std::min<size_t>(limit - count, 32));
      r.visible_lsn = std::max(r.visible_lsn, piece.visible_lsn);
      for (size_t i = 0; i < piece.entries.size(); ++i) {
        if (count++) body += ',';
        AppendEntryJson(piece.entries[i], &body);
        last_key = piece.entries[i].key;
        const bool rest = i + 1 < piece.entries.size() || piece.more;
        if (rest && (count == limit || body.size() >= kPageBytes)) {
          more = true;
          break;
        }
      }
      if (!piece.more) break;
      cursor = last_key;
    }
  }
  body += ']';
  r.response = Json(200, std::move(body));
  r.response.headers.emplace_back("Casmem-Revision", std::to_string(revision));
  if (more) {
    std::string link = "</workspaces/" + ws + "/memory?after=" +
                       PercentEncode(last_key) + "&limit=" + std::to_string(limit);
    if (prefix) link += "&prefix=" + PercentEncode(*prefix);
    link += ">; rel=\"next\"";
    r.response.headers.emplace_back("Link", std::move(link));
  }
  return r;
}

HandlerResult Handler::Write(const std::string& ws, const HttpRequest& http,
                             const WriteHeaders& h) {
  // If-Match names a version of one key's entry (GET's ETag); a POST
  // targets the collection, and its guard is if_match_version in the body.
  // Refused rather than ignored: an ignored precondition would write.
  if (http.if_match) {
    return ResultOf(Error(400, "If-Match does not apply to POST; put if_match_version in the body"));
  }
  std::string error;
  auto parsed = ParseWriteBody(http.body, &error);
  if (!parsed) return ResultOf(Error(400, error));
  if (const char* problem = KeyProblem(parsed->key)) {
    return ResultOf(Error(400, problem));
  }
  if (parsed->value.size() > store_->options().max_value_bytes) {
    return ResultOf(Error(413, "value larger than " +
                                   std::to_string(store_->options().max_value_bytes) + " bytes"));
  }
  const std::optional<uint64_t> guard = parsed->if_match_version;
  auto render = [&](const WriteResult& w) {
    return RenderWrite(WriteKind::kPut, parsed->key, guard, w);
  };
  IdempotencyFor<WriteResult> idem(h, http, render);
  PutRequest req;
  req.workspace = ws;
  req.key = parsed->key;
  req.value = parsed->value;
  req.if_match_version = guard;
  req.ttl_ms = parsed->ttl_seconds ? static_cast<int64_t>(*parsed->ttl_seconds) * 1000 : 0;
  req.writer = h.writer;
  req.idempotency = idem.get();
  const WriteResult w = store_->Put(req);
  return WriteReply(w, ws, parsed->key, guard, render(w), idem.get() != nullptr);
}

HandlerResult Handler::ConflictNow(const std::string& ws, const std::string& key,
                                   uint64_t guard) {
  const GetResult g = store_->Get(ws, key);
  HandlerResult r;
  r.is_write = true;
  r.route = Route::kCollection;
  r.visible_lsn = g.visible_lsn;
  if (g.outcome == Outcome::kOk) {
    std::optional<std::string> writer;
    if (!g.entry.writer.empty()) writer = g.entry.writer;
    r.response = Json(409, ConflictJson(guard, g.entry.version, g.entry.value, writer));
  } else {
    r.response = Json(409, ConflictJson(guard, std::nullopt, std::nullopt));
  }
  return r;
}

HandlerResult Handler::Get(const std::string& ws, const std::string& key) {
  return Get(ws, key, store_->Get(ws, key));
}

HandlerResult Handler::Get(const std::string&, const std::string&, const GetResult& g) {
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

HandlerResult Handler::Delete(const std::string& ws, const std::string& key, const Target& t,
                              const HttpRequest& http, const WriteHeaders& h) {
  std::optional<uint64_t> guard;
  if (auto bad = GuardOf(t, http, &guard)) return ResultOf(std::move(*bad));
  auto render = [&](const WriteResult& w) { return RenderWrite(WriteKind::kDelete, key, guard, w); };
  IdempotencyFor<WriteResult> idem(h, http, render);
  DeleteRequest req;
  req.workspace = ws;
  req.key = key;
  req.if_match_version = guard;
  req.writer = h.writer;
  req.idempotency = idem.get();
  const WriteResult w = store_->Delete(req);
  return WriteReply(w, ws, key, guard, render(w), idem.get() != nullptr);
}

ListStream::ListStream(Store* store, std::string workspace, std::string prefix,
                       std::string after, uint64_t revision)
    : store_(store),
      workspace_(std::move(workspace)),
      prefix_(std::move(prefix)),
      after_(std::move(after)),
      revision_(revision) {}

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
