// Two engines in one process talking over loopback TCP: A initiates, B is the target.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "mooncake/transfer/transfer_engine.h"
#include "transfer/batch_runner.h"

namespace mooncake::transfer {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kSliceSize = 64 << 10;
constexpr size_t kTargetSize = 8 << 20;

TransferEngineOptions LoopbackOptions() {
  TransferEngineOptions options;
  options.local_server_name = "127.0.0.1:0";
  options.protocol = "tcp";         // both engines share a host: auto would pick shm (shm tests)
  options.slice_size = kSliceSize;  // small, so that every test request is sliced
  options.prefault_buffers = false;
  return options;
}

class TransferEngineLoopbackTest : public ::testing::Test {
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

  // Address of `offset` in B's buffer, as A names it in requests.
  uint64_t Remote(uint64_t offset) const { return reinterpret_cast<uint64_t>(target_) + offset; }

  TransferRequest Request(TransferOpcode opcode, char* local, uint64_t remote_offset,
                          uint64_t length) const {
    TransferRequest r;
    r.opcode = opcode;
    r.source = local;
    r.target_id = segment_;
    r.target_offset = Remote(remote_offset);
    r.length = length;
    return r;
  }

  // Polls tasks [first, first + count) until each is COMPLETED or FAILED (10 s bound).
  std::vector<TransferStatus> Wait(BatchId batch, size_t count, size_t first = 0) {
    std::vector<TransferStatus> out(count);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (size_t i = 0; i < count; ++i) {
      while (true) {
        auto status = a_->GetTransferStatus(batch, first + i);
        EXPECT_TRUE(status.ok()) << status.status().ToString();
        if (!status.ok()) return out;
        out[i] = *status;
        if (out[i].state == TransferState::kCompleted || out[i].state == TransferState::kFailed) {
          break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
          ADD_FAILURE() << "task " << first + i << " unfinished after 10 s";
          return out;
        }
        std::this_thread::yield();
      }
    }
    return out;
  }

  // Submits `requests` as one batch and waits for all of them; expects every task to complete.
  void RunAll(const std::vector<TransferRequest>& requests) {
    auto batch = a_->AllocateBatchId(requests.size());
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    Status submitted = a_->SubmitTransfer(*batch, requests);
    ASSERT_TRUE(submitted.ok()) << submitted.ToString();
    auto statuses = Wait(*batch, requests.size());
    for (size_t i = 0; i < statuses.size(); ++i) {
      EXPECT_EQ(statuses[i].state, TransferState::kCompleted)
          << "task " << i << ": " << statuses[i].error.ToString();
      EXPECT_EQ(statuses[i].transferred_bytes, requests[i].length) << "task " << i;
    }
    EXPECT_TRUE(a_->FreeBatchId(*batch).ok());
  }

  void FillRandom(char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<char>(rng_());
  }

  std::mt19937 rng_{20240611};
  // Declared before the engines so that it outlives them: A's I/O may touch it until then.
  // First half: sources; second half: read destinations.
  std::vector<char> local_ = std::vector<char>(2 * kTargetSize);
  std::unique_ptr<TransferEngine> b_;
  std::unique_ptr<TransferEngine> a_;
  char* target_ = nullptr;
  SegmentHandle segment_ = 0;
};

TEST_F(TransferEngineLoopbackTest, LocalServerNameCarriesTheRealPort) {
  EXPECT_THAT(a_->local_server_name(), HasSubstr("127.0.0.1:"));
  EXPECT_NE(a_->local_server_name(), "127.0.0.1:0");
  EXPECT_NE(a_->local_server_name(), b_->local_server_name());
}

TEST_F(TransferEngineLoopbackTest, OpenedSegmentDescriptorListsTheTargetBuffer) {
  auto d = a_->GetSegmentDescriptor(segment_);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->name, b_->local_server_name());
  ASSERT_EQ(d->buffers.size(), 1u);
  EXPECT_EQ(d->buffers[0].address, Remote(0));
  EXPECT_EQ(d->buffers[0].length, kTargetSize);
}

TEST_F(TransferEngineLoopbackTest, WriteThenReadRoundTripsAcrossSliceBoundaries) {
  char* src = local_.data();
  char* dst = local_.data() + kTargetSize;
  for (uint64_t size : {uint64_t{1}, uint64_t{4095}, uint64_t{4096}, uint64_t{(1 << 20) + 7},
                        uint64_t{kTargetSize}}) {
    SCOPED_TRACE(size);
    // Start just before a slice boundary of the target when there is room.
    uint64_t offset = size + kSliceSize - 3 <= kTargetSize ? kSliceSize - 3 : 0;
    FillRandom(src, size);
    RunAll({Request(TransferOpcode::kWrite, src, offset, size)});
    ASSERT_EQ(std::memcmp(target_ + offset, src, size), 0) << "WRITE landed wrong bytes";

    std::memset(dst, 0, size);
    RunAll({Request(TransferOpcode::kRead, dst, offset, size)});
    ASSERT_EQ(std::memcmp(dst, src, size), 0) << "READ returned wrong bytes";
  }
}

TEST_F(TransferEngineLoopbackTest, PeerStatsCountBytesAndOutcomesOnBothSides) {
  char* src = local_.data();
  RunAll({Request(TransferOpcode::kWrite, src, 0, 4096),
          Request(TransferOpcode::kRead, src + kTargetSize, 100, 200000)});
  // A's cached descriptor still lists the freed buffer: B refuses, the task fails.
  ASSERT_TRUE(b_->FreeBuffer(target_).ok());
  TransferRequest stale = Request(TransferOpcode::kRead, src, 0, 10);
  auto batch = a_->AllocateBatchId(1);
  ASSERT_TRUE(batch.ok());
  ASSERT_TRUE(a_->SubmitTransfer(*batch, {&stale, 1}).ok());
  EXPECT_EQ(Wait(*batch, 1)[0].state, TransferState::kFailed);
  ASSERT_TRUE(a_->FreeBatchId(*batch).ok());

  auto find = [](const std::vector<PeerTransferStats>& all, const std::string& peer) {
    for (const auto& s : all) {
      if (s.peer == peer) return s;
    }
    ADD_FAILURE() << "no stats for peer " << peer;
    return PeerTransferStats{};
  };
  PeerTransferStats as_initiator = find(a_->GetPeerStats(), b_->local_server_name());
  EXPECT_EQ(as_initiator.bytes_written, 4096u);
  EXPECT_EQ(as_initiator.bytes_read, 200000u);
  EXPECT_EQ(as_initiator.tasks_completed, 2u);
  EXPECT_EQ(as_initiator.tasks_failed, 1u);
  EXPECT_EQ(as_initiator.served_bytes_read, 0u);
  PeerTransferStats as_target = find(b_->GetPeerStats(), a_->local_server_name());
  EXPECT_EQ(as_target.served_bytes_written, 4096u);
  EXPECT_EQ(as_target.served_bytes_read, 200000u);  // the refused read is not counted
  EXPECT_EQ(as_target.bytes_read, 0u);
  EXPECT_EQ(as_target.tasks_completed, 0u);
}

TEST_F(TransferEngineLoopbackTest, BatchOf128SmallRequestsAtDistinctOffsets) {
  constexpr size_t kCount = 128;
  constexpr size_t kLength = 1000;
  constexpr size_t kStride = 4096 + 1;  // odd stride: requests straddle pages and slices
  char* src = local_.data();
  char* dst = local_.data() + kTargetSize;
  FillRandom(src, kCount * kLength);

  std::vector<TransferRequest> writes;
  for (size_t i = 0; i < kCount; ++i) {
    writes.push_back(Request(TransferOpcode::kWrite, src + i * kLength, i * kStride, kLength));
  }
  RunAll(writes);
  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(std::memcmp(target_ + i * kStride, src + i * kLength, kLength), 0) << i;
  }

  std::vector<TransferRequest> reads;
  for (size_t i = 0; i < kCount; ++i) {
    reads.push_back(Request(TransferOpcode::kRead, dst + i * kLength, i * kStride, kLength));
  }
  RunAll(reads);
  ASSERT_EQ(std::memcmp(dst, src, kCount * kLength), 0);
}

TEST_F(TransferEngineLoopbackTest, ZeroLengthRequestCompletesAtOnce) {
  BatchId batch = a_->AllocateBatchId(1).value();
  ASSERT_TRUE(
      a_->SubmitTransfer(batch, {{Request(TransferOpcode::kWrite, local_.data(), 0, 0)}}).ok());
  auto status = a_->GetTransferStatus(batch, 0);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, TransferState::kCompleted);
  EXPECT_EQ(status->transferred_bytes, 0u);
  EXPECT_TRUE(a_->FreeBatchId(batch).ok());
}

TEST_F(TransferEngineLoopbackTest, UnregisteredLocalAddressIsRejectedAndNothingSubmitted) {
  std::vector<char> unregistered(4096);
  BatchId batch = a_->AllocateBatchId(2).value();
  // The first request is valid; the bad second one must reject the whole call.
  std::vector<TransferRequest> requests = {
      Request(TransferOpcode::kWrite, local_.data(), 0, 16),
      Request(TransferOpcode::kWrite, unregistered.data(), 0, 16)};
  Status s = a_->SubmitTransfer(batch, requests);
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("request 1"));
  EXPECT_THAT(s.message(), HasSubstr("not registered"));

  auto task = a_->GetTransferStatus(batch, 0);
  ASSERT_FALSE(task.ok()) << "no task may exist after a rejected submission";
  EXPECT_EQ(task.status().code(), StatusCode::kInvalidParams);
  // The batch's capacity was not consumed either.
  ASSERT_TRUE(a_->SubmitTransfer(batch, {{requests[0], requests[0]}}).ok());
  Wait(batch, 2);
  EXPECT_TRUE(a_->FreeBatchId(batch).ok());
}

TEST_F(TransferEngineLoopbackTest, LocalRangeRunningPastRegisteredMemoryIsRejected) {
  BatchId batch = a_->AllocateBatchId(1).value();
  char* last = local_.data() + local_.size() - 8;
  Status s = a_->SubmitTransfer(batch, {{Request(TransferOpcode::kRead, last, 0, 16)}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_FALSE(a_->GetTransferStatus(batch, 0).ok());
}

TEST_F(TransferEngineLoopbackTest, TargetRangePastTheEndIsRejected) {
  BatchId batch = a_->AllocateBatchId(1).value();
  struct Case {
    uint64_t offset;
    uint64_t length;
  };
  for (Case c : {Case{kTargetSize - 10, 11}, Case{kTargetSize, 1}}) {
    SCOPED_TRACE(c.offset);
    Status s = a_->SubmitTransfer(
        batch, {{Request(TransferOpcode::kWrite, local_.data(), c.offset, c.length)}});
    EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
    EXPECT_THAT(s.message(), HasSubstr("outside"));
    EXPECT_THAT(s.message(), HasSubstr(b_->local_server_name()));
  }
  EXPECT_FALSE(a_->GetTransferStatus(batch, 0).ok());
}

TEST_F(TransferEngineLoopbackTest, TargetRangeThatWrapsAroundIsRejected) {
  BatchId batch = a_->AllocateBatchId(1).value();
  TransferRequest r = Request(TransferOpcode::kRead, local_.data(), 0, 4096);
  r.target_offset = std::numeric_limits<uint64_t>::max() - 100;
  Status s = a_->SubmitTransfer(batch, {{r}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("outside"));
}

TEST_F(TransferEngineLoopbackTest, UnknownSegmentHandleIsRejected) {
  BatchId batch = a_->AllocateBatchId(1).value();
  TransferRequest r = Request(TransferOpcode::kWrite, local_.data(), 0, 16);
  r.target_id = segment_ + 1000;
  Status s = a_->SubmitTransfer(batch, {{r}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr(std::to_string(segment_ + 1000)));
  EXPECT_FALSE(a_->GetTransferStatus(batch, 0).ok());
}

TEST_F(TransferEngineLoopbackTest, ClosedSegmentHandleIsRejected) {
  ASSERT_TRUE(a_->CloseSegment(segment_).ok());
  BatchId batch = a_->AllocateBatchId(1).value();
  Status s = a_->SubmitTransfer(batch, {{Request(TransferOpcode::kWrite, local_.data(), 0, 16)}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_EQ(a_->CloseSegment(segment_).code(), StatusCode::kInvalidParams);

  // Reopening works and carries data again.
  auto reopened = a_->OpenSegment(b_->local_server_name());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  segment_ = *reopened;
  FillRandom(local_.data(), 100);
  RunAll({Request(TransferOpcode::kWrite, local_.data(), 0, 100)});
  EXPECT_EQ(std::memcmp(target_, local_.data(), 100), 0);
}

TEST_F(TransferEngineLoopbackTest, UnknownBatchIsRejected) {
  Status s = a_->SubmitTransfer(4242, {{Request(TransferOpcode::kWrite, local_.data(), 0, 1)}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("4242"));
}

TEST_F(TransferEngineLoopbackTest, GetTransferStatusOnAFreedBatchIsInvalidParams) {
  BatchId batch = a_->AllocateBatchId(1).value();
  ASSERT_TRUE(
      a_->SubmitTransfer(batch, {{Request(TransferOpcode::kWrite, local_.data(), 0, 8)}}).ok());
  Wait(batch, 1);
  ASSERT_TRUE(a_->FreeBatchId(batch).ok());
  auto status = a_->GetTransferStatus(batch, 0);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(status.status().message(), HasSubstr(std::to_string(batch)));
  EXPECT_EQ(a_->FreeBatchId(batch).code(), StatusCode::kInvalidParams);
}

TEST_F(TransferEngineLoopbackTest, GetTransferStatusOfUnsubmittedTaskIsInvalidParams) {
  BatchId batch = a_->AllocateBatchId(4).value();
  ASSERT_TRUE(
      a_->SubmitTransfer(batch, {{Request(TransferOpcode::kWrite, local_.data(), 0, 8)}}).ok());
  auto status = a_->GetTransferStatus(batch, 1);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kInvalidParams);
  Wait(batch, 1);
}

TEST_F(TransferEngineLoopbackTest, SubmittingMoreTasksThanTheBatchHoldsIsRefused) {
  BatchId batch = a_->AllocateBatchId(2).value();
  TransferRequest r = Request(TransferOpcode::kWrite, local_.data(), 0, 8);
  Status over = a_->SubmitTransfer(batch, {{r, r, r}});
  EXPECT_EQ(over.code(), StatusCode::kInvalidParams);
  EXPECT_FALSE(a_->GetTransferStatus(batch, 0).ok()) << "a refused submission starts nothing";

  // Task ids continue across submissions until the capacity is used up.
  ASSERT_TRUE(a_->SubmitTransfer(batch, {{r}}).ok());
  ASSERT_TRUE(a_->SubmitTransfer(batch, {{r}}).ok());
  EXPECT_EQ(a_->SubmitTransfer(batch, {{r}}).code(), StatusCode::kInvalidParams);
  auto statuses = Wait(batch, 2);
  EXPECT_EQ(statuses[0].state, TransferState::kCompleted);
  EXPECT_EQ(statuses[1].state, TransferState::kCompleted);
  EXPECT_TRUE(a_->FreeBatchId(batch).ok());
}

TEST_F(TransferEngineLoopbackTest, AllocateBatchIdRefusesZero) {
  EXPECT_EQ(a_->AllocateBatchId(0).status().code(), StatusCode::kInvalidParams);
}

TEST_F(TransferEngineLoopbackTest, OpeningTheSameNameTwiceReturnsTheSameHandle) {
  auto again = a_->OpenSegment(b_->local_server_name());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, segment_);
}

TEST_F(TransferEngineLoopbackTest, OpeningAnUnreachableSegmentFails) {
  TransferEngineOptions options = LoopbackOptions();
  auto c = TransferEngine::Create(options);
  ASSERT_TRUE(c.ok());
  std::string gone = (*c)->local_server_name();
  c->reset();  // nobody listens on its port any more
  auto handle = a_->OpenSegment(gone);
  ASSERT_FALSE(handle.ok());
  EXPECT_EQ(handle.status().code(), StatusCode::kSegmentNotFound);
  EXPECT_THAT(handle.status().message(), HasSubstr(gone));
}

TEST_F(TransferEngineLoopbackTest, TargetRefusesARangeItNoLongerServes) {
  // A's cached descriptor still lists the buffer, so only B's own check can stop the write.
  std::vector<char> extra(64 << 10);
  ASSERT_TRUE(b_->RegisterLocalMemory(extra.data(), extra.size()).ok());
  ASSERT_TRUE(a_->CloseSegment(segment_).ok());
  segment_ = a_->OpenSegment(b_->local_server_name()).value();
  ASSERT_EQ(a_->GetSegmentDescriptor(segment_).value().buffers.size(), 2u);
  ASSERT_TRUE(b_->UnregisterLocalMemory(extra.data()).ok());

  FillRandom(local_.data(), 1000);
  TransferRequest r = Request(TransferOpcode::kWrite, local_.data(), 0, 1000);
  r.target_offset = reinterpret_cast<uint64_t>(extra.data());
  BatchId batch = a_->AllocateBatchId(2).value();
  ASSERT_TRUE(a_->SubmitTransfer(batch, {{r}}).ok());
  r.opcode = TransferOpcode::kRead;
  ASSERT_TRUE(a_->SubmitTransfer(batch, {{r}}).ok());
  auto statuses = Wait(batch, 2);
  for (const TransferStatus& s : statuses) {
    EXPECT_EQ(s.state, TransferState::kFailed);
    EXPECT_EQ(s.error.code(), StatusCode::kInvalidParams);
    EXPECT_THAT(s.error.message(), HasSubstr("outside"));
    EXPECT_THAT(s.error.message(), HasSubstr(b_->local_server_name()));
  }
  EXPECT_TRUE(std::all_of(extra.begin(), extra.end(), [](char c) { return c == 0; }))
      << "a refused WRITE must not touch the memory";
  EXPECT_TRUE(a_->FreeBatchId(batch).ok());
}

TEST_F(TransferEngineLoopbackTest, DescriptorIsRefreshedWhenTheTargetRegistersMore) {
  std::vector<char> extra(4096);
  ASSERT_TRUE(b_->RegisterLocalMemory(extra.data(), extra.size()).ok());
  FillRandom(local_.data(), extra.size());
  TransferRequest r = Request(TransferOpcode::kWrite, local_.data(), 0, extra.size());
  r.target_offset = reinterpret_cast<uint64_t>(extra.data());
  RunAll({r});
  EXPECT_EQ(std::memcmp(extra.data(), local_.data(), extra.size()), 0);
  ASSERT_TRUE(b_->UnregisterLocalMemory(extra.data()).ok());
}

TEST_F(TransferEngineLoopbackTest, FreeBufferRefusesForeignAddresses) {
  EXPECT_EQ(b_->FreeBuffer(local_.data()).code(), StatusCode::kInvalidParams);
  EXPECT_TRUE(b_->FreeBuffer(target_).ok());
  EXPECT_EQ(b_->FreeBuffer(target_).code(), StatusCode::kInvalidParams);
}

}  // namespace
}  // namespace mooncake::transfer

namespace mooncake::transfer {
namespace {

// A target restarted on the same port may register memory at the very addresses its
// predecessor published (here: the same user buffer). Requests validated against the old
// descriptor must be refused, not land in the new process's memory.
TEST(TransferEngineRestartTest, RequestsForAnEarlierIncarnationNeverLandInTheSuccessor) {
  std::vector<char> target_memory(1 << 20, 'o');  // outlives both targets
  std::vector<char> local(1 << 20, 'n');
  auto a = TransferEngine::Create(LoopbackOptions()).value();
  ASSERT_TRUE(a->RegisterLocalMemory(local.data(), local.size()).ok());

  auto b1 = TransferEngine::Create(LoopbackOptions()).value();
  const std::string name = b1->local_server_name();
  ASSERT_TRUE(b1->RegisterLocalMemory(target_memory.data(), target_memory.size()).ok());
  SegmentHandle segment = a->OpenSegment(name).value();

  TransferRequest write{TransferOpcode::kWrite, local.data(), segment,
                        reinterpret_cast<uint64_t>(target_memory.data()), 4096};
  auto run = [&]() -> TransferStatus {
    BatchId batch = a->AllocateBatchId(1).value();
    Status s = a->SubmitTransfer(batch, {&write, 1});
    TransferStatus st;
    st.state = TransferState::kFailed;
    st.error = s;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (s.ok() && std::chrono::steady_clock::now() < deadline) {
      st = a->GetTransferStatus(batch, 0).value();
      if (st.state == TransferState::kCompleted || st.state == TransferState::kFailed) break;
      std::this_thread::yield();
    }
    a->FreeBatchId(batch).IgnoreError();
    return st;
  };
  ASSERT_EQ(run().state, TransferState::kCompleted);
  ASSERT_EQ(target_memory[0], 'n');
  std::fill(target_memory.begin(), target_memory.end(), 'o');

  // Restart: same name, same port, same buffer address, new incarnation.
  b1.reset();
  TransferEngineOptions same_port = LoopbackOptions();
  same_port.local_server_name = name;
  auto b2 = TransferEngine::Create(same_port);
  ASSERT_TRUE(b2.ok()) << b2.status().ToString();
  ASSERT_TRUE((*b2)->RegisterLocalMemory(target_memory.data(), target_memory.size()).ok());

  // Depending on when A notices its connections to B1 closing, an attempt fails on the dead
  // connection, or is refused by B2 for its stale tag (tcp_transport_test checks that refusal
  // on the wire), or, once A has re-read B2's descriptor, succeeds. Nothing may land before.
  std::string failures;
  TransferStatus st;
  for (int attempt = 0; attempt < 3; ++attempt) {
    st = run();
    if (st.state == TransferState::kCompleted) break;
    failures += st.error.ToString() + "\n";
    EXPECT_EQ(target_memory[0], 'o') << "a stale write landed in the restarted target";
  }
  EXPECT_EQ(st.state, TransferState::kCompleted) << failures;
  EXPECT_EQ(target_memory[0], 'n');
}

}  // namespace
}  // namespace mooncake::transfer

// RunBatch / PendingBatch (transfer/batch_runner.h) over the same two loopback engines.
namespace mooncake::transfer {
namespace {

using Clock = std::chrono::steady_clock;

TEST_F(TransferEngineLoopbackTest, RunBatchMovesEveryRequestAndReportsEach) {
  for (size_t i = 0; i < (2 << 20); ++i) local_[i] = static_cast<char>(i * 7);
  std::vector<TransferRequest> writes = {
      Request(TransferOpcode::kWrite, local_.data(), 0, 1 << 20),
      Request(TransferOpcode::kWrite, local_.data() + (1 << 20), 1 << 20, 4096),
      Request(TransferOpcode::kWrite, local_.data(), 2 << 20, 0)};
  std::vector<Status> written = RunBatch(*a_, writes, std::chrono::seconds(10));
  ASSERT_EQ(written.size(), 3u);
  for (const Status& s : written) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(std::memcmp(target_, local_.data(), (1 << 20) + 4096), 0);

  std::memset(local_.data(), 0, 2 << 20);
  std::vector<TransferRequest> reads = {
      Request(TransferOpcode::kRead, local_.data(), 0, (1 << 20) + 4096)};
  std::vector<Status> read = RunBatch(*a_, reads, std::chrono::seconds(10));
  ASSERT_EQ(read.size(), 1u);
  EXPECT_TRUE(read[0].ok()) << read[0].ToString();
  EXPECT_EQ(std::memcmp(target_, local_.data(), (1 << 20) + 4096), 0);
}

TEST_F(TransferEngineLoopbackTest, ARefusedBatchIsEveryRequestsErrorAndNothingRuns) {
  std::vector<char> unregistered(4096);
  std::vector<TransferRequest> requests = {
      Request(TransferOpcode::kWrite, local_.data(), 0, 4096),
      Request(TransferOpcode::kWrite, unregistered.data(), 0, 4096)};
  PendingBatch pending = PendingBatch::Start(*a_, requests);
  EXPECT_TRUE(pending.Done()) << "nothing was started";
  std::vector<Status> results = pending.Wait(Clock::now());
  ASSERT_EQ(results.size(), 2u);
  for (const Status& s : results) EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
  EXPECT_FALSE(pending.abandoned());
}

TEST_F(TransferEngineLoopbackTest, APendingBatchIsDoneOnceItsTransfersFinish) {
  std::vector<TransferRequest> requests;
  for (size_t i = 0; i < 8; ++i) {
    requests.push_back(
        Request(TransferOpcode::kRead, local_.data() + (i << 19), i << 19, 512 << 10));
  }
  PendingBatch pending = PendingBatch::Start(*a_, requests);
  EXPECT_TRUE(pending.WaitUntilDone(Clock::now() + std::chrono::seconds(10)));
  EXPECT_TRUE(pending.Done());
  std::vector<Status> results = pending.Wait(Clock::now());
  ASSERT_EQ(results.size(), 8u);
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(pending.abandoned());
}

TEST_F(TransferEngineLoopbackTest, NoRequestsIsNoBatchAndAnUnknownBatchCannotBeAwaited) {
  EXPECT_TRUE(RunBatch(*a_, {}, std::chrono::milliseconds(10)).empty());
  EXPECT_EQ(a_->WaitBatch(987654, Clock::now()).code(), StatusCode::kInvalidParams);
}

}  // namespace
}  // namespace mooncake::transfer
