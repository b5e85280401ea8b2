#pragma once

// A manual Clock for unit tests: time stands still until the test moves it.

#include <atomic>
#include <chrono>

#include "mooncake/common/clock.h"

namespace mooncake::testing {

// Thread-safe: any thread may read or move the time. Starts at an arbitrary fixed point well
// past the epoch so that "now - timeout" never underflows in the code under test.
class FakeClock final : public Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;

  FakeClock() = default;
  explicit FakeClock(TimePoint start) : now_(start.time_since_epoch().count()) {}

  TimePoint Now() const override { return TimePoint(Duration(now_.load())); }

  // Moves time forward by `delta` (negative deltas are allowed but rarely meaningful).
  void Advance(Duration delta) { now_.fetch_add(delta.count()); }
  // Jumps to `t`; may move backwards, which a real steady clock never does.
  void Set(TimePoint t) { now_.store(t.time_since_epoch().count()); }

 private:
  static constexpr Duration::rep kStart =
      std::chrono::duration_cast<Duration>(std::chrono::hours(24)).count();
  std::atomic<Duration::rep> now_{kStart};
};

}  // namespace mooncake::testing
