#include "transfer/batch_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "mooncake/common/crc32c.h"

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

// A request cut into pieces as SliceRequest would (slice_size, the last one shorter), each
// reporting the CRC32C of its own bytes and how many bytes of the request follow it.
struct CutRequest {
  std::vector<uint8_t> bytes;
  std::vector<uint64_t> offsets;  // where each slice starts
  uint64_t slice_size;

  CutRequest(size_t length, uint64_t slice, uint64_t seed) : bytes(length), slice_size(slice) {
    std::mt19937_64 rng(seed);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    for (uint64_t at = 0; at < length; at += slice) offsets.push_back(at);
  }
  uint64_t Length(size_t i) const { return std::min(slice_size, bytes.size() - offsets[i]); }
  SliceCrc Crc(size_t i) const {
    return {Crc32c(bytes.data() + offsets[i], Length(i)), bytes.size() - offsets[i] - Length(i)};
  }
  uint32_t Whole() const { return Crc32c(bytes.data(), bytes.size()); }
};

TEST(TaskStateCrcTest, SlicesCompletingInAnyOrderGiveTheCrcOfTheWholeRequest) {
  const CutRequest request(10000 + 7, 1000, 1);
  std::vector<size_t> order(request.offsets.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(2);
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    if (round == 1) std::reverse(order.begin(), order.end());
    if (round > 1) std::shuffle(order.begin(), order.end(), rng);
    Batch batch(1);
    ASSERT_TRUE(batch.ReserveTasks(1).ok());
    uint32_t out = 0xdeadbeef;
    batch.task(0).Start(static_cast<uint32_t>(order.size()), nullptr, TransferOpcode::kRead, &out);
    for (size_t k = 0; k < order.size(); ++k) {
      EXPECT_EQ(out, 0xdeadbeefu) << "written before the last slice";
      EXPECT_FALSE(batch.task(0).Finished());
      batch.task(0).SliceSucceeded(request.Length(order[k]), request.Crc(order[k]));
    }
    const TransferStatus status = batch.task(0).Snapshot();
    EXPECT_EQ(status.state, TransferState::kCompleted);
    EXPECT_EQ(status.transferred_bytes, request.bytes.size());
    EXPECT_EQ(out, request.Whole());
  }
}

TEST(TaskStateCrcTest, OneSliceAndNoSlice) {
  const CutRequest request(1, 1000, 3);
  Batch batch(2);
  ASSERT_TRUE(batch.ReserveTasks(2).ok());
  uint32_t one = 0;
  batch.task(0).Start(1, nullptr, TransferOpcode::kRead, &one);
  batch.task(0).SliceSucceeded(1, request.Crc(0));
  EXPECT_EQ(one, request.Whole());
  uint32_t none = 0xdeadbeef;
  batch.task(1).Start(0, nullptr, TransferOpcode::kRead, &none);  // an empty read
  EXPECT_EQ(batch.task(1).Snapshot().state, TransferState::kCompleted);
  EXPECT_EQ(none, 0u) << "the CRC32C of no bytes";
}

TEST(TaskStateCrcTest, AFailedTaskLeavesTheValueUntouched) {
  const CutRequest request(5000, 1000, 4);
  for (size_t failing : {size_t{0}, size_t{2}, size_t{4}}) {
    SCOPED_TRACE(failing);
    Batch batch(1);
    ASSERT_TRUE(batch.ReserveTasks(1).ok());
    uint32_t out = 0xdeadbeef;
    batch.task(0).Start(5, nullptr, TransferOpcode::kRead, &out);
    for (size_t i = 0; i < 5; ++i) {
      if (i == failing) {
        batch.task(0).SliceFailed(TransferFail("lost"));
      } else {
        batch.task(0).SliceSucceeded(request.Length(i), request.Crc(i));
      }
    }
    EXPECT_EQ(batch.task(0).Snapshot().state, TransferState::kFailed);
    EXPECT_EQ(out, 0xdeadbeefu);
  }
}

// Slices reported from several threads at once, the waiter on another: the value is there as
// soon as the batch is seen finished (TSan checks the ordering where it runs).
TEST(TaskStateCrcTest, ConcurrentSlicesAndTheValueIsVisibleToTheWaiter) {
  const CutRequest request(64 * 999 + 5, 999, 5);
  for (int round = 0; round < 20; ++round) {
    Batch batch(1);
    ASSERT_TRUE(batch.ReserveTasks(1).ok());
    uint32_t out = 0;
    const auto slices = static_cast<uint32_t>(request.offsets.size());
    batch.task(0).Start(slices, nullptr, TransferOpcode::kRead, &out);
    std::vector<std::thread> threads;
    for (uint32_t t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (size_t i = t; i < slices; i += 4) {
          batch.task(0).SliceSucceeded(request.Length(i), request.Crc(i));
        }
      });
    }
    ASSERT_TRUE(batch.WaitAllFinished(Clock::now() + std::chrono::seconds(10)));
    EXPECT_EQ(out, request.Whole()) << "round " << round;
    for (std::thread& t : threads) t.join();
  }
}

}  // namespace
}  // namespace mooncake::transfer
