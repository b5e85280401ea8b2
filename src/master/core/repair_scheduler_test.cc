// RepairScheduler on its own, over a real SegmentPool and SegmentIndex, with a ReplicaKeeper
// that records what the scheduler asks of the object index: a copy to a node holding no
// replica, reports from the wrong node, a cancelled copy keeping its destination until the
// node reports, the retry delay after a failure, and a copy past its deadline. The invariants
// are checked after every step.
#include "master/core/repair_scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "master/core/dram_first_placement.h"

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;

// Does what the object index would, minus linking and journaling: frees ranges in the pool,
// counts replicas against replica_num, adds copies.
class RecordingKeeper final : public ReplicaKeeper {
 public:
  RecordingKeeper(SegmentPool& pool, const SegmentIndex& segments)
      : pool_(pool), segments_(segments) {}
  void FreeReplicaSpace(const ReplicaRecord& replica) override {
    ++freed;
    pool_.Free(segments_.Get(replica.segment).name, replica.address, replica.length).IgnoreError();
  }
  bool BelowTarget(const ObjectRecord& record) const override {
    return record.visible && record.replicas().size() < record.replica_num;
  }
  void AddCopiedReplica(ObjectRecord* record, const ReplicaRecord& destination,
                        CopyKind kind) override {
    record->AddReplica(destination);
    added.push_back(kind);
  }

  size_t freed = 0;
  std::vector<CopyKind> added;

 private:
  SegmentPool& pool_;
  const SegmentIndex& segments_;
};

class RepairSchedulerTest : public ::testing::Test {
 protected:
  RepairSchedulerTest() {
    for (const char* node : {"a", "b"}) {
      const SegmentSpec spec{node,   std::string("node-") + node, 1, Medium::kDram, 0x100000,
                             1 << 20};
      EXPECT_TRUE(pool_.Mount(spec).ok());
      ids_[node] = segments_.Add(spec);
    }
    // A visible object wanting two replicas, with one on node-a: below its target.
    record_ = table_.Insert("k");
    record_->visible = true;
    record_->size = 4096;
    record_->version = 3;
    record_->replica_num = 2;
    const Allocation held = pool_.Allocate("a", 4096).value();
    record_->AddReplica(ReplicaRecord{held.address, held.length, ids_["a"], 0});
    below_.insert(record_);
  }
  ~RepairSchedulerTest() override { table_.Erase(record_); }

  void ExpectConsistent() {
    std::map<SegmentId, size_t> held_on;
    Status s = scheduler_.CheckInvariants(held_on);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  uint64_t UsedOnB() const { return pool_.Find("b")->used; }
  // Schedules at `now` and takes node-b's tasks.
  std::vector<CopyTask> ScheduleAndTake(TimePoint now) {
    scheduler_.Schedule(8, now);
    return scheduler_.TakeTasks("node-b", 8, now);
  }

  MasterCoreOptions options_;
  SegmentPool pool_;
  SegmentIndex segments_;
  ObjectTable table_;
  BelowTargetSet below_;
  DramFirstPlacement placement_;
  TaskIds task_ids_{500};
  RepairStats repair_stats_;
  TierStats tier_stats_;
  RecordingKeeper keeper_{pool_, segments_};
  RepairScheduler scheduler_{{options_, pool_, segments_, table_, below_, placement_, task_ids_,
                              repair_stats_, tier_stats_, keeper_}};
  std::map<std::string, SegmentId> ids_;
  ObjectRecord* record_ = nullptr;
  const TimePoint t0_{};
};

TEST_F(RepairSchedulerTest, CopiesToANodeHoldingNoReplicaAndAddsItWhenTheNodeReports) {
  const std::vector<CopyTask> tasks = ScheduleAndTake(t0_);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].task_id, 500u);
  EXPECT_EQ(tasks[0].source.segment, "a");
  EXPECT_EQ(tasks[0].destination.segment, "b");
  EXPECT_EQ(tasks[0].destination_node, "node-b");
  EXPECT_EQ(UsedOnB(), 4096u) << "the destination is held from scheduling on";
  EXPECT_EQ(scheduler_.Schedule(8, t0_), 0u) << "one copy per object in flight";
  ExpectConsistent();

  EXPECT_EQ(scheduler_.Complete(500, "node-a", Status::Ok(), t0_).status().code(),
            StatusCode::kInvalidParams);
  auto outcome = scheduler_.Complete(500, "node-b", Status::Ok(), t0_);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, RepairOutcome::kAdded);
  EXPECT_EQ(keeper_.added, std::vector<CopyKind>{CopyKind::kRepair});
  EXPECT_EQ(record_->replicas().size(), 2u);
  EXPECT_EQ(keeper_.freed, 0u) << "the allocation now belongs to the replica";
  EXPECT_EQ(repair_stats_.completed, 1u);
  EXPECT_EQ(scheduler_.InFlight(), 0u);
  EXPECT_EQ(scheduler_.Complete(500, "node-b", Status::Ok(), t0_).status().code(),
            StatusCode::kObjectNotFound);
  ExpectConsistent();
}

TEST_F(RepairSchedulerTest, ACancelledCopyKeepsItsDestinationUntilTheNodeReports) {
  ASSERT_EQ(ScheduleAndTake(t0_).size(), 1u);
  scheduler_.Cancel(record_);  // e.g. an upsert of the object
  EXPECT_EQ(scheduler_.InFlight(), 1u);
  EXPECT_EQ(UsedOnB(), 4096u) << "the node may still be writing there";
  EXPECT_EQ(repair_stats_.cancelled, 1u);
  ExpectConsistent();
  auto outcome = scheduler_.Complete(500, "node-b", Status::Ok(), t0_);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, RepairOutcome::kDropped);
  EXPECT_TRUE(keeper_.added.empty());
  EXPECT_EQ(UsedOnB(), 0u);
  ExpectConsistent();
}

TEST_F(RepairSchedulerTest, AFailedCopyIsTriedAgainAfterTheRetryDelay) {
  ASSERT_EQ(ScheduleAndTake(t0_).size(), 1u);
  auto outcome =
      scheduler_.Complete(500, "node-b", Status(StatusCode::kTransferFail, "crc mismatch"), t0_);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, RepairOutcome::kFailed);
  EXPECT_EQ(repair_stats_.failed, 1u);
  EXPECT_EQ(UsedOnB(), 0u);
  ExpectConsistent();
  EXPECT_EQ(scheduler_.Schedule(8, t0_ + options_.repair_retry_delay - milliseconds(1)), 0u);
  EXPECT_EQ(scheduler_.Schedule(8, t0_ + options_.repair_retry_delay), 1u);
  ExpectConsistent();
}

TEST_F(RepairSchedulerTest, ACopyPastItsDeadlineIsFreedAndScheduledAgain) {
  ASSERT_EQ(ScheduleAndTake(t0_).size(), 1u);
  const TimePoint late = t0_ + options_.repair_timeout;
  // The late report is refused as moot; the range goes back.
  auto outcome = scheduler_.Complete(500, "node-b", Status::Ok(), late);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, RepairOutcome::kDropped);
  EXPECT_EQ(repair_stats_.timed_out, 1u);
  EXPECT_EQ(UsedOnB(), 0u);
  // A new copy with a new task id.
  const std::vector<CopyTask> again = ScheduleAndTake(late);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task_id, 501u);
  ExpectConsistent();
}

}  // namespace
}  // namespace mooncake::master
