// GuardedWriteOf: which key a request's compare-and-set guards, read
// before the request runs, so that the server's ConflictTurns can defer a
// guarded write during another client's turn on that key. Pure.
#pragma once

#include <optional>
#include <string>

#include "net/handler.h"

namespace casmem::net {

struct GuardedKey {
  std::string workspace, key;
  uint64_t guard = 0;  // the version the write expects (never 0)
};

// The (workspace, key) of a single-key write that carries a version guard
// other than 0 (POST with `if_match_version` in its body; PATCH or DELETE
// with `if_match_version` in the query or an If-Match header) and no
// Idempotency-Key. nullopt for anything else: reads, unguarded and
// create-only writes, transactions, requests with an Idempotency-Key
// (their first answer is final, see Handler::WriteReply), and malformed
// requests (they run, and fail, at once). Parses the body of a POST, so
// the server asks only while some key is contended.
std::optional<GuardedKey> GuardedWriteOf(const HttpRequest& req);

}  // namespace casmem::net
