#include "transfer/batch_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace mooncake::transfer {
namespace {

using ::testing::HasSubstr;

TEST(BatchTableTest, IdsAreNonZeroAndNeverReused) {
  BatchTable table;
  std::set<BatchId> seen;
  for (int i = 0; i < 100; ++i) {
    auto id = table.Allocate(1);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_NE(*id, 0u);
    EXPECT_TRUE(seen.insert(*id).second) << "id " << *id << " handed out twice";
    if (i % 2 == 0) {
      ASSERT_TRUE(table.Free(*id).ok());
    }
  }
}

TEST(BatchTableTest, UnknownIdIsInvalidParamsNamingTheBatch) {
  BatchTable table;
  auto got = table.Get(12345);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(got.status().message(), HasSubstr("12345"));

  Status freed = table.Free(12345);
  EXPECT_EQ(freed.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(freed.message(), HasSubstr("12345"));
}

TEST(BatchTableTest, FreedIdIsInvalidParamsNamingTheBatch) {
  BatchTable table;
  BatchId id = table.Allocate(4).value();
  ASSERT_TRUE(table.Get(id).ok());
  ASSERT_TRUE(table.Free(id).ok());

  auto got = table.Get(id);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(got.status().message(), HasSubstr(std::to_string(id)));
  Status again = table.Free(id);
  EXPECT_EQ(again.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(again.message(), HasSubstr(std::to_string(id)));
}

TEST(BatchTableTest, CapacityZeroIsRejected) {
  BatchTable table;
  auto id = table.Allocate(0);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidParams);
}

TEST(BatchTableTest, CapacityAboveOneMebiIsRejected) {
  BatchTable table;
  auto too_big = table.Allocate((1 << 20) + 1);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(too_big.status().message(), HasSubstr("1048577"));
  auto huge = table.Allocate(~size_t{0});
  EXPECT_FALSE(huge.ok());
}

TEST(BatchTableTest, CapacityOfExactlyOneMebiIsAccepted) {
  BatchTable table;
  auto id = table.Allocate(1 << 20);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(table.Get(*id).value()->capacity(), size_t{1} << 20);
}

TEST(BatchTest, ReserveTasksHandsOutConsecutiveIds) {
  Batch batch(10);
  EXPECT_EQ(batch.ReserveTasks(3).value(), 0u);
  EXPECT_EQ(batch.ReserveTasks(0).value(), 3u);
  EXPECT_EQ(batch.ReserveTasks(7).value(), 3u);
  EXPECT_EQ(batch.submitted(), 10u);
}

TEST(BatchTest, ReserveTasksBeyondCapacityIsRefusedAndReservesNothing) {
  Batch batch(4);
  ASSERT_TRUE(batch.ReserveTasks(3).ok());
  auto over = batch.ReserveTasks(2);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kInvalidParams);
  EXPECT_EQ(batch.submitted(), 3u);
  EXPECT_EQ(batch.ReserveTasks(1).value(), 3u);
  EXPECT_FALSE(batch.ReserveTasks(1).ok());
}

TEST(BatchTest, ReserveTasksWithHugeCountDoesNotWrap) {
  Batch batch(4);
  ASSERT_TRUE(batch.ReserveTasks(1).ok());
  EXPECT_FALSE(batch.ReserveTasks(~size_t{0}).ok());
  EXPECT_EQ(batch.submitted(), 1u);
}

TEST(BatchTableTest, FreeIsRefusedWhileATaskIsInFlight) {
  BatchTable table;
  BatchId id = table.Allocate(2).value();
  auto batch = table.Get(id).value();
  ASSERT_EQ(batch->ReserveTasks(1).value(), 0u);
  batch->task(0).Start(2);
  batch->task(0).SliceSucceeded(10);

  Status refused = table.Free(id);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(refused.message(), HasSubstr("in flight"));
  EXPECT_TRUE(table.Get(id).ok()) << "a refused Free must keep the batch";

  batch->task(0).SliceSucceeded(10);
  EXPECT_TRUE(table.Free(id).ok());
}

TEST(BatchTableTest, FreeIsRefusedForAReservedButUnstartedTask) {
  BatchTable table;
  BatchId id = table.Allocate(1).value();
  auto batch = table.Get(id).value();
  ASSERT_TRUE(batch->ReserveTasks(1).ok());
  EXPECT_FALSE(table.Free(id).ok());
  batch->task(0).Start(0);
  EXPECT_TRUE(table.Free(id).ok());
}

TEST(BatchTableTest, FreeIsAllowedOnceTheTaskFailed) {
  BatchTable table;
  BatchId id = table.Allocate(1).value();
  auto batch = table.Get(id).value();
  ASSERT_TRUE(batch->ReserveTasks(1).ok());
  batch->task(0).Start(1);
  EXPECT_FALSE(table.Free(id).ok());
  batch->task(0).SliceFailed(TransferFail("peer gone"));
  EXPECT_TRUE(table.Free(id).ok());
}

TEST(BatchTableTest, UnsubmittedSlotsDoNotBlockFree) {
  BatchTable table;
  BatchId id = table.Allocate(8).value();
  auto batch = table.Get(id).value();
  ASSERT_TRUE(batch->ReserveTasks(1).ok());
  batch->task(0).Start(1);
  batch->task(0).SliceSucceeded(1);
  EXPECT_TRUE(table.Free(id).ok());
}

TEST(TaskStateTest, StartsPending) {
  TaskState task;
  EXPECT_EQ(task.Snapshot().state, TransferState::kPending);
  EXPECT_FALSE(task.Finished());
}

TEST(TaskStateTest, CompletesWhenAllSlicesSucceedWithSummedBytes) {
  TaskState task;
  task.Start(3);
  task.SliceSucceeded(100);
  task.SliceSucceeded(200);
  TransferStatus mid = task.Snapshot();
  EXPECT_EQ(mid.state, TransferState::kWaiting);
  EXPECT_EQ(mid.transferred_bytes, 300u);
  EXPECT_FALSE(task.Finished());

  task.SliceSucceeded(5);
  TransferStatus done = task.Snapshot();
  EXPECT_EQ(done.state, TransferState::kCompleted);
  EXPECT_EQ(done.transferred_bytes, 305u);
  EXPECT_TRUE(done.error.ok());
  EXPECT_TRUE(task.Finished());
}

TEST(TaskStateTest, OneFailedSliceFailsTheTaskOnlyAfterAllSlicesFinish) {
  TaskState task;
  task.Start(3);
  task.SliceFailed(TransferFail("first cause"));
  EXPECT_EQ(task.Snapshot().state, TransferState::kWaiting);
  EXPECT_FALSE(task.Finished());
  task.SliceFailed(Status(StatusCode::kRpcTimeout, "second cause"));
  EXPECT_EQ(task.Snapshot().state, TransferState::kWaiting);
  task.SliceSucceeded(64);

  TransferStatus done = task.Snapshot();
  EXPECT_EQ(done.state, TransferState::kFailed);
  EXPECT_TRUE(task.Finished());
  EXPECT_EQ(done.error.code(), StatusCode::kTransferFail);
  EXPECT_EQ(done.error.message(), "first cause");
  EXPECT_EQ(done.transferred_bytes, 64u);
}

TEST(TaskStateTest, LastSliceFailingAlsoFailsTheTask) {
  TaskState task;
  task.Start(2);
  task.SliceSucceeded(1);
  task.SliceFailed(TransferFail("late"));
  TransferStatus done = task.Snapshot();
  EXPECT_EQ(done.state, TransferState::kFailed);
  EXPECT_EQ(done.error.message(), "late");
}

TEST(TaskStateTest, ZeroSlicesCompleteImmediately) {
  TaskState task;
  task.Start(0);
  TransferStatus s = task.Snapshot();
  EXPECT_EQ(s.state, TransferState::kCompleted);
  EXPECT_EQ(s.transferred_bytes, 0u);
  EXPECT_TRUE(task.Finished());
}

using Clock = std::chrono::steady_clock;

TEST(BatchWaitTest, AWaiterIsWokenWhenTheLastTaskFinishesOnAnotherThread) {
  Batch batch(2);
  ASSERT_TRUE(batch.ReserveTasks(2).ok());
  batch.task(0).Start(1);
  batch.task(1).Start(2);
  std::thread io([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    batch.task(0).SliceSucceeded(10);
    batch.task(1).SliceSucceeded(10);
    batch.task(1).SliceFailed(Status(StatusCode::kTransferFail, "peer gone"));
  });
  const auto start = Clock::now();
  EXPECT_TRUE(batch.WaitAllFinished(start + std::chrono::seconds(10)));
  // Woken by the finishing thread, far sooner than the deadline.
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  io.join();
  EXPECT_TRUE(batch.AllFinished());
  EXPECT_EQ(batch.task(1).Snapshot().state, TransferState::kFailed);
}

TEST(BatchWaitTest, AnUnfinishedTaskHoldsTheWaitUntilTheDeadline) {
  Batch batch(2);
  ASSERT_TRUE(batch.ReserveTasks(2).ok());
  batch.task(0).Start(1);
  batch.task(1).Start(1);
  batch.task(0).SliceSucceeded(1);
  const auto start = Clock::now();
  EXPECT_FALSE(batch.WaitAllFinished(start + std::chrono::milliseconds(30)));
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(30));
  // A deadline already past only looks.
  EXPECT_FALSE(batch.WaitAllFinished(Clock::time_point{}));
  batch.task(1).SliceSucceeded(1);
  EXPECT_TRUE(batch.WaitAllFinished(Clock::time_point{}));
}

TEST(BatchWaitTest, EmptyTasksFinishAtStartAndLaterSubmissionsCountAgain) {
  Batch batch(3);
  EXPECT_TRUE(batch.WaitAllFinished(Clock::time_point{}))
      << "nothing reserved: nothing to wait for";
  ASSERT_TRUE(batch.ReserveTasks(1).ok());
  EXPECT_FALSE(batch.WaitAllFinished(Clock::time_point{})) << "reserved, not started";
  batch.task(0).Start(0);  // an empty request: finished at once
  EXPECT_TRUE(batch.WaitAllFinished(Clock::time_point{}));
  ASSERT_TRUE(batch.ReserveTasks(2).ok());
  batch.task(1).Start(1);
  batch.task(2).Start(0);
  EXPECT_FALSE(batch.WaitAllFinished(Clock::time_point{}));
  batch.task(1).SliceSucceeded(5);
  EXPECT_TRUE(batch.WaitAllFinished(Clock::time_point{}));
}

TEST(BatchWaitTest, SeveralWaitersAreAllWoken) {
  Batch batch(1);
  ASSERT_TRUE(batch.ReserveTasks(1).ok());
  batch.task(0).Start(1);
  std::atomic<int> woken{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&] {
      if (batch.WaitAllFinished(Clock::now() + std::chrono::seconds(10))) ++woken;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  batch.task(0).SliceSucceeded(1);
  for (std::thread& t : waiters) t.join();
  EXPECT_EQ(woken.load(), 4);
}

}  // namespace
}  // namespace mooncake::transfer
