// AccessControl: who may make a request (memory-api.md §9). Authenticates
// the bearer token of every request but /healthz once any token exists,
// applies --rate-limit, and decides whether the caller's token may act on
// a workspace with a role. Refusals are JSON errors: 401 with
// WWW-Authenticate: Bearer (no token, a malformed header, an unknown or
// revoked token), 403 (another workspace, too weak a role; or, in
// protected mode with no token left, a client that is not on loopback),
// 429 with Retry-After; 400 for a repeated Authorization header.
//
// Secrets are never logged, counted or echoed: errors name tokens by name.
// Thread safety: any thread.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "engine/store.h"
#include "net/handler.h"
#include "net/metrics.h"
#include "net/rate_limiter.h"
#include "net/token_registry.h"

namespace casmem::net {

struct AccessOptions {
  double rate_limit = 0;  // requests per second per caller; 0 = off
  // The server listens on an address that is not loopback without
  // --insecure-no-auth: while no token exists (the last one was revoked),
  // only loopback clients are served.
  bool protected_mode = false;
  // While no token exists, refuse requests from web pages (those with an
  // Origin header): a page a local browser opens must not write the
  // memory or make the first admin token (a POST with a "simple" content
  // type needs no CORS preflight). Off with --insecure-no-auth.
  bool refuse_browsers = true;
};

// Whether `host` (an address or "localhost") is a loopback address.
bool IsLoopbackHost(std::string_view host);

// The secret of an "Authorization: Bearer <secret>" value (the scheme in
// any case), or nullopt if the value is not of that form.
std::optional<std::string_view> BearerSecret(std::string_view authorization);

class AccessControl {
 public:
  // Loads the tokens from `store` (TokenRegistry::Load).
  AccessControl(Store* store, Metrics* metrics, AccessOptions options);

  TokenRegistry& tokens() { return tokens_; }
  const TokenRegistry& tokens() const { return tokens_; }

  // Who is asking: their token; null while no token exists.
  struct Caller {
    std::shared_ptr<const TokenInfo> token;
  };
  // Authentication and the rate limit, for every request but /healthz:
  // nullopt to go on (*caller set), else the response that refuses it.
  std::optional<HttpResponse> Admit(const HttpRequest& req, Caller* caller);
  // Admit's authentication alone (failures counted, nothing taken from the
  // rate limit): what the session asks once a request's header is read,
  // before it reads (or invites, with 100 Continue) a body.
  std::optional<HttpResponse> Authenticate(const HttpRequest& req, Caller* caller);
  // Whether `caller` may act on workspace `ws` ("" for /admin and
  // /metrics) with role `need`: nullopt if so, else the 403.
  std::optional<HttpResponse> Check(const Caller& caller, std::string_view ws, Role need) const;
  // Admit and Check without counting or taking from the rate limit: may
  // this request write `ws`? (The session asks before it queues a guarded
  // write for its key's turn.)
  bool MayWrite(const HttpRequest& req, std::string_view ws) const;

 private:
  Metrics* const metrics_;
  const AccessOptions options_;
  TokenRegistry tokens_;
  RateLimiter limiter_;
};

}  // namespace casmem::net
