#include "mooncake/common/clock.h"

#include <gtest/gtest.h>

#include <chrono>

namespace mooncake {
namespace {

TEST(SystemClockTest, InstanceIsASingleton) {
  EXPECT_EQ(&SystemClock::Instance(), &SystemClock::Instance());
}

TEST(SystemClockTest, NowFollowsSteadyClock) {
  const auto before = std::chrono::steady_clock::now();
  const auto now = SystemClock::Instance().Now();
  const auto after = std::chrono::steady_clock::now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

}  // namespace
}  // namespace mooncake
