#include "testing/fake_clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace mooncake::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(FakeClockTest, TimeStandsStillUntilAdvanced) {
  FakeClock clock;
  const auto t0 = clock.Now();
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(milliseconds(250));
  EXPECT_EQ(clock.Now() - t0, milliseconds(250));
  clock.Advance(seconds(2));
  EXPECT_EQ(clock.Now() - t0, milliseconds(2250));
}

TEST(FakeClockTest, StartsFarEnoughFromEpochToSubtractTimeouts) {
  FakeClock clock;
  EXPECT_GE(clock.Now().time_since_epoch(), std::chrono::hours(1));
}

TEST(FakeClockTest, SetJumpsToAnyTimeIncludingBackwards) {
  FakeClock clock;
  const auto later = clock.Now() + seconds(10);
  clock.Set(later);
  EXPECT_EQ(clock.Now(), later);
  const auto earlier = later - seconds(20);
  clock.Set(earlier);
  EXPECT_EQ(clock.Now(), earlier);
}

TEST(FakeClockTest, ConstructorSetsTheStart) {
  const auto start = std::chrono::steady_clock::time_point(seconds(1234));
  FakeClock clock(start);
  EXPECT_EQ(clock.Now(), start);
}

TEST(FakeClockTest, UsableThroughTheClockInterface) {
  FakeClock fake;
  const Clock& clock = fake;
  const auto t0 = clock.Now();
  fake.Advance(seconds(1));
  EXPECT_EQ(clock.Now() - t0, seconds(1));
}

TEST(FakeClockTest, ConcurrentAdvancesAreNotLost) {
  FakeClock clock;
  const auto t0 = clock.Now();
  constexpr int kThreads = 4;
  constexpr int kSteps = 1000000;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      // Start together so that the Advance() calls really overlap.
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (int j = 0; j < kSteps; ++j) clock.Advance(milliseconds(1));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(clock.Now() - t0, milliseconds(kThreads * kSteps));
}

}  // namespace
}  // namespace mooncake::testing
