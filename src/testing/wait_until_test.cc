#include "testing/wait_until.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace mooncake::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(WaitSignalTest, AWaitEndsOnceANotifiedChangeMakesTheConditionHold) {
  WaitSignal signal;
  std::atomic<int> steps{0};
  std::thread worker([&] {
    for (int i = 0; i < 5; ++i) {
      ++steps;
      signal.Notify();
    }
  });
  EXPECT_TRUE(signal.WaitUntil([&] { return steps.load() == 5; }, seconds(30)));
  worker.join();
}

TEST(WaitSignalTest, AConditionThatNeverHoldsEndsTheWaitAtTheBound) {
  WaitSignal signal;
  const auto began = std::chrono::steady_clock::now();
  EXPECT_FALSE(signal.WaitUntil([] { return false; }, milliseconds(20)));
  EXPECT_GE(std::chrono::steady_clock::now() - began, milliseconds(20));
}

TEST(PollUntilTest, SeesAChangeNobodyAnnounces) {
  std::atomic<bool> set{false};
  std::thread worker([&] { set = true; });
  EXPECT_TRUE(PollUntil([&] { return set.load(); }, seconds(30)));
  worker.join();
  EXPECT_FALSE(PollUntil([] { return false; }, milliseconds(5)));
}

}  // namespace
}  // namespace mooncake::testing
