// HeartbeatPacer against a FakeClock: a reply with news brings the next beat soon, a held long
// poll brings it at once, an early empty answer waits a whole interval, failures retry soon.

#include "node/heartbeat_pacer.h"

#include <gtest/gtest.h>

#include <chrono>

#include "testing/fake_clock.h"

namespace mooncake::node {
namespace {

using std::chrono::milliseconds;
using Reply = HeartbeatPacer::Reply;

TEST(HeartbeatPacerTest, NewsBringsTheNextBeatAfterTheBatchPauseHoweverLongThePollTook) {
  testing::FakeClock clock;
  HeartbeatPacer pacer(clock, milliseconds(500));
  pacer.Sent();
  EXPECT_EQ(pacer.PauseAfter(Reply::kChangesOrTasks), HeartbeatPacer::kBatchPause);
  clock.Advance(milliseconds(400));
  EXPECT_EQ(pacer.PauseAfter(Reply::kChangesOrTasks), HeartbeatPacer::kBatchPause);
}

TEST(HeartbeatPacerTest, APollTheMasterHeldIsFollowedAtOnce) {
  testing::FakeClock clock;
  HeartbeatPacer pacer(clock, milliseconds(500));
  pacer.Sent();
  clock.Advance(milliseconds(250));  // half the interval: the master held it
  EXPECT_EQ(pacer.PauseAfter(Reply::kNothing), milliseconds(0));
  clock.Advance(milliseconds(300));
  EXPECT_EQ(pacer.PauseAfter(Reply::kNothing), milliseconds(0));
}

TEST(HeartbeatPacerTest, AnEarlyAnswerWithNothingWaitsAWholeIntervalSoTheLoopNeverSpins) {
  testing::FakeClock clock;
  HeartbeatPacer pacer(clock, milliseconds(500));
  pacer.Sent();
  EXPECT_EQ(pacer.PauseAfter(Reply::kNothing), milliseconds(500));
  clock.Advance(milliseconds(249));
  EXPECT_EQ(pacer.PauseAfter(Reply::kNothing), milliseconds(500));
  // Each beat is timed from its own sending.
  clock.Advance(milliseconds(1000));
  pacer.Sent();
  clock.Advance(milliseconds(10));
  EXPECT_EQ(pacer.PauseAfter(Reply::kNothing), milliseconds(500));
}

TEST(HeartbeatPacerTest, FailuresRetryAfterTheShorterOfTheRetryPauseAndTheInterval) {
  testing::FakeClock clock;
  EXPECT_EQ(HeartbeatPacer(clock, milliseconds(500)).RetryPause(), HeartbeatPacer::kRetryPause);
  EXPECT_EQ(HeartbeatPacer(clock, milliseconds(30)).RetryPause(), milliseconds(30));
}

}  // namespace
}  // namespace mooncake::node
