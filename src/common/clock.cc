#include "mooncake/common/clock.h"

namespace mooncake {

Clock::~Clock() = default;

Clock& SystemClock::Instance() {
  static SystemClock* const kInstance = new SystemClock();
  return *kInstance;
}

std::chrono::steady_clock::time_point SystemClock::Now() const {
  return std::chrono::steady_clock::now();
}

}  // namespace mooncake
