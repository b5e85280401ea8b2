// The node's copy worker against real Transfer Engines on loopback: bytes land in the
// segment exactly, a checksum that does not match (a wrong or changed source) is a failure,
// ranges from the network are checked before memory is touched, and the queue is bounded.
#include "node/copy_worker.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <random>
#include <vector>

#include "mooncake/common/crc32c.h"
#include "mooncake/transfer/transfer_engine.h"
#include "testing/temp_dir.h"
#include "testing/wait_until.h"

namespace mooncake::node {
namespace {

using std::chrono::milliseconds;

constexpr uint64_t kSegmentBytes = 4 << 20;
// Longest a test waits for copies on loopback that take milliseconds.
constexpr std::chrono::seconds kBound{20};

std::unique_ptr<transfer::TransferEngine> Engine() {
  transfer::TransferEngineOptions options;
  options.local_server_name = "127.0.0.1:0";
  options.protocol = "tcp";
  auto engine = transfer::TransferEngine::Create(options);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? std::move(*engine) : nullptr;
}

void Fill(uint8_t* data, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(rng());
}

class CopyWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_engine_ = Engine();
    node_engine_ = Engine();
    ASSERT_NE(source_engine_, nullptr);
    ASSERT_NE(node_engine_, nullptr);
    source_ = static_cast<uint8_t*>(source_engine_->AllocateBuffer(kSegmentBytes).value());
    segment_ = static_cast<uint8_t*>(node_engine_->AllocateBuffer(kSegmentBytes).value());
    Fill(source_, kSegmentBytes, 1);
    std::memset(segment_, 0, kSegmentBytes);
    destination_ = {node_engine_->local_server_name(), reinterpret_cast<uint64_t>(segment_),
                    kSegmentBytes};
  }

  std::unique_ptr<CopyWorker> Worker(CopyWorkerOptions options = {},
                                     std::function<void()> on_result = {}) {
    auto worker = CopyWorker::Create(*node_engine_, destination_, options, std::move(on_result));
    EXPECT_TRUE(worker.ok()) << worker.status().ToString();
    return worker.ok() ? std::move(*worker) : nullptr;
  }

  // A task copying `size` bytes from source offset `from` to segment offset `to`.
  CopyTask Task(uint64_t id, uint64_t from, uint64_t to, uint64_t size) {
    CopyTask task;
    task.task_id = id;
    task.key = "key-" + std::to_string(id);
    task.size = size;
    task.checksum = Crc32c(source_ + from, size);
    const uint64_t length = std::max<uint64_t>(size, 1);
    task.source = {source_engine_->local_server_name(), reinterpret_cast<uint64_t>(source_) + from,
                   length};
    task.destination = {destination_.name, destination_.base + to, length};
    task.timeout = milliseconds(5000);
    return task;
  }

  bool Copied(uint64_t from, uint64_t to, uint64_t size) const {
    return std::memcmp(source_ + from, segment_ + to, size) == 0;
  }

  std::unique_ptr<transfer::TransferEngine> source_engine_;
  std::unique_ptr<transfer::TransferEngine> node_engine_;
  uint8_t* source_ = nullptr;
  uint8_t* segment_ = nullptr;
  CopyDestination destination_;
};

TEST_F(CopyWorkerTest, CopiesTheSourceBytesStraightIntoTheSegment) {
  auto worker = Worker();
  ASSERT_NE(worker, nullptr);
  // Unaligned, multi-slice (the engine cuts at 1 MiB) and tiny copies.
  EXPECT_TRUE(worker->RunOne(Task(1, 12345, 777, 3 << 20 | 4321)).ok());
  EXPECT_TRUE(Copied(12345, 777, 3 << 20 | 4321));
  EXPECT_TRUE(worker->RunOne(Task(2, 0, kSegmentBytes - 3, 3)).ok());
  EXPECT_TRUE(Copied(0, kSegmentBytes - 3, 3));
}

TEST_F(CopyWorkerTest, AnEmptyObjectNeedsNoTransfer) {
  auto worker = Worker();
  ASSERT_NE(worker, nullptr);
  CopyTask task = Task(1, 0, 0, 0);
  task.source.segment = "127.0.0.1:1";  // never contacted
  EXPECT_TRUE(worker->RunOne(task).ok());
}

TEST_F(CopyWorkerTest, BytesThatDoNotMatchTheChecksumAreAFailure) {
  auto worker = Worker();
  ASSERT_NE(worker, nullptr);
  CopyTask task = Task(1, 4096, 0, 64 << 10);
  task.checksum ^= 1;  // the source holds other bytes than the object (e.g. it restarted)
  Status s = worker->RunOne(task);
  EXPECT_EQ(s.code(), StatusCode::kTransferFail);
  EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s.ToString();
}

TEST_F(CopyWorkerTest, RangesFromTheNetworkAreCheckedBeforeMemoryIsTouched) {
  auto worker = Worker();
  ASSERT_NE(worker, nullptr);
  CopyTask past_end = Task(1, 0, kSegmentBytes - 10, 11);
  EXPECT_EQ(worker->RunOne(past_end).code(), StatusCode::kInvalidParams);
  CopyTask below = Task(2, 0, 0, 100);
  below.destination.address = destination_.base - 64;
  EXPECT_EQ(worker->RunOne(below).code(), StatusCode::kInvalidParams);
  CopyTask wrapping = Task(3, 0, 0, 100);
  wrapping.destination.address = ~uint64_t{0} - 10;
  EXPECT_EQ(worker->RunOne(wrapping).code(), StatusCode::kInvalidParams);
  CopyTask elsewhere = Task(4, 0, 0, 100);
  elsewhere.destination.segment = "127.0.0.1:2";
  EXPECT_EQ(worker->RunOne(elsewhere).code(), StatusCode::kInvalidParams);
  CopyTask oversized = Task(5, 0, 0, 100);
  oversized.size = oversized.destination.length + 1;
  EXPECT_EQ(worker->RunOne(oversized).code(), StatusCode::kInvalidParams);
  for (uint64_t i = 0; i < kSegmentBytes; ++i) ASSERT_EQ(segment_[i], 0) << "byte " << i;
}

TEST_F(CopyWorkerTest, AnUnreachableSourceIsAFailureNamingIt) {
  auto worker = Worker();
  ASSERT_NE(worker, nullptr);
  CopyTask task = Task(1, 0, 0, 4096);
  task.source.segment = "127.0.0.1:1";
  Status s = worker->RunOne(task);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("127.0.0.1:1"), std::string::npos) << s.ToString();
}

TEST_F(CopyWorkerTest, SubmittedTasksRunInParallelAndReportOnce) {
  std::atomic<int> notified{0};
  testing::WaitSignal reported;
  CopyWorkerOptions options;
  options.parallelism = 3;
  auto worker = Worker(options, [&] {
    ++notified;
    reported.Notify();
  });
  ASSERT_NE(worker, nullptr);
  std::vector<CopyTask> tasks;
  for (uint64_t i = 0; i < 12; ++i) tasks.push_back(Task(i + 1, i * 65536, i * 65536, 60000));
  tasks[5].checksum ^= 1;
  tasks.push_back(tasks[0]);  // the same task twice: run once
  worker->Submit(tasks);
  std::vector<CopyResult> results;
  reported.WaitUntil(
      [&] {
        for (CopyResult& r : worker->TakeResults()) results.push_back(std::move(r));
        return results.size() >= 12;
      },
      kBound);
  ASSERT_EQ(results.size(), 12u);
  for (const CopyResult& r : results) {
    EXPECT_EQ(r.status.ok(), r.task_id != 6) << r.task_id << ": " << r.status.ToString();
  }
  // Reports are coalesced: results that end while one is under way share the next.
  EXPECT_GE(notified.load(), 1);
  EXPECT_LE(notified.load(), 12);
  const CopyWorker::Stats stats = worker->stats();
  EXPECT_EQ(stats.copies_ok, 11u);
  EXPECT_EQ(stats.copies_failed, 1u);
  EXPECT_EQ(stats.bytes_copied, 11u * 60000);
  for (uint64_t i = 0; i < 12; ++i) {
    if (i != 5) {
      EXPECT_TRUE(Copied(i * 65536, i * 65536, 60000)) << i;
    }
  }
  // A result whose report failed is put back and taken again.
  worker->PutBack({results[0]});
  EXPECT_EQ(worker->TakeResults().size(), 1u);
}

TEST_F(CopyWorkerTest, AReportUnderWayHoldsBackNoCopyAndTheNextCarriesWhatEndedMeanwhile) {
  std::atomic<int> calls{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  testing::WaitSignal reported;
  CopyWorkerOptions options;
  options.parallelism = 1;  // a report made on the copy thread would stall every copy
  auto worker = Worker(options, [&] {
    ++calls;
    reported.Notify();
    if (calls == 1) released.wait();  // the first report hangs (a slow master)
  });
  ASSERT_NE(worker, nullptr);
  worker->Submit({Task(1, 0, 0, 60000)});
  // Tasks 2 and 3 start only once the first report is under way, so they surely end during
  // it (submitted together, all three could end before the reporting thread woke up).
  EXPECT_TRUE(reported.WaitUntil([&] { return calls.load() == 1; }, kBound));
  worker->Submit({Task(2, 65536, 65536, 60000), Task(3, 131072, 131072, 60000)});
  // Nothing reports the copies that end while the report hangs: their counter is polled.
  EXPECT_TRUE(testing::PollUntil([&] { return worker->stats().copies_ok == 3; }, kBound))
      << "copies waited for the report";
  EXPECT_EQ(calls.load(), 1);
  release.set_value();
  EXPECT_TRUE(reported.WaitUntil([&] { return calls.load() >= 2; }, kBound));
  // Tasks 2 and 3 ended during the first report: one more report, for both.
  worker->Stop();
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(worker->TakeResults().size(), 3u);
}

TEST_F(CopyWorkerTest, TheQueueIsBoundedAndQuiesceDropsWhatWaits) {
  testing::WaitSignal reported;
  CopyWorkerOptions options;
  options.parallelism = 1;
  options.max_queued = 4;
  auto worker = Worker(options, [&] { reported.Notify(); });
  ASSERT_NE(worker, nullptr);
  std::vector<CopyTask> tasks;
  for (uint64_t i = 0; i < 40; ++i) tasks.push_back(Task(i + 1, 0, i * 65536, 60000));
  worker->Submit(tasks);
  // At most one running plus four queued were taken; the rest were refused at once.
  EXPECT_TRUE(worker->Quiesce(std::chrono::seconds(10)));
  EXPECT_TRUE(worker->TakeResults().empty()) << "results survived a quiesce";
  const CopyWorker::Stats stats = worker->stats();
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.running, 0u);
  EXPECT_GE(stats.copies_failed, 35u);
  // Still usable afterwards.
  worker->Submit({Task(100, 0, 0, 1000)});
  std::vector<CopyResult> results;
  reported.WaitUntil(
      [&] {
        results = worker->TakeResults();
        return !results.empty();
      },
      kBound);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].status.ok()) << results[0].status.ToString();
}

TEST_F(CopyWorkerTest, BadOptionsAreRefused) {
  CopyWorkerOptions options;
  options.parallelism = 0;
  EXPECT_EQ(CopyWorker::Create(*node_engine_, destination_, options).status().code(),
            StatusCode::kInvalidParams);
  EXPECT_EQ(CopyWorker::Create(*node_engine_, CopyDestination{}, {}).status().code(),
            StatusCode::kInvalidParams);
}

// ---- SSD destinations: the node's own file segment ------------------------------------------

class CopyWorkerFileTest : public CopyWorkerTest {
 protected:
  void SetUp() override {
    CopyWorkerTest::SetUp();
    auto dir = testing::TempDir::Create("mc_copy_file");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    path_ = dir_->File("ssd");
    auto base = node_engine_->RegisterFileSegment("ssd", path_, kFileBytes);
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    file_ = {node_engine_->local_server_name() + "/ssd", *base, kFileBytes,
             CopyDestination::Kind::kFileSegment};
  }

  std::unique_ptr<CopyWorker> FileWorker() {
    auto worker = CopyWorker::Create(*node_engine_, {destination_, file_}, {});
    EXPECT_TRUE(worker.ok()) << worker.status().ToString();
    return worker.ok() ? std::move(*worker) : nullptr;
  }

  std::vector<uint8_t> FileBytes(uint64_t offset, uint64_t n) const {
    std::vector<uint8_t> bytes(n);
    const int fd = ::open(path_.c_str(), O_RDONLY);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::pread(fd, bytes.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
    ::close(fd);
    return bytes;
  }

  static constexpr uint64_t kFileBytes = 16 << 20;
  std::unique_ptr<testing::TempDir> dir_;
  std::string path_;
  CopyDestination file_;
};

TEST_F(CopyWorkerFileTest, CopiesARemoteSourceIntoTheFileThroughABounceBuffer) {
  auto worker = FileWorker();
  ASSERT_NE(worker, nullptr);
  // Larger than one bounce buffer (4 MiB) and not a block multiple.
  constexpr uint64_t kSize = (5 << 20) + 123;
  auto* big = static_cast<uint8_t*>(source_engine_->AllocateBuffer(kSize + 1000).value());
  Fill(big, kSize + 1000, 5);
  CopyTask task;
  task.task_id = 1;
  task.key = "big";
  task.size = kSize;
  task.checksum = Crc32c(big + 1000, kSize);
  task.source = {source_engine_->local_server_name(), reinterpret_cast<uint64_t>(big) + 1000,
                 kSize};
  task.destination = {file_.name, file_.base + 8192, kSize};
  task.timeout = milliseconds(10000);
  Status s = worker->RunOne(task);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::vector<uint8_t> bytes = FileBytes(8192, kSize);
  EXPECT_EQ(std::memcmp(bytes.data(), big + 1000, kSize), 0);
  // The block padding after the object is zeroed, not left over.
  const std::vector<uint8_t> tail = FileBytes(8192 + kSize, 4096 - kSize % 4096);
  EXPECT_EQ(std::count(tail.begin(), tail.end(), 0), static_cast<long>(tail.size()));
}

TEST_F(CopyWorkerFileTest, ALocalDramSourceIsReadInPlace) {
  auto worker = FileWorker();
  ASSERT_NE(worker, nullptr);
  Fill(segment_, 64 << 10, 9);
  CopyTask task;
  task.task_id = 2;
  task.key = "local";
  task.size = 64 << 10;
  task.checksum = Crc32c(segment_, task.size);
  task.source = {destination_.name, destination_.base, task.size};
  task.destination = {file_.name, file_.base + 4096, task.size};
  task.timeout = milliseconds(5000);
  Status s = worker->RunOne(task);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(FileBytes(4096, task.size), std::vector<uint8_t>(segment_, segment_ + task.size));
}

TEST_F(CopyWorkerFileTest, ABadChecksumOrRangeNeverLandsWhole) {
  auto worker = FileWorker();
  ASSERT_NE(worker, nullptr);
  CopyTask task = Task(3, 0, 0, 8192);
  task.destination = {file_.name, file_.base + 4096, 8192};
  task.checksum ^= 1;
  Status s = worker->RunOne(task);
  EXPECT_EQ(s.code(), StatusCode::kTransferFail);
  EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s.ToString();
  EXPECT_EQ(FileBytes(4096, 8192), std::vector<uint8_t>(8192, 0)) << "bytes landed anyway";
  CopyTask past_end = Task(4, 0, 0, 8192);
  past_end.destination = {file_.name, file_.base + kFileBytes - 4096, 8192};
  EXPECT_EQ(worker->RunOne(past_end).code(), StatusCode::kInvalidParams);
  CopyTask unknown = Task(5, 0, 0, 10);
  unknown.destination.segment = "elsewhere/ssd";
  EXPECT_EQ(worker->RunOne(unknown).code(), StatusCode::kInvalidParams);
}

}  // namespace
}  // namespace mooncake::node
