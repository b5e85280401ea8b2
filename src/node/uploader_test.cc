// The node's write-back uploader against a real file:// object store: it uploads only bytes
// whose CRC32C matches the task, skips an upload the store already holds when asked to check
// first, deletes for remove_only tasks, reports every task (including refusals and a missing
// store) and drops results of tasks forgotten on a re-mount.
#include "node/uploader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "mooncake/common/crc32c.h"
#include "testing/temp_dir.h"
#include "testing/wait_until.h"

namespace mooncake::node {
namespace {

// Longest a test waits for uploads to a local directory that take milliseconds.
constexpr std::chrono::seconds kBound{10};

class UploaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::Create("mc_uploader");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    bytes_.resize(5000);
    for (size_t i = 0; i < bytes_.size(); ++i) bytes_[i] = static_cast<char>(i * 7 + 3);
  }

  std::unique_ptr<tier::ObjectStore> OpenStore() {
    tier::ObjectStoreOptions options;
    options.url = "file://" + dir_->path() + "/bucket";
    auto store = tier::ObjectStore::Create(options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // An uploader whose "segment" is bytes_ at address 0x1000 of segment "seg".
  std::unique_ptr<Uploader> Make(std::unique_ptr<tier::ObjectStore> store,
                                 UploaderOptions options = {},
                                 std::function<void()> on_result = {}) {
    auto uploader = Uploader::Create(
        std::move(store), Status::Ok(),
        [this](const Allocation& source, std::span<char> out) {
          reads_.fetch_add(1);
          if (source.segment != "seg" || source.address < 0x1000 ||
              source.address - 0x1000 + out.size() > bytes_.size()) {
            return InvalidParams("not in the segment");
          }
          std::memcpy(out.data(), bytes_.data() + (source.address - 0x1000), out.size());
          return Status::Ok();
        },
        options, std::move(on_result));
    EXPECT_TRUE(uploader.ok()) << uploader.status().ToString();
    return uploader.ok() ? std::move(*uploader) : nullptr;
  }

  UploadTask Task(uint64_t id, const std::string& key, uint64_t size) {
    UploadTask task;
    task.task_id = id;
    task.key = key;
    task.version = 1;
    task.size = size;
    task.checksum = Crc32c(bytes_.data(), size);
    task.source = Allocation{"seg", 0x1000, size};
    return task;
  }

  std::unique_ptr<testing::TempDir> dir_;
  std::vector<char> bytes_;
  std::atomic<int> reads_{0};
};

TEST_F(UploaderTest, UploadsTheReplicasBytesWhenTheirChecksumMatches) {
  auto verify = OpenStore();
  auto uploader = Make(OpenStore());
  ASSERT_TRUE(uploader->RunOne(Task(1, "k", 4000)).ok());
  std::vector<char> stored(4000);
  ASSERT_TRUE(verify->Get("k", 0, stored).ok());
  EXPECT_EQ(std::memcmp(stored.data(), bytes_.data(), stored.size()), 0);
  // An empty object too.
  ASSERT_TRUE(uploader->RunOne(Task(2, "empty", 0)).ok());
  EXPECT_EQ(verify->Head("empty")->size, 0u);
}

TEST_F(UploaderTest, ABadChecksumIsNeverUploaded) {
  auto verify = OpenStore();
  auto uploader = Make(OpenStore());
  UploadTask task = Task(1, "k", 4000);
  task.checksum ^= 1;  // the range was reused since the task was scheduled
  Status status = uploader->RunOne(task);
  EXPECT_EQ(status.code(), StatusCode::kChecksumMismatch) << status.ToString();
  EXPECT_EQ(verify->Head("k").status().code(), StatusCode::kObjectNotFound);
  UploadTask outside = Task(2, "o", 4000);
  outside.source.segment = "other";
  EXPECT_EQ(uploader->RunOne(outside).code(), StatusCode::kInvalidParams);
}

TEST_F(UploaderTest, CheckFirstSkipsAnObjectAlreadyThereAndRemoveOnlyDeletes) {
  auto verify = OpenStore();
  auto uploader = Make(OpenStore());
  ASSERT_TRUE(uploader->RunOne(Task(1, "k", 3000)).ok());
  const int reads = reads_.load();
  UploadTask again = Task(2, "k", 3000);
  again.check_first = true;
  ASSERT_TRUE(uploader->RunOne(again).ok());
  EXPECT_EQ(reads_.load(), reads) << "the same size and CRC32C are there: nothing read";
  UploadTask changed = Task(3, "k", 2000);
  changed.check_first = true;
  ASSERT_TRUE(uploader->RunOne(changed).ok());
  EXPECT_EQ(reads_.load(), reads + 1) << "another object there: uploaded";
  EXPECT_EQ(verify->Head("k")->size, 2000u);
  UploadTask remove;
  remove.task_id = 4;
  remove.key = "k";
  remove.remove_only = true;
  ASSERT_TRUE(uploader->RunOne(remove).ok());
  EXPECT_EQ(verify->Head("k").status().code(), StatusCode::kObjectNotFound);
}

TEST_F(UploaderTest, WithoutAStoreEveryTaskFailsNamingWhy) {
  auto uploader = Uploader::Create(
      nullptr, Status(StatusCode::kRpcFail, "opening object store 's3://x': unreachable"),
      [](const Allocation&, std::span<char>) { return Status::Ok(); }, {});
  ASSERT_TRUE(uploader.ok());
  Status status = (*uploader)->RunOne(Task(1, "k", 10));
  EXPECT_EQ(status.code(), StatusCode::kRpcFail);
  EXPECT_NE(status.message().find("unreachable"), std::string::npos) << status.ToString();
}

TEST_F(UploaderTest, SubmittedTasksAreReportedAndAFullQueueRefuses) {
  UploaderOptions options;
  options.parallelism = 1;
  options.max_queued = 2;
  testing::WaitSignal reported;
  auto uploader = Make(OpenStore(), options, [&] { reported.Notify(); });
  std::vector<UploadTask> tasks;
  for (uint64_t id = 1; id <= 8; ++id) tasks.push_back(Task(id, "k" + std::to_string(id), 4000));
  uploader->Submit(tasks);
  std::vector<UploadResult> results;
  reported.WaitUntil(
      [&] {
        for (UploadResult& r : uploader->TakeResults()) results.push_back(std::move(r));
        return results.size() >= 8;
      },
      kBound);
  ASSERT_EQ(results.size(), 8u) << "every task is reported";
  size_t ok = 0;
  size_t refused = 0;
  for (const UploadResult& r : results) {
    if (r.status.ok()) ++ok;
    if (r.status.code() == StatusCode::kNoAvailableHandle) ++refused;
  }
  EXPECT_GE(refused, 1u) << "8 tasks into a queue of 2 behind 1 runner";
  EXPECT_EQ(ok + refused, 8u);
  const Uploader::Stats stats = uploader->stats();
  EXPECT_EQ(stats.uploads_ok, ok);
  EXPECT_EQ(stats.queued, 0u);
}

TEST_F(UploaderTest, RunningUploadsStayWithinTheMemoryBudget) {
  UploaderOptions options;
  options.parallelism = 4;
  options.memory_budget = 4000;  // one 4000-byte object at a time
  std::atomic<int> reading{0};
  std::atomic<int> most{0};
  testing::WaitSignal entered;
  testing::WaitSignal reported;
  // The first upload to read holds its memory until the test saw what the others do.
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  auto uploader = Uploader::Create(
      OpenStore(), Status::Ok(),
      [&](const Allocation&, std::span<char> out) {
        const int now = ++reading;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        entered.Notify();
        opened.wait();
        std::memcpy(out.data(), bytes_.data(), out.size());
        --reading;
        return Status::Ok();
      },
      options, [&] { reported.Notify(); });
  ASSERT_TRUE(uploader.ok());
  std::vector<UploadTask> tasks;
  for (uint64_t id = 1; id <= 6; ++id) tasks.push_back(Task(id, "m" + std::to_string(id), 4000));
  (*uploader)->Submit(tasks);
  // No ASSERT until the gate is open: the uploader's destructor waits for the reader.
  EXPECT_TRUE(entered.WaitUntil([&] { return reading.load() >= 1; }, kBound));
  // The three other threads took a task each; they wait for memory, not in the reader.
  EXPECT_TRUE(
      testing::PollUntil([&] { return (*uploader)->stats().waiting_for_memory == 3; }, kBound))
      << "waiting for memory: " << (*uploader)->stats().waiting_for_memory;
  EXPECT_EQ(reading.load(), 1);
  gate.set_value();
  size_t done = 0;
  reported.WaitUntil(
      [&] {
        for (const UploadResult& r : (*uploader)->TakeResults()) {
          EXPECT_TRUE(r.status.ok()) << r.status.ToString();
          ++done;
        }
        return done >= 6;
      },
      kBound);
  EXPECT_EQ(done, 6u);
  EXPECT_EQ(most.load(), 1) << "4 threads, but the budget holds one object";
  EXPECT_EQ((*uploader)->stats().waiting_for_memory, 0u);
  // An object larger than the whole budget still runs (alone).
  ASSERT_TRUE((*uploader)->RunOne(Task(9, "big", 5000)).ok());
}

}  // namespace
}  // namespace mooncake::node
