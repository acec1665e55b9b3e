// recd::base — injected time. Depends on nothing of ours.
//
// Two readings, kept apart on purpose: Now() is monotonic and serves deadlines,
// intervals and budgets; WallMillis() is calendar time and serves output
// metadata and the far-future check on input. Neither ever feeds what the model
// sees: ranking, decay and seasons run on event time (the newest applied event).
// A replay swaps in a clock that follows event time, so the same scheduling code
// makes the same decisions on a file as it would live.
#pragma once

#include <atomic>
#include <chrono>

#include "base/ids.h"

namespace recd {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Monotonic: never goes backwards. Thread-safe in every implementation.
  virtual TimePoint Now() const = 0;
  // Milliseconds since the Unix epoch (UTC).
  virtual EpochMillis WallMillis() const = 0;
};

// The process's real clocks (steady_clock and system_clock).
const Clock& SystemClock();

// A clock that moves only when told to: tests and replay. Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(EpochMillis start = 0) : ms_(start) {}
  TimePoint Now() const override { return TimePoint(std::chrono::milliseconds(ms_.load())); }
  EpochMillis WallMillis() const override { return ms_.load(); }
  void Advance(std::chrono::milliseconds by) { ms_.fetch_add(by.count()); }
  // Moves to `ms` if that is later; a clock never runs backwards.
  void AdvanceTo(EpochMillis ms) {
    EpochMillis cur = ms_.load();
    while (ms > cur && !ms_.compare_exchange_weak(cur, ms)) {
    }
  }

 private:
  std::atomic<EpochMillis> ms_;
};

}  // namespace recd
