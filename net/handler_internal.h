// What the handler's files (handler.cc and one file per resource) share:
// response builders and the one renderer of every write's reply.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "engine/store.h"
#include "net/handler.h"
#include "net/url.h"

namespace casmem::net {

HandlerResult ResultOf(HttpResponse r);
HttpResponse Json(int status, std::string body);
HandlerResult MethodNotAllowed(const char* allow);

enum class WriteKind { kPut, kDelete, kPatch };

// A `wait` of the change feed's requests (watch_handlers.cc): a duration
// (duration.h); longer than 300 s is served as 300 s.
std::optional<std::chrono::milliseconds> ParseWait(std::string_view text);

// The guard of a PATCH or DELETE of one key: `?if_match_version=V` and/or
// `If-Match: "V"` (the ETag of GET; both given and different is an
// error). Returns the 400 to send when either is malformed.
std::optional<HttpResponse> GuardOf(const Target& t, const HttpRequest& http,
                                    std::optional<uint64_t>* guard);

// The (status, body, headers) answering a put, delete or patch with result
// `w`, for every outcome. For kOk, kConflict and kPatchFailed it is what
// an Idempotency-Key remembers (IdempotencyFor's render); for kReplay the
// remembered answer with `Idempotency-Replayed: true`. Pure: no metrics.
HttpResponse RenderWrite(WriteKind kind, std::string_view key, std::optional<uint64_t> guard,
                         const WriteResult& w);
// The answers to the Idempotency-Key outcomes (kReplay, kIdempotencyReused,
// kInProgress); nullopt for any other outcome.
std::optional<HttpResponse> IdempotencyResponse(Outcome o, const Replay& replay);
// 503 for kStorageFailed and kBusy (with Retry-After); nullopt otherwise.
std::optional<HttpResponse> StorageResponse(Outcome o, const std::string& error);

// POST /admin/import (admin_import.cc): key states loaded keeping their
// versions. The caller has checked the admin role.
HandlerResult AdminImport(Store* store, const HttpRequest& req);

}  // namespace casmem::net
