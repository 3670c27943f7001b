// Clock: wall-clock milliseconds since the Unix epoch, the time base of
// updated_at, expires_at and tombstone retention. Tests use ManualClock.
#pragma once

#include <atomic>
#include <cstdint>

namespace casmem {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
};

Clock* SystemClock();

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  void Advance(int64_t ms) { now_.fetch_add(ms); }
  void Set(int64_t ms) { now_.store(ms); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace casmem
