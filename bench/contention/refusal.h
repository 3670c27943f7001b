// Refusals of access control (spec section 9) as casmem-bench counts them:
// 401 "unauthorized" (no token, or an unknown or revoked one), 403
// "forbidden" (another workspace, too weak a role), 429 "rate limited"
// (the token's request rate; the agent waits the Retry-After seconds,
// capped, then tries again). Each is an error class of its own: these
// names are the keys of the results' error counts.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

namespace casmem::bench {

enum class Refusal { kNone, kUnauthorized, kForbidden, kRateLimited };

inline Refusal RefusalOf(int status) {
  switch (status) {
    case 401: return Refusal::kUnauthorized;
    case 403: return Refusal::kForbidden;
    case 429: return Refusal::kRateLimited;
    default: return Refusal::kNone;
  }
}

inline const char* RefusalName(Refusal r) {
  switch (r) {
    case Refusal::kUnauthorized: return "unauthorized";
    case Refusal::kForbidden: return "forbidden";
    case Refusal::kRateLimited: return "rate limited";
    case Refusal::kNone: break;
  }
  return "";
}

// 401 and 403 do not go away by retrying: a run refused them from its
// first request on has no result.
inline bool IsAuthRefusal(Refusal r) { return r == Refusal::kUnauthorized || r == Refusal::kForbidden; }

// The longest wait a Retry-After may impose on an agent.
constexpr double kMaxRetryAfterSeconds = 10;
// The wait when a 429 has no usable Retry-After (absent, or an HTTP date).
constexpr double kDefaultRetryAfterSeconds = 1;

// The seconds to wait after a 429 whose Retry-After field is `value`
// (delay-seconds; RFC 9110 section 10.2.3), within [0, cap].
inline double RetryAfterSeconds(std::string_view value, double cap = kMaxRetryAfterSeconds) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  bool digits = !value.empty() && value.size() <= 12;
  for (char c : value) digits = digits && c >= '0' && c <= '9';
  const double s = digits ? std::strtod(std::string(value).c_str(), nullptr) : kDefaultRetryAfterSeconds;
  return std::clamp(s, 0.0, cap);
}

}  // namespace casmem::bench
