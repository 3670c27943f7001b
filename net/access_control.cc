// AccessControl (access_control.h): bearer authentication, the rate limit
// and the role/workspace decision.
#include "net/access_control.h"

#include <arpa/inet.h>

#include <cctype>
#include <chrono>

#include "engine/names.h"
#include "net/json_out.h"

namespace casmem::net {

namespace {

HttpResponse Refusal(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = ErrorJson(message);
  return r;
}

// RFC 6750 §3: the challenge, with the error code when a token was given.
HttpResponse Unauthorized(std::string_view message, const char* code) {
  HttpResponse r = Refusal(401, message);
  std::string challenge = "Bearer realm=\"casmem\"";
  if (code != nullptr) challenge += std::string(", error=\"") + code + "\"";
  r.headers.emplace_back("WWW-Authenticate", std::move(challenge));
  return r;
}

const char* Doing(Role need) {
  switch (need) {
    case Role::kRead: return "read";
    case Role::kWrite: return "write";
    case Role::kAdmin: return "administer";
  }
  return "use";
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  std::string h(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // ::ffff:127.x.x.x, as a dual-stack socket shows an IPv4 client.
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

std::optional<std::string_view> BearerSecret(std::string_view v) {
  constexpr std::string_view kScheme = "bearer";
  if (v.size() <= kScheme.size() || v[kScheme.size()] != ' ') return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(v[i])) != kScheme[i]) return std::nullopt;
  }
  v.remove_prefix(kScheme.size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  // token68 (RFC 7235): no spaces inside.
  for (char c : v) {
    if (c == ' ' || c == '\t') return std::nullopt;
  }
  return v;
}

AccessControl::AccessControl(Store* store, Metrics* metrics, AccessOptions options)
    : metrics_(metrics), options_(options), tokens_(store), limiter_(options.rate_limit) {
  if (metrics_ != nullptr) tokens_.add_on_change([metrics](size_t n) { metrics->SetTokens(n); });
  (void)tokens_.Load();
}

std::optional<HttpResponse> AccessControl::Admit(const HttpRequest& req, Caller* caller) {
  if (auto refused = Authenticate(req, caller)) return refused;
  if (limiter_.enabled()) {
    // A token's name may look like an address ("10.0.0.7" is a valid
    // name): the prefix keeps their buckets apart.
    const std::string key = caller->token ? "t:" + caller->token->name : "a:" + std::string(req.remote_address);
    if (auto retry = limiter_.Take(key, std::chrono::steady_clock::now())) {
      if (metrics_ != nullptr) metrics_->CountRateLimited();
      HttpResponse r = Refusal(429, "rate limit: at most " +
                                        std::to_string(static_cast<uint64_t>(options_.rate_limit)) +
                                        " requests per second per " +
                                        (caller->token ? "token" : "client address"));
      r.headers.emplace_back("Retry-After", std::to_string(*retry));
      return r;
    }
  }
  return std::nullopt;
}

std::optional<HttpResponse> AccessControl::Authenticate(const HttpRequest& req, Caller* caller) {
  caller->token = nullptr;
  if (req.repeated_header == "Authorization") {
    // Which one counts? A proxy may read the other: refused, not guessed.
    // (Other repeated headers are the routes' 400s.)
    return Refusal(400, "Authorization given more than once");
  }
  if (tokens_.empty()) {
    if (options_.refuse_browsers && req.origin) {
      return Refusal(403, "requests from web pages (with an Origin header) are refused while no "
                          "access token exists; create a token (casmemd token create)");
    }
    if (options_.protected_mode && !IsLoopbackHost(req.remote_address)) {
      return Refusal(403, "protected mode: no access token exists, so only clients on loopback are "
                          "served; create a token (casmemd token create, or POST /admin/tokens "
                          "from loopback)");
    }
  } else {
    std::optional<std::string_view> secret;
    if (req.authorization) secret = BearerSecret(*req.authorization);
    if (!secret) {
      if (metrics_ != nullptr) metrics_->CountAuthFailure(req.remote_address);
      return req.authorization
                 ? Unauthorized("the Authorization header must be \"Bearer <token>\"", "invalid_request")
                 : Unauthorized("this server needs a bearer token (Authorization: Bearer <token>)",
                                nullptr);
    }
    caller->token = tokens_.Find(*secret);
    if (!caller->token) {
      if (metrics_ != nullptr) metrics_->CountAuthFailure(req.remote_address);
      return Unauthorized("unknown or revoked token", "invalid_token");
    }
  }
  return std::nullopt;
}

std::optional<HttpResponse> AccessControl::Check(const Caller& caller, std::string_view ws,
                                                 Role need) const {
  if (!caller.token) return std::nullopt;  // no token exists: not checked
  if (TokenAllows(*caller.token, ws, need)) return std::nullopt;
  const TokenInfo& t = *caller.token;
  // The workspace is named only when it is a valid name (the URL's bytes
  // are not checked yet: an error never echoes what may not be UTF-8).
  std::string what = ws.empty()            ? std::string(need == Role::kAdmin ? "this server" : "this")
                     : ValidWorkspace(ws) ? "workspace '" + std::string(ws) + "'"
                                           : std::string("that workspace");
  HttpResponse r = Refusal(403, "token '" + t.name + "' (" + RoleName(t.role) + " on " +
                                    (t.workspace == "*" ? std::string("every workspace")
                                                        : "workspace '" + t.workspace + "'") +
                                    ") may not " + Doing(need) + " " + what);
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"casmem\", error=\"insufficient_scope\"");
  return r;
}

bool AccessControl::MayWrite(const HttpRequest& req, std::string_view ws) const {
  if (tokens_.empty()) return !options_.protected_mode || IsLoopbackHost(req.remote_address);
  if (!req.authorization) return false;
  const auto secret = BearerSecret(*req.authorization);
  if (!secret) return false;
  const auto t = tokens_.Find(*secret);
  return t && TokenAllows(*t, ws, Role::kWrite);
}

}  // namespace casmem::net
