// Full-jitter exponential backoff, the retry policy of common HTTP client
// retry libraries (AWS SDKs' "full jitter", Google's api-core, tenacity's
// wait_random_exponential): before the n-th retry of one operation the
// client sleeps U(0, min(cap, base * 2^(n-1))). n counts the retries of
// the operation in progress (1 for its first retry) and starts again at 1
// after a commit.
#pragma once

#include <algorithm>
#include <cmath>

namespace casmem::bench {

// The upper end of the sleep before retry number `retry` (>= 1; smaller
// values count as 1), in ms: base, 2 base, 4 base, ... never above cap.
inline double BackoffCeilingMs(double base_ms, double cap_ms, int retry) {
  const int doublings = std::clamp(retry - 1, 0, 60);  // 2^60 base is past any cap
  return std::min(cap_ms, base_ms * std::ldexp(1.0, doublings));
}

}  // namespace casmem::bench
