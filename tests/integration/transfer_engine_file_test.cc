// File segments through the whole engine: a peer reads and writes another engine's file
// segment over every protocol (file slices always travel over TCP), the owner reaches its own
// file straight through io_uring, and failures (range past the end, file truncated under a
// reader, segment unregistered) come back as clear task errors.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "testing/temp_dir.h"
#include "transfer/transfer_engine_impl.h"
#include "transfer_test_support.h"

namespace mooncake::integration {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1 << 20;
// Deliberately not a multiple of 4 KiB: the last block of the file is partial.
constexpr uint64_t kFileSize = 8 * kMiB + 123;

std::vector<char> FileBytes(const std::string& path, uint64_t offset, uint64_t length) {
  std::vector<char> out(length);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::pread(fd, out.data(), length, static_cast<off_t>(offset)),
            static_cast<ssize_t>(length));
  ::close(fd);
  return out;
}

// Parameter: the reader's protocol. The owner runs "ucx" for a ucx reader, "auto" otherwise.
class TransferEngineFileTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    Status available = ProtocolAvailable(GetParam());
    if (!available.ok()) GTEST_SKIP() << available.ToString();
    auto dir = testing::TempDir::Create("mc_te_file");
    MC_ASSERT_OK(dir);
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    path_ = dir_->File("seg.bin");
    content_ = RandomBytes(kFileSize, 77);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, content_.data(), kFileSize, 0), static_cast<ssize_t>(kFileSize));
    ::close(fd);

    transfer::TransferEngineOptions owner_options;
    owner_options.protocol = TargetProtocolFor(GetParam()).empty() ? "auto" : "ucx";
    auto owner = StartInitiator(owner_options);
    MC_ASSERT_OK(owner);
    owner_ = std::move(*owner);
    auto base = owner_->RegisterFileSegment("ssd", path_, kFileSize);
    MC_ASSERT_OK(base);
    base_ = *base;

    transfer::TransferEngineOptions reader_options;
    reader_options.protocol = GetParam();
    auto reader = StartInitiator(reader_options);
    MC_ASSERT_OK(reader);
    reader_ = std::move(*reader);
    auto handle = reader_->OpenSegment(owner_->local_server_name());
    MC_ASSERT_OK(handle);
    handle_ = *handle;
    auto local = reader_->AllocateBuffer(kFileSize + 8192);
    MC_ASSERT_OK(local);
    local_ = static_cast<char*>(*local);
  }

  void TearDown() override {
    if (reader_) DestroyWithin(std::move(reader_), seconds(15));
    if (owner_) DestroyWithin(std::move(owner_), seconds(15));
  }

  transfer::file::FileIoStats OwnerFileStats() {
    return static_cast<transfer::TransferEngineImpl*>(owner_.get())->file_stats();
  }

  std::unique_ptr<testing::TempDir> dir_;
  std::string path_;
  std::vector<char> content_;
  std::unique_ptr<transfer::TransferEngine> owner_;
  std::unique_ptr<transfer::TransferEngine> reader_;
  uint64_t base_ = 0;
  transfer::SegmentHandle handle_ = 0;
  char* local_ = nullptr;
};

TEST_P(TransferEngineFileTest, DescriptorNamesTheFileSegment) {
  auto descriptor = reader_->GetSegmentDescriptor(handle_);
  MC_ASSERT_OK(descriptor);
  int index = descriptor->FindFileSegment("ssd");
  ASSERT_GE(index, 0);
  EXPECT_EQ(descriptor->buffers[index].address, base_);
  EXPECT_EQ(descriptor->buffers[index].length, kFileSize);
  EXPECT_EQ(descriptor->buffers[index].location, "file:ssd");
  EXPECT_TRUE(descriptor->buffers[index].ucx_rkey.empty());
}

TEST_P(TransferEngineFileTest, RemoteReadsAlignedUnalignedAndWhole) {
  struct Range {
    uint64_t offset, length;
  };
  for (Range r : {Range{0, kMiB}, Range{4097, 300000}, Range{kFileSize - 123, 123},
                  Range{0, kFileSize}, Range{1, 1}}) {
    std::memset(local_ + 1, 0, r.length);
    transfer::TransferRequest read{transfer::TransferOpcode::kRead, local_ + 1, handle_,
                                   base_ + r.offset, r.length};
    MC_ASSERT_OK(RunBatch(*reader_, {&read, 1}));
    EXPECT_EQ(std::memcmp(local_ + 1, content_.data() + r.offset, r.length), 0)
        << "range " << r.offset << "+" << r.length;
  }
  EXPECT_GE(OwnerFileStats().reads, 5u) << "the owner did not serve from its file";
}

TEST_P(TransferEngineFileTest, RemoteWritesLandInTheFileAndSpareTheirNeighbours) {
  std::vector<char> data = RandomBytes(70000, 5);
  std::memcpy(local_, data.data(), data.size());
  transfer::TransferRequest writes[2] = {
      {transfer::TransferOpcode::kWrite, local_, handle_, base_ + 12345, 70000},
      {transfer::TransferOpcode::kWrite, local_ + 100, handle_, base_ + 2 * kMiB, 4096}};
  MC_ASSERT_OK(RunBatch(*reader_, writes));
  std::vector<char> expected = content_;
  std::memcpy(expected.data() + 12345, data.data(), 70000);
  std::memcpy(expected.data() + 2 * kMiB, data.data() + 100, 4096);
  EXPECT_EQ(FileBytes(path_, 0, kFileSize), expected);
  EXPECT_EQ(OwnerFileStats().bytes_written, 70000u + 4096u);
}

TEST_P(TransferEngineFileTest, ManyConcurrentReadersInOneBatchAndAcrossThreads) {
  constexpr int kThreads = 3;
  constexpr int kPerThread = 24;
  constexpr uint64_t kLength = 100000;
  std::vector<std::thread> threads;
  std::vector<Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<transfer::TransferRequest> batch;
      for (int i = 0; i < kPerThread; ++i) {
        const uint64_t offset =
            (static_cast<uint64_t>(t * kPerThread + i) * 77777) % (kFileSize - kLength);
        batch.push_back({transfer::TransferOpcode::kRead, local_ + (t * kPerThread + i) * kLength,
                         handle_, base_ + offset, kLength});
      }
      results[t] = RunBatch(*reader_, batch);
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    MC_ASSERT_OK(results[t]);
    for (int i = 0; i < kPerThread; ++i) {
      const uint64_t offset =
          (static_cast<uint64_t>(t * kPerThread + i) * 77777) % (kFileSize - kLength);
      ASSERT_EQ(
          std::memcmp(local_ + (t * kPerThread + i) * kLength, content_.data() + offset, kLength),
          0)
          << "thread " << t << " request " << i;
    }
  }
}

TEST_P(TransferEngineFileTest, RangePastTheEndIsRefusedBeforeAnythingMoves) {
  const uint64_t writes_before = OwnerFileStats().writes;
  transfer::TransferRequest past{transfer::TransferOpcode::kWrite, local_, handle_,
                                 base_ + kFileSize - 10, 20};
  auto batch = reader_->AllocateBatchId(1);
  MC_ASSERT_OK(batch);
  Status s = reader_->SubmitTransfer(*batch, {&past, 1});
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("outside the registered buffers"));
  MC_ASSERT_OK(reader_->FreeBatchId(*batch));
  EXPECT_EQ(OwnerFileStats().writes, writes_before);
  EXPECT_EQ(FileBytes(path_, kFileSize - 10, 10),
            std::vector<char>(content_.end() - 10, content_.end()));
}

TEST_P(TransferEngineFileTest, FileTruncatedUnderTheReaderFailsTheTask) {
  ASSERT_EQ(::truncate(path_.c_str(), 4096), 0);
  transfer::TransferRequest read{transfer::TransferOpcode::kRead, local_, handle_, base_ + 4 * kMiB,
                                 65536};
  Status s = RunBatch(*reader_, {&read, 1});
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("truncated")) << s.ToString();
  // The owner is fine: what is still in the file reads as before.
  transfer::TransferRequest head{transfer::TransferOpcode::kRead, local_, handle_, base_, 4096};
  MC_ASSERT_OK(RunBatch(*reader_, {&head, 1}));
  EXPECT_EQ(std::memcmp(local_, content_.data(), 4096), 0);
}

TEST_P(TransferEngineFileTest, UnregisteredFileSegmentIsNoLongerServed) {
  MC_ASSERT_OK(owner_->UnregisterFileSegment("ssd"));
  transfer::TransferRequest read{transfer::TransferOpcode::kRead, local_, handle_, base_, 4096};
  // The reader's cached descriptor still lists the file: the owner refuses the request.
  Status s = RunBatch(*reader_, {&read, 1});
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("outside the registered buffers")) << s.ToString();
  EXPECT_EQ(owner_->UnregisterFileSegment("ssd").code(), StatusCode::kSegmentNotFound);
}

TEST_P(TransferEngineFileTest, OwnerReachesItsOwnFileWithoutASocket) {
  auto self = owner_->OpenSegment(owner_->local_server_name());
  MC_ASSERT_OK(self);
  auto buffer = owner_->AllocateBuffer(2 * kMiB);
  MC_ASSERT_OK(buffer);
  char* mine = static_cast<char*>(*buffer);
  std::memcpy(mine, "local write", 11);
  transfer::TransferRequest requests[2] = {
      {transfer::TransferOpcode::kRead, mine + 4096, *self, base_ + 777, kMiB},
      {transfer::TransferOpcode::kWrite, mine, *self, base_ + 5 * kMiB + 3, 11}};
  MC_ASSERT_OK(RunBatch(*owner_, requests));
  EXPECT_EQ(std::memcmp(mine + 4096, content_.data() + 777, kMiB), 0);
  std::vector<char> written = FileBytes(path_, 5 * kMiB + 3, 11);
  EXPECT_EQ(std::string(written.begin(), written.end()), "local write");
  EXPECT_EQ(OwnerFileStats().reads, 1u);
  EXPECT_EQ(OwnerFileStats().writes, 1u);
}

INSTANTIATE_TEST_SUITE_P(Transports, TransferEngineFileTest,
                         ::testing::Values("tcp", "auto", "shm", "ucx"), TransportName);

}  // namespace
}  // namespace mooncake::integration
