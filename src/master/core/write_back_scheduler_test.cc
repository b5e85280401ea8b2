// WriteBackScheduler on its own, over a real SegmentIndex and ObjectTable (no MasterCore):
// which replica uploads, the per-node cap, a task handed out once, reports from the wrong node,
// the backlog counters, the doubling retry delay, and the delete that follows an upload of an
// object removed meanwhile. The invariants are checked after every step.
#include "master/core/write_back_scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;

class WriteBackSchedulerTest : public ::testing::Test {
 protected:
  WriteBackSchedulerTest() {
    options_.object_tier = ObjectTierPolicy::kWriteBack;
    options_.max_uploads_per_node = 1;
    options_.upload_retry_delay = milliseconds(100);
    dram_a_ = segments_.Add(SegmentSpec{"a", "node-a", 1, Medium::kDram, 0x1000, 1 << 20});
    ssd_a_ = segments_.Add(SegmentSpec{"a/ssd", "node-a", 1, Medium::kSsd, 0x8000000, 1 << 20});
    dram_b_ = segments_.Add(SegmentSpec{"b", "node-b", 1, Medium::kDram, 0x1000, 1 << 20});
  }
  ~WriteBackSchedulerTest() override {
    for (ObjectRecord* record : records_) table_.Erase(record);
  }

  // A visible object of 4 KiB at version 7 with replicas on `segments`, new to write-back.
  ObjectRecord* Object(const std::string& key, std::vector<SegmentId> segments) {
    ObjectRecord* record = table_.Insert(key);
    record->visible = true;
    record->size = 4096;
    record->version = 7;
    uint64_t address = 0x1000 + 0x10000 * records_.size();
    for (SegmentId id : segments) record->AddReplica(ReplicaRecord{address, 4096, id, 0});
    records_.push_back(record);
    scheduler_.OnNewVersion(record, WriteBackScheduler::Origin::kPut);
    return record;
  }
  void ExpectConsistent() {
    Status s = scheduler_.CheckInvariants();
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  MasterCoreOptions options_;
  SegmentIndex segments_;
  ObjectTable table_;
  TaskIds task_ids_{100};
  TierStats stats_;
  WriteBackScheduler scheduler_{{options_, segments_, table_, task_ids_, stats_}};
  SegmentId dram_a_ = 0, ssd_a_ = 0, dram_b_ = 0;
  std::vector<ObjectRecord*> records_;
  const TimePoint t0_{};
};

TEST_F(WriteBackSchedulerTest, UploadsFromDramOncePerTaskAndCountTheBacklog) {
  ObjectRecord* record = Object("k", {ssd_a_, dram_a_});
  EXPECT_EQ(stats_.upload_backlog_objects, 1u);
  EXPECT_EQ(stats_.upload_backlog_bytes, 4096u);
  EXPECT_FALSE(scheduler_.SafeToDrop(*record)) << "its only copy is in the pool";
  ExpectConsistent();

  ASSERT_EQ(scheduler_.Schedule(8, t0_), 1u);
  EXPECT_EQ(scheduler_.Schedule(8, t0_), 0u) << "one upload per object at a time";
  std::vector<UploadTask> tasks = scheduler_.TakeTasks("node-a", 8, t0_);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].source.segment, "a") << "DRAM before SSD: no disk read on the node";
  EXPECT_EQ(tasks[0].version, 7u);
  EXPECT_EQ(tasks[0].task_id, 100u) << "numbered from the shared sequence";
  EXPECT_TRUE(scheduler_.TakeTasks("node-a", 8, t0_).empty()) << "handed out once";
  ExpectConsistent();

  EXPECT_EQ(scheduler_.Complete(tasks[0].task_id, "node-b", Status::Ok(), t0_).code(),
            StatusCode::kInvalidParams);
  ASSERT_TRUE(scheduler_.Complete(tasks[0].task_id, "node-a", Status::Ok(), t0_).ok());
  EXPECT_EQ(scheduler_.Complete(tasks[0].task_id, "node-a", Status::Ok(), t0_).code(),
            StatusCode::kObjectNotFound)
      << "a report is taken once";
  EXPECT_TRUE(record->in_object_store);
  EXPECT_TRUE(scheduler_.SafeToDrop(*record));
  EXPECT_EQ(stats_.upload_backlog_objects, 0u);
  EXPECT_EQ(stats_.object_uploads, 1u);
  EXPECT_EQ(scheduler_.InFlight(), 0u);
  ExpectConsistent();
}

TEST_F(WriteBackSchedulerTest, ANodeTakesAtMostItsCapAndAFailureWaitsADoublingDelay) {
  Object("x", {dram_a_});
  Object("y", {dram_a_});
  EXPECT_EQ(scheduler_.Schedule(8, t0_), 1u) << "max_uploads_per_node = 1";
  std::vector<UploadTask> first = scheduler_.TakeTasks("node-a", 8, t0_);
  ASSERT_EQ(first.size(), 1u);
  const Status down(StatusCode::kTransferFail, "object store unreachable");
  ASSERT_TRUE(scheduler_.Complete(first[0].task_id, "node-a", down, t0_).ok());
  EXPECT_EQ(stats_.object_upload_failures, 1u);
  ExpectConsistent();
  // The other object goes now; the failed one waits 100 ms.
  std::vector<UploadTask> second;
  ASSERT_EQ(scheduler_.Schedule(8, t0_), 1u);
  second = scheduler_.TakeTasks("node-a", 8, t0_);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second[0].key, first[0].key);
  ASSERT_TRUE(scheduler_.Complete(second[0].task_id, "node-a", Status::Ok(), t0_).ok());
  EXPECT_EQ(scheduler_.Schedule(8, t0_ + milliseconds(99)), 0u);
  ASSERT_EQ(scheduler_.Schedule(8, t0_ + milliseconds(100)), 1u);
  std::vector<UploadTask> retry = scheduler_.TakeTasks("node-a", 8, t0_ + milliseconds(100));
  ASSERT_EQ(retry.size(), 1u);
  ASSERT_TRUE(scheduler_.Complete(retry[0].task_id, "node-a", down, t0_ + milliseconds(100)).ok());
  // Second failure: 200 ms after it.
  EXPECT_EQ(scheduler_.Schedule(8, t0_ + milliseconds(299)), 0u);
  EXPECT_EQ(scheduler_.Schedule(8, t0_ + milliseconds(300)), 1u);
  ExpectConsistent();
}

TEST_F(WriteBackSchedulerTest, AnUploadThatLandsAfterItsObjectWentIsFollowedByADelete) {
  ObjectRecord* record = Object("gone", {dram_b_});
  ASSERT_EQ(scheduler_.Schedule(8, t0_), 1u);
  std::vector<UploadTask> tasks = scheduler_.TakeTasks("node-b", 8, t0_);
  ASSERT_EQ(tasks.size(), 1u);
  // Removed while the node uploads: the record goes, the upload is orphaned.
  scheduler_.Forget(record);
  table_.Erase(record);
  records_.clear();
  EXPECT_EQ(stats_.upload_backlog_objects, 0u);
  ExpectConsistent();
  ASSERT_TRUE(scheduler_.Complete(tasks[0].task_id, "node-b", Status::Ok(), t0_).ok());
  std::vector<UploadTask> cleanup = scheduler_.TakeTasks("node-b", 8, t0_);
  ASSERT_EQ(cleanup.size(), 1u);
  EXPECT_TRUE(cleanup[0].remove_only);
  EXPECT_EQ(cleanup[0].key, "gone");
  ASSERT_TRUE(scheduler_.Complete(cleanup[0].task_id, "node-b", Status::Ok(), t0_).ok());
  EXPECT_EQ(scheduler_.InFlight(), 0u);
  ExpectConsistent();
}

}  // namespace
}  // namespace mooncake::master
