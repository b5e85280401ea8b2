// TransferRequest::crc32c: two engines in one process, once per way a read can travel — TCP
// over loopback (fused with the receive), shared memory (fused with the memcpy), process_vm
// and file segments (the engine's fallback). Each read must report the CRC32C of exactly the
// bytes it delivered, whatever its size and slicing, through RunBatch and through polling.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mooncake/common/crc32c.h"
#include "mooncake/transfer/transfer_engine.h"
#include "testing/temp_dir.h"
#include "transfer/batch_runner.h"
#include "transfer/transfer_engine_impl.h"

namespace mooncake::transfer {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kSliceSize = 64 << 10;
constexpr size_t kBufferSize = 8 << 20;
constexpr auto kTimeout = std::chrono::seconds(10);
// Never a CRC these tests expect: a value left untouched stays this.
constexpr uint32_t kUntouched = 0xdeadbeef;

struct Path {
  const char* name;
  const char* protocol;   // both engines
  bool target_shareable;  // false: shared memory moves the target's memory with process_vm
  const char* shm_stat;   // the ShmStats counter that must have moved the bytes, or null
};

void PrintTo(const Path& path, std::ostream* os) { *os << path.name; }

const Path kPaths[] = {
    {"Tcp", "tcp", true, nullptr},
    {"ShmMemcpy", "shm", true, "memcpy"},
    {"ShmProcessVm", "shm", false, "process_vm"},
};

class TransferEngineCrcTest : public ::testing::TestWithParam<Path> {
 protected:
  void SetUp() override {
    target_ = Engine(GetParam().target_shareable);
    initiator_ = Engine(true);
    ASSERT_TRUE(target_ && initiator_);
    remote_ = static_cast<char*>(target_->AllocateBuffer(kBufferSize).value());
    local_ = static_cast<char*>(initiator_->AllocateBuffer(kBufferSize).value());
    auto handle = initiator_->OpenSegment(target_->local_server_name());
    ASSERT_TRUE(handle.ok()) << handle.status().ToString();
    handle_ = *handle;
    std::mt19937_64 rng(GetParam().target_shareable ? 1 : 2);
    for (size_t i = 0; i < kBufferSize; ++i) remote_[i] = static_cast<char>(rng());
  }

  std::unique_ptr<TransferEngine> Engine(bool shareable) {
    TransferEngineOptions options;
    options.local_server_name = "127.0.0.1:0";
    options.protocol = GetParam().protocol;
    options.shareable_buffers = shareable;
    options.slice_size = kSliceSize;  // small, so that requests are cut into many slices
    options.prefault_buffers = false;
    auto engine = TransferEngine::Create(options);
    EXPECT_TRUE(engine.ok()) << engine.status().ToString();
    return engine.ok() ? std::move(*engine) : nullptr;
  }

  TransferRequest Read(uint64_t local_offset, uint64_t remote_offset, uint64_t length,
                       uint32_t* crc) const {
    TransferRequest r{TransferOpcode::kRead, local_ + local_offset, handle_,
                      reinterpret_cast<uint64_t>(remote_) + remote_offset, length};
    r.crc32c = crc;
    return r;
  }

  // The bytes moved by the transport this path is about (none for TCP: it has no counter).
  uint64_t ShmBytes() const {
    if (GetParam().shm_stat == nullptr) return 0;
    const shm::ShmStats s = dynamic_cast<TransferEngineImpl&>(*initiator_).shm_stats();
    return std::string(GetParam().shm_stat) == "memcpy" ? s.memcpy_bytes : s.process_vm_bytes;
  }

  std::unique_ptr<TransferEngine> target_;
  std::unique_ptr<TransferEngine> initiator_;
  char* remote_ = nullptr;
  char* local_ = nullptr;
  SegmentHandle handle_ = 0;
};

// 1 MiB + 3 starting 5 bytes into a slice of the target, and around one slice.
const uint64_t kSizes[] = {1, kSliceSize - 1, kSliceSize, kSliceSize + 1, (1 << 20) + 3};

TEST_P(TransferEngineCrcTest, EachReadReportsTheCrcOfWhatItDelivered) {
  for (uint64_t size : kSizes) {
    SCOPED_TRACE(size);
    std::memset(local_, 0, size);
    uint32_t crc = kUntouched;
    const TransferRequest r = Read(0, 5, size, &crc);
    const std::vector<Status> results = RunBatch(*initiator_, {&r, 1}, kTimeout);
    ASSERT_TRUE(results[0].ok()) << results[0].ToString();
    ASSERT_EQ(std::memcmp(local_, remote_ + 5, size), 0);
    EXPECT_EQ(crc, Crc32c(local_, size));
  }
  if (GetParam().shm_stat != nullptr) {
    EXPECT_GT(ShmBytes(), 0u) << "moved by another transport";
  }
}

TEST_P(TransferEngineCrcTest, ManyReadsInOneBatchEachGetTheirOwn) {
  // Every size twice, at scattered offsets, plus reads without a CRC and a write in between:
  // slices of all of them complete interleaved on the I/O threads.
  std::vector<TransferRequest> requests;
  std::vector<uint32_t> crcs(2 * std::size(kSizes), kUntouched);
  uint64_t local_at = 0;
  uint64_t remote_at = 0;
  for (size_t i = 0; i < crcs.size(); ++i) {
    const uint64_t size = kSizes[i % std::size(kSizes)];
    requests.push_back(Read(local_at, remote_at, size, &crcs[i]));
    requests.push_back(Read(local_at + size, remote_at, 100, nullptr));
    local_at += size + 100 + 7;
    remote_at += size / 2 + 13;
  }
  const uint64_t write_from = local_at;
  std::memset(local_ + write_from, 'w', 1000);
  requests.push_back({TransferOpcode::kWrite, local_ + write_from, handle_,
                      reinterpret_cast<uint64_t>(remote_) + kBufferSize - 1000, 1000});
  ASSERT_LT(local_at + 1000, kBufferSize);

  const std::vector<Status> results = RunBatch(*initiator_, requests, kTimeout);
  for (size_t i = 0; i < results.size(); ++i) ASSERT_TRUE(results[i].ok()) << i;
  for (size_t i = 0; i < crcs.size(); ++i) {
    const TransferRequest& r = requests[2 * i];
    EXPECT_EQ(crcs[i], Crc32c(r.source, r.length)) << "read " << i << " of " << r.length;
    EXPECT_EQ(std::memcmp(r.source, reinterpret_cast<const char*>(r.target_offset), r.length), 0);
  }
  EXPECT_EQ(remote_[kBufferSize - 1], 'w');
}

// The raw API: whoever sees a task COMPLETED through GetTransferStatus sees its CRC.
TEST_P(TransferEngineCrcTest, PollingSeesTheCrcOnceATaskIsCompleted) {
  std::vector<uint32_t> crcs(std::size(kSizes), kUntouched);
  std::vector<TransferRequest> requests;
  uint64_t local_at = 0;
  for (size_t i = 0; i < crcs.size(); ++i) {
    requests.push_back(Read(local_at, 3 * i, kSizes[i], &crcs[i]));
    local_at += kSizes[i];
  }
  const BatchId batch = initiator_->AllocateBatchId(requests.size()).value();
  ASSERT_TRUE(initiator_->SubmitTransfer(batch, requests).ok());
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  for (size_t i = 0; i < requests.size(); ++i) {
    TransferStatus status;
    do {
      status = initiator_->GetTransferStatus(batch, i).value();
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "task " << i << " unfinished";
    } while (status.state != TransferState::kCompleted && status.state != TransferState::kFailed);
    ASSERT_EQ(status.state, TransferState::kCompleted) << status.error.ToString();
    EXPECT_EQ(crcs[i], Crc32c(requests[i].source, requests[i].length)) << "task " << i;
  }
  EXPECT_TRUE(initiator_->FreeBatchId(batch).ok());
}

TEST_P(TransferEngineCrcTest, AnEmptyReadReportsTheCrcOfNothing) {
  uint32_t crc = kUntouched;
  const TransferRequest r = Read(0, 0, 0, &crc);
  ASSERT_TRUE(RunBatch(*initiator_, {&r, 1}, kTimeout)[0].ok());
  EXPECT_EQ(crc, 0u);
}

TEST_P(TransferEngineCrcTest, AWriteWithACrcIsRefusedAndStartsNothing) {
  uint32_t crc = kUntouched;
  uint32_t read_crc = kUntouched;
  std::memset(local_, 'x', 4096);
  TransferRequest write{TransferOpcode::kWrite, local_, handle_,
                        reinterpret_cast<uint64_t>(remote_), 4096};
  write.crc32c = &crc;
  // The whole call is refused, the read beside it included.
  const TransferRequest requests[] = {Read(8192, 0, 10, &read_crc), write};
  const BatchId batch = initiator_->AllocateBatchId(2).value();
  const Status refused = initiator_->SubmitTransfer(batch, requests);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidParams) << refused.ToString();
  EXPECT_THAT(refused.message(), HasSubstr("crc32c"));
  EXPECT_TRUE(initiator_->FreeBatchId(batch).ok());
  EXPECT_NE(remote_[0], 'x');
  EXPECT_EQ(crc, kUntouched);
  EXPECT_EQ(read_crc, kUntouched);
  // Through RunBatch the same refusal is each request's status.
  const std::vector<Status> results = RunBatch(*initiator_, {&write, 1}, kTimeout);
  EXPECT_EQ(results[0].code(), StatusCode::kInvalidParams);
}

TEST_P(TransferEngineCrcTest, AFailedReadLeavesTheValueUntouched) {
  // A second buffer, freed after the initiator learnt of it: the initiator still sends reads
  // there, and the target (or its shared-memory control table) refuses them.
  char* doomed = static_cast<char*>(target_->AllocateBuffer(1 << 20).value());
  ASSERT_TRUE(initiator_->CloseSegment(handle_).ok());
  handle_ = initiator_->OpenSegment(target_->local_server_name()).value();
  ASSERT_GE(initiator_->GetSegmentDescriptor(handle_).value().FindBuffer(
                reinterpret_cast<uint64_t>(doomed), 1 << 20),
            0);
  ASSERT_TRUE(target_->FreeBuffer(doomed).ok());
  uint32_t failed_crc = kUntouched;
  uint32_t good_crc = kUntouched;
  TransferRequest bad = Read(0, 0, 3 * kSliceSize + 1, &failed_crc);
  bad.target_offset = reinterpret_cast<uint64_t>(doomed);
  const TransferRequest requests[] = {bad, Read(1 << 20, 0, 1000, &good_crc)};
  const std::vector<Status> results = RunBatch(*initiator_, requests, kTimeout);
  EXPECT_FALSE(results[0].ok());
  EXPECT_EQ(failed_crc, kUntouched);
  ASSERT_TRUE(results[1].ok()) << results[1].ToString();
  EXPECT_EQ(good_crc, Crc32c(local_ + (1 << 20), 1000));
}

INSTANTIATE_TEST_SUITE_P(AllPaths, TransferEngineCrcTest, ::testing::ValuesIn(kPaths),
                         [](const auto& info) { return std::string(info.param.name); });

// File segments: the engine's own (io_uring, no socket: the fallback computes the CRC) and
// another engine's (served over TCP, checksummed as received).
TEST(TransferEngineCrcFileTest, ReadsOfFileSegmentsReportTheirCrc) {
  auto dir = testing::TempDir::Create("mc_crc_file").value();
  TransferEngineOptions options;
  options.local_server_name = "127.0.0.1:0";
  options.protocol = "tcp";
  options.slice_size = kSliceSize;
  options.prefault_buffers = false;
  auto owner = TransferEngine::Create(options).value();
  auto reader = TransferEngine::Create(options).value();
  constexpr uint64_t kFileSize = 2 << 20;
  const uint64_t base = owner->RegisterFileSegment("f", dir.File("f"), kFileSize).value();
  char* owner_memory = static_cast<char*>(owner->AllocateBuffer(kFileSize).value());
  char* reader_memory = static_cast<char*>(reader->AllocateBuffer(kFileSize).value());
  std::mt19937_64 rng(3);
  for (uint64_t i = 0; i < kFileSize; ++i) owner_memory[i] = static_cast<char>(rng());
  const SegmentHandle self = owner->OpenSegment(owner->local_server_name()).value();
  const TransferRequest fill{TransferOpcode::kWrite, owner_memory, self, base, kFileSize};
  ASSERT_TRUE(RunBatch(*owner, {&fill, 1}, kTimeout)[0].ok());

  const SegmentHandle remote = reader->OpenSegment(owner->local_server_name()).value();
  for (uint64_t size : kSizes) {
    SCOPED_TRACE(size);
    uint32_t own_crc = kUntouched;
    uint32_t remote_crc = kUntouched;
    TransferRequest own{TransferOpcode::kRead, owner_memory, self, base + 11, size};
    own.crc32c = &own_crc;
    TransferRequest over_tcp{TransferOpcode::kRead, reader_memory, remote, base + 11, size};
    over_tcp.crc32c = &remote_crc;
    std::memset(owner_memory, 0, size);
    ASSERT_TRUE(RunBatch(*owner, {&own, 1}, kTimeout)[0].ok());
    ASSERT_TRUE(RunBatch(*reader, {&over_tcp, 1}, kTimeout)[0].ok());
    ASSERT_EQ(std::memcmp(owner_memory, reader_memory, size), 0);
    EXPECT_EQ(own_crc, Crc32c(owner_memory, size));
    EXPECT_EQ(remote_crc, Crc32c(reader_memory, size));
  }
}

}  // namespace
}  // namespace mooncake::transfer
