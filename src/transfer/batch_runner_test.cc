// RunBatch and PendingBatch between two engines in one process over loopback TCP.

#include "transfer/batch_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

namespace mooncake::transfer {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr size_t kTargetSize = 4 << 20;

TransferEngineOptions LoopbackOptions() {
  TransferEngineOptions options;
  options.local_server_name = "127.0.0.1:0";
  options.protocol = "tcp";
  options.slice_size = 64 << 10;  // every request below is sliced
  options.prefault_buffers = false;
  return options;
}

class BatchRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = TransferEngine::Create(LoopbackOptions());
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    a_ = std::move(*a);
    auto b = TransferEngine::Create(LoopbackOptions());
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    b_ = std::move(*b);
    auto target = b_->AllocateBuffer(kTargetSize);
    ASSERT_TRUE(target.ok()) << target.status().ToString();
    target_ = static_cast<char*>(*target);
    ASSERT_TRUE(a_->RegisterLocalMemory(local_.data(), local_.size()).ok());
    auto segment = a_->OpenSegment(b_->local_server_name());
    ASSERT_TRUE(segment.ok()) << segment.status().ToString();
    segment_ = *segment;
  }

  TransferRequest Request(TransferOpcode opcode, size_t local_offset, size_t remote_offset,
                          size_t length) {
    return {opcode, local_.data() + local_offset, segment_,
            reinterpret_cast<uint64_t>(target_) + remote_offset, length};
  }

  std::unique_ptr<TransferEngine> a_, b_;
  std::vector<char> local_ = std::vector<char>(kTargetSize);
  char* target_ = nullptr;
  SegmentHandle segment_ = 0;
};

TEST_F(BatchRunnerTest, RunBatchMovesEveryRequestAndReportsEach) {
  for (size_t i = 0; i < kTargetSize; ++i) local_[i] = static_cast<char>(i * 7);
  std::vector<TransferRequest> writes = {Request(TransferOpcode::kWrite, 0, 0, 1 << 20),
                                         Request(TransferOpcode::kWrite, 1 << 20, 1 << 20, 4096),
                                         Request(TransferOpcode::kWrite, 0, 2 << 20, 0)};
  std::vector<Status> written = RunBatch(*a_, writes, milliseconds(10000));
  ASSERT_EQ(written.size(), 3u);
  for (const Status& s : written) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(std::memcmp(target_, local_.data(), (1 << 20) + 4096), 0);

  std::memset(local_.data(), 0, local_.size());
  std::vector<TransferRequest> reads = {Request(TransferOpcode::kRead, 0, 0, (1 << 20) + 4096)};
  std::vector<Status> read = RunBatch(*a_, reads, milliseconds(10000));
  ASSERT_EQ(read.size(), 1u);
  EXPECT_TRUE(read[0].ok()) << read[0].ToString();
  EXPECT_EQ(std::memcmp(target_, local_.data(), (1 << 20) + 4096), 0);
}

TEST_F(BatchRunnerTest, ARefusedSubmissionIsEveryRequestsErrorAndNothingRuns) {
  std::vector<char> unregistered(4096);
  std::vector<TransferRequest> requests = {Request(TransferOpcode::kWrite, 0, 0, 4096),
                                           {TransferOpcode::kWrite, unregistered.data(), segment_,
                                            reinterpret_cast<uint64_t>(target_), 4096}};
  transfer::PendingBatch pending = PendingBatch::Start(*a_, requests);
  EXPECT_TRUE(pending.Done()) << "nothing was started";
  std::vector<Status> results = pending.Wait(Clock::now());
  ASSERT_EQ(results.size(), 2u);
  for (const Status& s : results) EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
  EXPECT_FALSE(pending.abandoned());
}

TEST_F(BatchRunnerTest, APendingBatchIsDoneOnceItsTransfersFinish) {
  std::vector<TransferRequest> requests;
  for (size_t i = 0; i < 8; ++i) {
    requests.push_back(Request(TransferOpcode::kRead, i << 19, i << 19, 512 << 10));
  }
  PendingBatch pending = PendingBatch::Start(*a_, requests);
  EXPECT_TRUE(pending.WaitUntilDone(Clock::now() + std::chrono::seconds(10)));
  EXPECT_TRUE(pending.Done());
  std::vector<Status> results = pending.Wait(Clock::now());
  ASSERT_EQ(results.size(), 8u);
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(pending.abandoned());
}

TEST_F(BatchRunnerTest, NoRequestsIsNoBatch) {
  EXPECT_TRUE(RunBatch(*a_, {}, milliseconds(10)).empty());
}

TEST_F(BatchRunnerTest, EngineWaitBatchRefusesAnUnknownBatch) {
  Status waited = a_->WaitBatch(987654, Clock::now());
  EXPECT_EQ(waited.code(), StatusCode::kInvalidParams);
}

}  // namespace
}  // namespace mooncake::transfer
