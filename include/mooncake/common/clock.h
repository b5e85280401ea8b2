#pragma once

// Time as an injected dependency: pure cores (master core, schedulers, leases) ask a Clock for
// "now" instead of reading std::chrono directly, so tests can drive time with a FakeClock.

#include <chrono>

namespace mooncake {

// A monotonic time source. Implementations must be safe to call from any thread.
class Clock {
 public:
  virtual ~Clock();
  virtual std::chrono::steady_clock::time_point Now() const = 0;
};

// The real std::chrono::steady_clock.
class SystemClock final : public Clock {
 public:
  // A process-wide instance, never destroyed (safe to use from static destructors).
  static Clock& Instance();

  std::chrono::steady_clock::time_point Now() const override;
};

}  // namespace mooncake
