// Duration parsing (duration.h).
#include "net/duration.h"

#include <string>

#include "net/json_body.h"

namespace casmem::net {

bool ParseDuration(std::string_view s, std::chrono::milliseconds* out) {
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  auto n = ParseUnsigned(s.substr(0, i));
  const std::string_view unit = s.substr(i);
  // Beyond ~292 years nothing is meant; refusing keeps the products below exact.
  if (!n || *n > 9'000'000'000ULL) return false;
  int64_t ms;
  if (unit == "ms") ms = static_cast<int64_t>(*n);
  else if (unit == "s" || unit.empty()) ms = static_cast<int64_t>(*n) * 1000;  // bare = seconds
  else if (unit == "m") ms = static_cast<int64_t>(*n) * 60'000;
  else if (unit == "h") ms = static_cast<int64_t>(*n) * 3'600'000;
  else return false;
  *out = std::chrono::milliseconds(ms);
  return true;
}

}  // namespace casmem::net
