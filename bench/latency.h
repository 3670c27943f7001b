// LatencyRecorder: per-thread latency samples merged for percentiles.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

namespace casmem::bench {

class LatencyRecorder {
 public:
  void Merge(std::vector<uint64_t>& samples_ns) {
    std::lock_guard lk(mu_);
    all_.insert(all_.end(), samples_ns.begin(), samples_ns.end());
  }
  // q in [0, 1]; microseconds.
  double PercentileUs(double q) {
    std::lock_guard lk(mu_);
    if (all_.empty()) return 0;
    const size_t idx = std::min(all_.size() - 1, static_cast<size_t>(q * static_cast<double>(all_.size())));
    std::nth_element(all_.begin(), all_.begin() + static_cast<long>(idx), all_.end());
    return static_cast<double>(all_[idx]) / 1000.0;
  }
  size_t count() {
    std::lock_guard lk(mu_);
    return all_.size();
  }

 private:
  std::mutex mu_;
  std::vector<uint64_t> all_;
};

inline uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace casmem::bench
