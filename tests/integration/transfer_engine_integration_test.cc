// Transfer Engine against real `transfer_engine_bench --mode=target` processes, over loopback
// TCP, shared memory and UCX (the initiator's protocol is the test parameter; ucx targets run
// --protocol=ucx, and ctest runs the ucx cases under UCX's defaults, UCX_TLS=tcp,self and
// UCX_TLS=sm,self):
// data integrity of READ/WRITE from 1 B to 64 MiB, concurrent batches, API errors with
// real peers, and a target restarted on the same port. Fault injection (killed/frozen peers,
// malformed frames) lives in transfer_engine_fault_test.cc.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_pattern.h"
#include "testing/binary_path.h"
#include "testing/free_port.h"
#include "transfer_test_support.h"

namespace mooncake::integration {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1 << 20;

// Parameter: the initiator's protocol, "tcp", "shm" or "ucx" (neither shm nor ucx falls back
// to TCP, so a passing run moved every byte through that transport).
class TransferEngineIntegrationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (Status s = ProtocolAvailable(GetParam()); !s.ok()) GTEST_SKIP() << s.ToString();
    SetTargetProtocol(TargetProtocolFor(GetParam()));
    transfer::TransferEngineOptions options;
    options.protocol = GetParam();
    auto engine = StartInitiator(options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
  }
  // Targets are locals of each test and are killed before this runs.
  void TearDown() override { DestroyWithin(std::move(engine_), seconds(15)); }

  // Opens `target` and checks that the descriptor the engine fetched matches its READY line.
  Result<transfer::SegmentHandle> Open(const TargetProcess& target) {
    MC_ASSIGN_OR_RETURN(transfer::SegmentHandle handle, engine_->OpenSegment(target.name));
    MC_ASSIGN_OR_RETURN(transfer::SegmentDescriptor d, engine_->GetSegmentDescriptor(handle));
    if (d.name != target.name || d.buffers.size() != 1 || d.buffers[0].address != target.buffer ||
        d.buffers[0].length != target.size) {
      return InternalError("descriptor of " + target.name + " does not match its READY line");
    }
    return handle;
  }

  char* Allocate(size_t length) {
    auto buffer = engine_->AllocateBuffer(length);
    EXPECT_TRUE(buffer.ok()) << buffer.status().ToString();
    return buffer.ok() ? static_cast<char*>(*buffer) : nullptr;
  }

  std::unique_ptr<transfer::TransferEngine> engine_;
};

// Offset of the first differing byte, or -1.
int64_t FirstDifference(const char* a, const char* b, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    if (a[i] != b[i]) return static_cast<int64_t>(i);
  }
  return -1;
}

TEST_P(TransferEngineIntegrationTest, ReadAndWriteFromOneByteTo64MiBKeepDataIntact) {
  constexpr uint64_t kTargetSize = 96 * kMiB;
  auto target_or = StartTarget(kTargetSize);
  MC_ASSERT_OK(target_or);
  TargetProcess& target = *target_or;
  auto handle = Open(target);
  MC_ASSERT_OK(handle);
  // Where the target's buffer is, as a user learns it: from the segment's descriptor.
  auto descriptor = engine_->GetSegmentDescriptor(*handle);
  MC_ASSERT_OK(descriptor);
  const uint64_t base = descriptor->buffers[0].address;

  // Local layout: [0, 96 MiB) sources of WRITEs, [96 MiB, 192 MiB) destinations of READs.
  char* local = Allocate(2 * kTargetSize);
  ASSERT_NE(local, nullptr);
  char* const src = local;
  char* const dst = local + kTargetSize;

  // The test's model of the target buffer: the pattern, plus every WRITE applied to it.
  std::vector<char> shadow(kTargetSize);
  bench::FillPattern(shadow.data(), kTargetSize, kTargetSeed);

  const std::vector<uint64_t> sizes = {1, 7, 4096, 65537, kMiB, 16 * kMiB + 3, 64 * kMiB};
  // Before any WRITE: READs of every size at odd offsets return the target's pattern.
  for (size_t i = 0; i < sizes.size(); ++i) {
    const uint64_t len = sizes[i];
    const uint64_t remote = kTargetSize - len - 3 * i;  // towards the end, unaligned
    const uint64_t local_dst = 3 + i;
    std::memset(dst + local_dst, 0, len);
    transfer::TransferRequest r{transfer::TransferOpcode::kRead, dst + local_dst, *handle,
                                base + remote, len};
    MC_ASSERT_OK(RunBatch(*engine_, {&r, 1}));
    int64_t bad = bench::FirstMismatch(dst + local_dst, len, kTargetSeed, remote);
    ASSERT_EQ(bad, -1) << "READ of " << len << " bytes at offset " << remote
                       << " differs from the pattern at +" << bad;
  }

  for (size_t i = 0; i < sizes.size(); ++i) {
    const uint64_t len = sizes[i];
    SCOPED_TRACE("size " + std::to_string(len));
    // Odd offsets on both sides, spread over the buffer, always in range.
    const uint64_t remote = (i * 13 * kMiB + 2 * i + 1) % (kTargetSize - len + 1);
    const uint64_t local_src = 5 + i;
    const uint64_t local_dst = 11 + 2 * i;

    // WRITE random bytes, READ them back into another region, compare.
    std::vector<char> data = RandomBytes(len, 1000 + i);
    std::memcpy(src + local_src, data.data(), len);
    transfer::TransferRequest write{transfer::TransferOpcode::kWrite, src + local_src, *handle,
                                    base + remote, len};
    MC_ASSERT_OK(RunBatch(*engine_, {&write, 1}));
    std::memcpy(shadow.data() + remote, data.data(), len);

    std::memset(dst + local_dst, 0, len);
    transfer::TransferRequest read_back{transfer::TransferOpcode::kRead, dst + local_dst, *handle,
                                        base + remote, len};
    MC_ASSERT_OK(RunBatch(*engine_, {&read_back, 1}));
    ASSERT_EQ(FirstDifference(dst + local_dst, data.data(), len), -1)
        << "READ-back of a " << len << "-byte WRITE at offset " << remote << " differs";
    // The WRITE's source was not modified by the transfer.
    ASSERT_EQ(FirstDifference(src + local_src, data.data(), len), -1);
  }

  // The whole target buffer equals the model: no WRITE spilled outside its range, and every
  // byte not written still holds the pattern. Read it as 12 requests of one batch.
  std::memset(dst, 0, kTargetSize);
  std::vector<transfer::TransferRequest> whole;
  constexpr uint64_t kPiece = 8 * kMiB;
  for (uint64_t off = 0; off < kTargetSize; off += kPiece) {
    whole.push_back({transfer::TransferOpcode::kRead, dst + off, *handle, base + off, kPiece});
  }
  MC_ASSERT_OK(RunBatch(*engine_, whole));
  int64_t bad = FirstDifference(dst, shadow.data(), kTargetSize);
  EXPECT_EQ(bad, -1) << "target buffer differs from the model at offset " << bad;
}

TEST_P(TransferEngineIntegrationTest, ConcurrentBatchesFromTwoThreadsStayApart) {
  constexpr uint64_t kRegion = 16 * kMiB;  // per thread, on the target and locally (x2)
  auto target_or = StartTarget(2 * kRegion);
  MC_ASSERT_OK(target_or);
  TargetProcess& target = *target_or;
  auto handle = Open(target);
  MC_ASSERT_OK(handle);
  char* local = Allocate(4 * kRegion);
  ASSERT_NE(local, nullptr);

  constexpr int kThreads = 2;
  constexpr int kRounds = 6;
  constexpr int kRequests = 24;
  std::vector<std::string> errors(kThreads);
  auto worker = [&](int t) {
    const uint64_t remote_base = target.buffer + t * kRegion;
    char* src = local + 2 * t * kRegion;
    char* dst = src + kRegion;
    // What this thread's remote region must hold: the pattern, then what it wrote.
    std::vector<char> model(kRegion);
    bench::FillPattern(model.data(), kRegion, kTargetSeed, t * kRegion);
    const auto deadline = Clock::now() + seconds(60);
    for (int round = 0; round < kRounds && Clock::now() < deadline; ++round) {
      // Requests of mixed sizes (some sliced, some tiny) at distinct offsets of the region.
      std::vector<transfer::TransferRequest> writes, reads;
      std::vector<char> data = RandomBytes(kRegion, 7919 * t + round);
      uint64_t off = static_cast<uint64_t>(round) * 4099 % 8192;
      for (int r = 0; r < kRequests; ++r) {
        uint64_t len = (r % 4 == 0) ? 1 + (round * 977 + r) % 4096
                                    : (r % 4 == 1 ? 1536 * 1024 + r : 64 * 1024 + r * 31);
        if (off + len > kRegion) break;
        std::memcpy(src + off, data.data() + off, len);
        std::memcpy(model.data() + off, data.data() + off, len);
        writes.push_back(
            {transfer::TransferOpcode::kWrite, src + off, *handle, remote_base + off, len});
        off += len + 4096 + r;  // leave untouched gaps between requests
      }
      Status s = RunBatch(*engine_, writes);
      if (!s.ok()) {
        errors[t] = "round " + std::to_string(round) + " WRITE: " + s.ToString();
        return;
      }
      // Read the whole region back in slices of one batch and compare with the model.
      std::memset(dst, 0, kRegion);
      for (uint64_t o = 0; o < kRegion; o += 2 * kMiB) {
        reads.push_back(
            {transfer::TransferOpcode::kRead, dst + o, *handle, remote_base + o, 2 * kMiB});
      }
      s = RunBatch(*engine_, reads);
      if (!s.ok()) {
        errors[t] = "round " + std::to_string(round) + " READ: " + s.ToString();
        return;
      }
      int64_t bad = FirstDifference(dst, model.data(), kRegion);
      if (bad >= 0) {
        errors[t] = "round " + std::to_string(round) + ": region of thread " + std::to_string(t) +
                    " differs from its model at offset " + std::to_string(bad);
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
}

TEST_P(TransferEngineIntegrationTest, TwentyThousandTinyRequestsInOneBatchKeepFramesInSync) {
  // Many frames per socket read, headers and payloads split across reads and staging-buffer
  // wrap-arounds, on both the target (requests) and the initiator (responses).
  constexpr uint64_t kHalf = 2 * kMiB;
  auto target_or = StartTarget(kHalf);
  MC_ASSERT_OK(target_or);
  TargetProcess& target = *target_or;
  auto handle = Open(target);
  MC_ASSERT_OK(handle);
  char* local = Allocate(2 * kHalf);
  ASSERT_NE(local, nullptr);
  std::vector<char> data = RandomBytes(kHalf, 31337);
  std::memcpy(local, data.data(), kHalf);
  std::vector<char> model(kHalf);
  bench::FillPattern(model.data(), kHalf, kTargetSeed);

  std::vector<transfer::TransferRequest> writes, reads;
  std::vector<char> lengths = RandomBytes(2 * 20000, 5);
  uint64_t off = 0;
  for (size_t i = 0; i < 20000; ++i) {
    const uint64_t len = 1 + static_cast<uint8_t>(lengths[2 * i]) % 97;
    if (off + len > kHalf) break;
    writes.push_back(
        {transfer::TransferOpcode::kWrite, local + off, *handle, target.buffer + off, len});
    std::memcpy(model.data() + off, data.data() + off, len);
    off += len + static_cast<uint8_t>(lengths[2 * i + 1]) % 13;  // gaps keep the pattern
  }
  ASSERT_EQ(writes.size(), 20000u);
  MC_ASSERT_OK(RunBatch(*engine_, writes));
  // Read everything back with tiny requests too (odd lengths, covering gaps), then compare.
  for (uint64_t o = 0; o < kHalf;) {
    const uint64_t len = std::min<uint64_t>(kHalf - o, 1 + (o * 7919) % 211);
    reads.push_back(
        {transfer::TransferOpcode::kRead, local + kHalf + o, *handle, target.buffer + o, len});
    o += len;
  }
  MC_ASSERT_OK(RunBatch(*engine_, reads));
  int64_t bad = FirstDifference(local + kHalf, model.data(), kHalf);
  EXPECT_EQ(bad, -1) << "target differs from the model at offset " << bad << " (" << reads.size()
                     << " READs)";
}

TEST_P(TransferEngineIntegrationTest, BadRequestsAreRejectedWithClearErrors) {
  auto target_or = StartTarget(16 * kMiB);
  MC_ASSERT_OK(target_or);
  TargetProcess& target = *target_or;
  auto handle_or = Open(target);
  MC_ASSERT_OK(handle_or);
  const transfer::SegmentHandle handle = *handle_or;
  char* local = Allocate(kMiB);
  ASSERT_NE(local, nullptr);

  auto submit_one = [&](const transfer::TransferRequest& r) -> Status {
    auto batch = engine_->AllocateBatchId(1);
    if (!batch.ok()) return batch.status();
    Status s = engine_->SubmitTransfer(*batch, {&r, 1});
    // A rejected submit starts nothing: the batch has no task 0 and can be freed at once.
    if (!s.ok()) {
      EXPECT_FALSE(engine_->GetTransferStatus(*batch, 0).ok());
      EXPECT_TRUE(engine_->FreeBatchId(*batch).ok());
    }
    return s;
  };

  {  // Unregistered local memory, and a range running past the end of registered memory.
    std::vector<char> heap(4096);
    Status s =
        submit_one({transfer::TransferOpcode::kRead, heap.data(), handle, target.buffer, 4096});
    EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("not registered")) << s.ToString();
    s = submit_one(
        {transfer::TransferOpcode::kWrite, local + kMiB - 10, handle, target.buffer, 11});
    EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("not registered")) << s.ToString();
  }
  {  // Target ranges past the end, before the start, exactly at the end, and wrapping around.
    const uint64_t end = target.buffer + target.size;
    const std::vector<std::pair<uint64_t, uint64_t>> bad_ranges = {
        {end - 10, 100}, {end, 1}, {target.buffer - 1, 2}, {~0ull - 5, 100}, {0, 16}};
    for (auto [address, length] : bad_ranges) {
      for (auto op : {transfer::TransferOpcode::kRead, transfer::TransferOpcode::kWrite}) {
        Status s = submit_one({op, local, handle, address, length});
        EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
        EXPECT_THAT(s.message(), HasSubstr("outside the registered buffers")) << s.ToString();
        EXPECT_THAT(s.message(), HasSubstr(target.name)) << s.ToString();
      }
    }
  }
  {  // A batch with one bad request among good ones is rejected as a whole.
    transfer::TransferRequest mixed[2] = {
        {transfer::TransferOpcode::kRead, local, handle, target.buffer, 4096},
        {transfer::TransferOpcode::kRead, local + 4096, handle, target.buffer + target.size, 4096}};
    auto batch = engine_->AllocateBatchId(2);
    MC_ASSERT_OK(batch);
    Status s = engine_->SubmitTransfer(*batch, mixed);
    EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("request 1")) << s.ToString();
    EXPECT_EQ(engine_->GetTransferStatus(*batch, 0).status().code(), StatusCode::kInvalidParams);
    // The same batch then accepts good requests as tasks 0 and 1.
    mixed[1].target_offset = target.buffer + 4096;
    MC_ASSERT_OK(engine_->SubmitTransfer(*batch, mixed));
    auto statuses = WaitForTasks(*engine_, *batch, 2, seconds(10));
    for (const auto& st : statuses) EXPECT_EQ(st.state, transfer::TransferState::kCompleted);
    EXPECT_EQ(bench::FirstMismatch(local, 8192, kTargetSeed, 0), -1);
    MC_ASSERT_OK(engine_->FreeBatchId(*batch));
  }
  {  // A request naming a segment handle that was never opened.
    Status s =
        submit_one({transfer::TransferOpcode::kRead, local, handle + 1000, target.buffer, 16});
    EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("unknown segment handle")) << s.ToString();
    EXPECT_FALSE(engine_->GetSegmentDescriptor(handle + 1000).ok());
    EXPECT_FALSE(engine_->CloseSegment(handle + 1000).ok());
  }
  {  // A segment name where nothing listens: kSegmentNotFound within a few seconds.
    auto port = testing::PickFreeTcpPort();
    MC_ASSERT_OK(port);
    const std::string nowhere = "127.0.0.1:" + std::to_string(*port);
    auto start = Clock::now();
    auto opened = engine_->OpenSegment(nowhere);
    auto took = Clock::now() - start;
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), StatusCode::kSegmentNotFound) << opened.status().ToString();
    EXPECT_THAT(opened.status().message(), HasSubstr(nowhere));
    EXPECT_LT(took, seconds(5));
    auto malformed = engine_->OpenSegment("no-port-here");
    ASSERT_FALSE(malformed.ok());
    EXPECT_EQ(malformed.status().code(), StatusCode::kSegmentNotFound);
    EXPECT_THAT(malformed.status().message(), HasSubstr("no-port-here"));
  }
  {  // Batch ids: freed, never allocated, overfilled, empty; task ids past the submitted ones.
    auto batch = engine_->AllocateBatchId(2);
    MC_ASSERT_OK(batch);
    transfer::TransferRequest r{transfer::TransferOpcode::kRead, local, handle, target.buffer, 64};
    transfer::TransferRequest three[3] = {r, r, r};
    Status s = engine_->SubmitTransfer(*batch, three);
    EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("batch holds 2 tasks"));
    MC_ASSERT_OK(engine_->SubmitTransfer(*batch, {&r, 1}));
    EXPECT_EQ(engine_->GetTransferStatus(*batch, 1).status().code(), StatusCode::kInvalidParams);
    auto statuses = WaitForTasks(*engine_, *batch, 1, seconds(10));
    EXPECT_EQ(statuses[0].state, transfer::TransferState::kCompleted);
    MC_ASSERT_OK(engine_->FreeBatchId(*batch));
    for (transfer::BatchId id : {*batch, transfer::BatchId{0}, *batch + 12345}) {
      Status freed = engine_->FreeBatchId(id);
      auto status = engine_->GetTransferStatus(id, 0);
      Status submit = engine_->SubmitTransfer(id, {&r, 1});
      for (const Status& e : {freed, status.status(), submit}) {
        EXPECT_EQ(e.code(), StatusCode::kInvalidParams) << e.ToString();
        EXPECT_THAT(e.message(), HasSubstr("batch " + std::to_string(id)));
        EXPECT_THAT(e.message(), HasSubstr("unknown or was freed"));
      }
    }
    EXPECT_EQ(engine_->AllocateBatchId(0).status().code(), StatusCode::kInvalidParams);
  }
  // None of that disturbed the engine or the target: a normal transfer still works.
  transfer::TransferRequest ok{transfer::TransferOpcode::kRead, local, handle,
                               target.buffer + 12345, 100000};
  MC_ASSERT_OK(RunBatch(*engine_, {&ok, 1}));
  EXPECT_EQ(bench::FirstMismatch(local, 100000, kTargetSeed, 12345), -1);
  EXPECT_TRUE(target.process->Running());
}

TEST_P(TransferEngineIntegrationTest, TargetRestartedOnSamePortIsServedThroughSameHandle) {
  constexpr uint64_t kSize = 8 * kMiB;
  constexpr uint64_t kOffset = 3 * kMiB + 1;
  constexpr uint64_t kLength = kMiB + 17;
  auto first = StartTarget(kSize);
  MC_ASSERT_OK(first);
  const uint16_t port = first->port;
  auto handle = Open(*first);
  MC_ASSERT_OK(handle);
  auto old_descriptor = engine_->GetSegmentDescriptor(*handle);
  MC_ASSERT_OK(old_descriptor);
  char* local = Allocate(2 * kLength);
  ASSERT_NE(local, nullptr);

  // Overwrite part of the first incarnation, so that data read later tells the two apart.
  std::vector<char> data = RandomBytes(kLength, 99);
  std::memcpy(local, data.data(), kLength);
  transfer::TransferRequest write{transfer::TransferOpcode::kWrite, local, *handle,
                                  first->buffer + kOffset, kLength};
  MC_ASSERT_OK(RunBatch(*engine_, {&write, 1}));
  transfer::TransferRequest read{transfer::TransferOpcode::kRead, local + kLength, *handle,
                                 first->buffer + kOffset, kLength};
  MC_ASSERT_OK(RunBatch(*engine_, {&read, 1}));
  ASSERT_EQ(FirstDifference(local + kLength, data.data(), kLength), -1);

  first->process->Kill(SIGKILL);
  ASSERT_FALSE(first->process->Running());
  // Same port, at once: the listener must not be blocked by the old connections' TIME_WAIT.
  auto second = StartTarget(kSize, port);
  MC_ASSERT_OK(second);

  // The user's view: the address comes from the segment's descriptor. The first transfer may
  // fail while the engine learns of the restart; the second must succeed.
  std::vector<std::string> failures;
  bool succeeded = false;
  for (int attempt = 0; attempt < 2 && !succeeded; ++attempt) {
    auto d = engine_->GetSegmentDescriptor(*handle);
    MC_ASSERT_OK(d);
    ASSERT_FALSE(d->buffers.empty());
    std::memset(local + kLength, 0, kLength);
    transfer::TransferRequest again{transfer::TransferOpcode::kRead, local + kLength, *handle,
                                    d->buffers[0].address + kOffset, kLength};
    Status s = RunBatch(*engine_, {&again, 1}, seconds(15));
    if (s.ok()) {
      succeeded = true;
    } else {
      EXPECT_FALSE(s.message().empty());
      failures.push_back(s.ToString());
    }
  }
  ASSERT_TRUE(succeeded) << "transfers after the restart failed: "
                         << ::testing::PrintToString(failures);
  if (!failures.empty()) {
    std::printf("note: first transfer after the restart failed: %s\n", failures[0].c_str());
  }
  // The bytes are the new incarnation's pattern, not what was written into the old one.
  EXPECT_EQ(bench::FirstMismatch(local + kLength, kLength, kTargetSeed, kOffset), -1);
  auto refreshed = engine_->GetSegmentDescriptor(*handle);
  MC_ASSERT_OK(refreshed);
  ASSERT_EQ(refreshed->buffers.size(), 1u);
  EXPECT_EQ(refreshed->buffers[0].address, second->buffer);
  EXPECT_NE(refreshed->incarnation, old_descriptor->incarnation);
  // And WRITEs land in the new incarnation.
  transfer::TransferRequest write2{transfer::TransferOpcode::kWrite, local, *handle,
                                   second->buffer + kOffset, kLength};
  MC_ASSERT_OK(RunBatch(*engine_, {&write2, 1}));
  std::memset(local + kLength, 0, kLength);
  transfer::TransferRequest read2{transfer::TransferOpcode::kRead, local + kLength, *handle,
                                  second->buffer + kOffset, kLength};
  MC_ASSERT_OK(RunBatch(*engine_, {&read2, 1}));
  EXPECT_EQ(FirstDifference(local + kLength, data.data(), kLength), -1);
}

TEST_P(TransferEngineIntegrationTest, BenchInitiatorProcessReadsAndWritesAndVerifies) {
  // transfer_engine_bench itself as the initiator, with the transport's defaults (for ucx:
  // whatever UCX picks when UCX_TLS is not set, in the plain ctest run).
  auto target = StartTarget(64 * kMiB);
  MC_ASSERT_OK(target);
  for (const char* operation : {"read", "write"}) {
    testing::ProcessOptions options;
    options.binary = testing::BinaryPath("transfer_engine_bench");
    options.args = {"--mode=initiator",
                    "--segment_id=" + target->name,
                    std::string("--operation=") + operation,
                    "--block_size=1048576",
                    "--batch_size=16",
                    "--buffer_size=64MiB",
                    "--duration=0.5",
                    "--protocol=" + GetParam()};
    auto initiator = testing::ChildProcess::Start(std::move(options));
    MC_ASSERT_OK(initiator);
    auto exit_code = (*initiator)->Wait(seconds(60));
    MC_ASSERT_OK(exit_code);
    const std::string log = (*initiator)->ReadLog();
    EXPECT_EQ(*exit_code, 0) << log;
    EXPECT_THAT(log, HasSubstr("RESULT protocol=" + GetParam() + " operation=" + operation)) << log;
    EXPECT_THAT(log, HasSubstr("verified=yes")) << log;
  }
  EXPECT_TRUE(target->process->Running());
}

INSTANTIATE_TEST_SUITE_P(Transports, TransferEngineIntegrationTest,
                         ::testing::Values("tcp", "shm", "ucx"), TransportName);

}  // namespace
}  // namespace mooncake::integration
