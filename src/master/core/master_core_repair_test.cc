// Re-replication in the master core: objects that lost a replica get a copy on a node that
// holds none, through a repair that is invisible until its node reports the bytes in place;
// every race (remove, upsert, eviction, adoption, segment loss, deadline, a report from the
// wrong node) leaves the index consistent and never adopts a moot copy.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kSegmentBytes = 256 * kKiB;

class MasterCoreRepairTest : public MasterCoreFixture {
 protected:
  void SetUp() override { Create(MasterCoreOptions{}); }

  // A core with `options` and nodes a, b and c, each with a tracked DRAM segment.
  void Create(MasterCoreOptions options) {
    options.client_ttl = std::chrono::hours(24);  // liveness is not under test
    journal_ = Journal::kTracked;
    CreateCore(options);
    MountNodes({"a", "b", "c"}, kSegmentBytes);
  }
  // The one task scheduled for `node` by a Tick.
  CopyTask OneTask(const std::string& node) {
    core_->Tick();
    std::vector<CopyTask> tasks = core_->TakeCopyTasks(node, 16);
    EXPECT_EQ(tasks.size(), 1u);
    return tasks.empty() ? CopyTask{} : tasks[0];
  }
};

TEST_F(MasterCoreRepairTest, LostReplicaIsCopiedToANodeHoldingNone) {
  PutOn("k", {"seg-a", "seg-b"});
  EXPECT_EQ(core_->UnmountNode("a"), 1u);
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
  const uint64_t version = core_->GetReplicaList("k")->version;

  const CopyTask task = OneTask("c");
  EXPECT_EQ(task.key, "k");
  EXPECT_EQ(task.version, version);
  EXPECT_EQ(task.size, kKiB);
  EXPECT_EQ(task.checksum, 7u);
  EXPECT_EQ(task.source.segment, "seg-b");
  EXPECT_EQ(task.destination.segment, "seg-c");
  EXPECT_EQ(task.destination.length, task.source.length);
  EXPECT_EQ(task.destination_node, "c");
  EXPECT_EQ(task.timeout, milliseconds(30000));
  EXPECT_EQ(core_->RepairsInFlight(), 1u);
  EXPECT_EQ(Allocations("seg-c"), 1u);  // held while the copy runs
  ExpectConsistent();
  // Not readable until the node reports, and handed out once only.
  EXPECT_EQ(Nodes("k"), (std::set<std::string>{"b"}));
  EXPECT_TRUE(core_->TakeCopyTasks("c", 16).empty());
  EXPECT_TRUE(core_->TakeCopyTasks("b", 16).empty());
  core_->Tick();
  EXPECT_EQ(core_->RepairsInFlight(), 1u);  // one repair per object at a time

  auto outcome = core_->CompleteRepair(task.task_id, "c", Status::Ok());
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, RepairOutcome::kAdded);
  EXPECT_EQ(Nodes("k"), (std::set<std::string>{"b", "c"}));
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
  EXPECT_EQ(core_->RepairsInFlight(), 0u);
  EXPECT_EQ(core_->repair_stats().scheduled, 1u);
  EXPECT_EQ(core_->repair_stats().completed, 1u);
  // c's manifest learns the new replica, exactly as a put would have written it.
  auto changes = core_->TakeManifestChanges("seg-c", "c", 0, 16);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->changes.size(), 1u);
  const ManifestChange& added = changes->changes[0];
  EXPECT_FALSE(added.removed);
  EXPECT_EQ(added.entry.key, "k");
  EXPECT_EQ(added.entry.address, task.destination.address);
  EXPECT_EQ(added.entry.version, version);
  EXPECT_EQ(added.entry.checksum, 7u);
  // Reported twice: the second report finds nothing.
  EXPECT_EQ(core_->CompleteRepair(task.task_id, "c", Status::Ok()).status().code(),
            StatusCode::kObjectNotFound);
}

TEST_F(MasterCoreRepairTest, FailedCopyFreesTheDestinationAndRetriesAfterTheDelay) {
  PutOn("k", {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  const CopyTask first = OneTask("c");
  auto outcome =
      core_->CompleteRepair(first.task_id, "c", Status(StatusCode::kTransferFail, "crc"));
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, RepairOutcome::kFailed);
  EXPECT_EQ(Allocations("seg-c"), 0u);
  EXPECT_EQ(core_->repair_stats().failed, 1u);
  core_->Tick();
  EXPECT_EQ(core_->RepairsInFlight(), 0u) << "retried before repair_retry_delay";
  clock_.Advance(seconds(1));
  const CopyTask second = OneTask("c");
  EXPECT_NE(second.task_id, first.task_id);
  EXPECT_EQ(*core_->CompleteRepair(second.task_id, "c", Status::Ok()), RepairOutcome::kAdded);
  EXPECT_EQ(Nodes("k").size(), 2u);
}

TEST_F(MasterCoreRepairTest, RemoveDuringTheCopyKeepsTheDestinationUntilTheNodeReports) {
  PutOn("k", {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  const CopyTask task = OneTask("c");
  ASSERT_TRUE(core_->Remove("k", RemoveMode::kNormal).ok());
  ExpectConsistent();
  // The node may still be writing there: the range must not go to another put yet.
  EXPECT_EQ(Allocations("seg-c"), 1u);
  EXPECT_EQ(core_->RepairsInFlight(), 1u);
  auto outcome = core_->CompleteRepair(task.task_id, "c", Status::Ok());
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, RepairOutcome::kDropped);
  EXPECT_EQ(Allocations("seg-c"), 0u);
  EXPECT_FALSE(*core_->ExistKey("k"));
  EXPECT_EQ(core_->repair_stats().cancelled, 1u);
  auto changes = core_->TakeManifestChanges("seg-c", "c", 0, 16);
  ASSERT_TRUE(changes.ok());
  EXPECT_TRUE(changes->changes.empty()) << "a moot copy reached the manifest";
}

TEST_F(MasterCoreRepairTest, RemoveBeforeTheTaskIsHandedOutFreesAtOnce) {
  PutOn("k", {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  core_->Tick();
  ASSERT_EQ(core_->RepairsInFlight(), 1u);
  ASSERT_TRUE(core_->Remove("k", RemoveMode::kNormal).ok());
  EXPECT_EQ(core_->RepairsInFlight(), 0u);
  EXPECT_EQ(Allocations("seg-c"), 0u);
  EXPECT_TRUE(core_->TakeCopyTasks("c", 16).empty());
}

TEST_F(MasterCoreRepairTest, UpsertDuringTheCopyCancelsIt) {
  PutOn("k", {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  const CopyTask task = OneTask("c");
  ReplicateConfig config;
  config.replica_num = 2;
  auto upsert = core_->UpsertStart("k", 2 * kKiB, config);
  ASSERT_TRUE(upsert.ok()) << upsert.status().ToString();
  ExpectConsistent();
  ASSERT_TRUE(core_->PutEnd("k", 9).ok());
  EXPECT_EQ(*core_->CompleteRepair(task.task_id, "c", Status::Ok()), RepairOutcome::kDropped);
  auto view = core_->GetReplicaList("k");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->version, upsert->version);
  EXPECT_EQ(view->checksum, 9u);
  for (const ReplicaView& r : view->replicas) {
    EXPECT_NE(r.allocation.address, task.destination.address) << "the old version's copy";
  }
}

TEST_F(MasterCoreRepairTest, EvictionDuringTheCopyCancelsIt) {
  PutOn("k", {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  const CopyTask task = OneTask("c");
  // Fill b and c past the watermark: the copy's object is the oldest, evicted first.
  clock_.Advance(seconds(1));
  for (int i = 0; core_->segment_pool().Usage(Medium::kDram).used < 490 * kKiB && i < 400; ++i) {
    PutOn("filler-" + std::to_string(i), {"seg-b", "seg-c"});
  }
  core_->Tick();
  EXPECT_GT(core_->eviction_stats().evicted_objects, 0u);
  EXPECT_FALSE(*core_->ExistKey("k"));
  ExpectConsistent();
  EXPECT_EQ(*core_->CompleteRepair(task.task_id, "c", Status::Ok()), RepairOutcome::kDropped);
}

TEST_F(MasterCoreRepairTest, LosingTheSourceCancelsTheCopy) {
  MountNode("d", kSegmentBytes);
  PutOn("k", {"seg-a", "seg-b", "seg-c"});
  core_->UnmountNode("a");
  core_->Tick();
  std::vector<CopyTask> tasks = core_->TakeCopyTasks("d", 16);
  ASSERT_EQ(tasks.size(), 1u);
  const std::string source_node = tasks[0].source.segment.substr(4);
  core_->UnmountNode(source_node);
  ExpectConsistent();
  // The source may have come back with other bytes at that address: never adopt the copy.
  EXPECT_EQ(*core_->CompleteRepair(tasks[0].task_id, "d", Status::Ok()), RepairOutcome::kDropped);
  EXPECT_EQ(Nodes("k").size(), 1u);
  EXPECT_EQ(Allocations("seg-d"), 0u);
}

TEST_F(MasterCoreRepairTest, LosingTheDestinationDropsTheCopyWithItsSegment) {
  PutOn("k", {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  const CopyTask task = OneTask("c");
  // c restarts: a new epoch replaces its segment (same name, fresh memory).
  MountNode("c", kSegmentBytes, 2);
  ExpectConsistent();
  EXPECT_EQ(core_->RepairsInFlight(), 0u);
  EXPECT_EQ(Allocations("seg-c"), 0u);
  EXPECT_EQ(core_->CompleteRepair(task.task_id, "c", Status::Ok()).status().code(),
            StatusCode::kObjectNotFound);
  // The object is scheduled again, onto the new incarnation.
  const CopyTask again = OneTask("c");
  EXPECT_EQ(*core_->CompleteRepair(again.task_id, "c", Status::Ok()), RepairOutcome::kAdded);
  EXPECT_EQ(Nodes("k"), (std::set<std::string>{"b", "c"}));
}

TEST_F(MasterCoreRepairTest, AdoptingTheObjectCancelsTheCopy) {
  PutOn("k", {"seg-a", "seg-b"});
  const ObjectView before = core_->GetReplicaList("k").value();
  core_->UnmountNode("a");
  const CopyTask task = OneTask("c");
  // A node announces a newer version of the key (as after a master restart).
  SegmentSpec d = Dram("d", kSegmentBytes);
  ManifestEntry newer{"k", kDramBase, kKiB, kKiB, before.version + 5, 11};
  auto report = core_->MountWithManifest(d, {newer});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->adopted, 1u);
  ExpectConsistent();
  EXPECT_EQ(*core_->CompleteRepair(task.task_id, "c", Status::Ok()), RepairOutcome::kDropped);
  EXPECT_EQ(core_->GetReplicaList("k")->version, before.version + 5);
}

TEST_F(MasterCoreRepairTest, UnreportedCopyExpiresAndIsScheduledAgain) {
  PutOn("k", {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  const CopyTask first = OneTask("c");
  clock_.Advance(milliseconds(29999));
  core_->Tick();
  EXPECT_EQ(core_->RepairsInFlight(), 1u);
  clock_.Advance(milliseconds(1));
  const CopyTask second = OneTask("c");  // the Tick expires the first, then schedules anew
  EXPECT_NE(second.task_id, first.task_id);
  EXPECT_EQ(core_->repair_stats().timed_out, 1u);
  EXPECT_EQ(Allocations("seg-c"), 1u);
  EXPECT_EQ(core_->CompleteRepair(first.task_id, "c", Status::Ok()).status().code(),
            StatusCode::kObjectNotFound);
  // A report past the deadline that Tick has not reclaimed yet is dropped too.
  clock_.Advance(seconds(30));
  EXPECT_EQ(*core_->CompleteRepair(second.task_id, "c", Status::Ok()), RepairOutcome::kDropped);
  EXPECT_EQ(Nodes("k"), (std::set<std::string>{"b"}));
}

TEST_F(MasterCoreRepairTest, ReportFromAnotherNodeChangesNothing) {
  PutOn("k", {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  const CopyTask task = OneTask("c");
  EXPECT_EQ(core_->CompleteRepair(task.task_id, "b", Status::Ok()).status().code(),
            StatusCode::kInvalidParams);
  EXPECT_EQ(core_->RepairsInFlight(), 1u);
  EXPECT_EQ(*core_->CompleteRepair(task.task_id, "c", Status::Ok()), RepairOutcome::kAdded);
}

TEST_F(MasterCoreRepairTest, SchedulingIsBoundedPerTickAndInFlight) {
  MasterCoreOptions options;
  options.repairs_per_tick = 3;
  options.max_repairs_in_flight = 5;
  Create(options);
  MountNode("d", kSegmentBytes);
  for (int i = 0; i < 10; ++i) PutOn("k" + std::to_string(i), {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 10u);
  core_->Tick();
  EXPECT_EQ(core_->RepairsInFlight(), 3u);
  core_->Tick();
  EXPECT_EQ(core_->RepairsInFlight(), 5u);
  core_->Tick();
  EXPECT_EQ(core_->RepairsInFlight(), 5u);
  ExpectConsistent();
  // Completing them lets the rest through; every object ends with two replicas on two nodes.
  for (int round = 0; round < 10 && core_->ObjectsBelowReplicaTarget() > 0; ++round) {
    for (const char* node : {"c", "d"}) {
      for (const CopyTask& task : core_->TakeCopyTasks(node, 16)) {
        EXPECT_EQ(*core_->CompleteRepair(task.task_id, node, Status::Ok()), RepairOutcome::kAdded);
      }
    }
    core_->Tick();
  }
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Nodes("k" + std::to_string(i)).size(), 2u);
}

TEST_F(MasterCoreRepairTest, NoNodeWithoutAReplicaMeansNoCopy) {
  PutOn("k", {"seg-a", "seg-b", "seg-c"});
  core_->UnmountNode("a");
  core_->Tick();
  EXPECT_EQ(core_->RepairsInFlight(), 0u);
  EXPECT_EQ(core_->repair_stats().no_destination, 0u) << "tried where no node could take it";
  // A new node appears, but full: tried, no room, and not again before repair_retry_delay.
  MountNode("d", 4 * kKiB, 1);
  ReplicateConfig fill;
  fill.preferred_segments = {"seg-d"};
  ASSERT_TRUE(core_->PutStart("filler", 4 * kKiB, fill).ok());
  core_->Tick();
  EXPECT_EQ(core_->repair_stats().no_destination, 1u);
  core_->Tick();
  EXPECT_EQ(core_->repair_stats().no_destination, 1u);
  ASSERT_TRUE(core_->PutRevoke("filler").ok());
  clock_.Advance(seconds(1));
  const CopyTask task = OneTask("d");
  EXPECT_EQ(*core_->CompleteRepair(task.task_id, "d", Status::Ok()), RepairOutcome::kAdded);
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
}

TEST_F(MasterCoreRepairTest, ZeroRepairsInFlightTurnsReplicationOff) {
  MasterCoreOptions options;
  options.max_repairs_in_flight = 0;
  Create(options);
  PutOn("k", {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  core_->Tick();
  EXPECT_EQ(core_->RepairsInFlight(), 0u);
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
}

TEST_F(MasterCoreRepairTest, TaskIdsStartAtFirstVersionSoARestartedMasterNeverReusesThem) {
  MasterCoreOptions options;
  options.first_version = uint64_t{1} << 60;  // the service passes the wall clock in ns
  Create(options);
  PutOn("k", {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  const CopyTask task = OneTask("c");
  EXPECT_GE(task.task_id, uint64_t{1} << 60);
  // A report naming a small id (an earlier master's task) finds nothing.
  EXPECT_EQ(core_->CompleteRepair(1, "c", Status::Ok()).status().code(),
            StatusCode::kObjectNotFound);
  EXPECT_EQ(core_->RepairsInFlight(), 1u);
}

TEST_F(MasterCoreRepairTest, BadRepairOptionsAreRefused) {
  MasterCoreOptions options;
  options.repairs_per_tick = 0;
  EXPECT_EQ(MasterCore::Create(options, clock_).status().code(), StatusCode::kInvalidParams);
  options = {};
  options.repair_timeout = milliseconds(0);
  EXPECT_EQ(MasterCore::Create(options, clock_).status().code(), StatusCode::kInvalidParams);
  options = {};
  options.repair_retry_delay = milliseconds(-1);
  EXPECT_EQ(MasterCore::Create(options, clock_).status().code(), StatusCode::kInvalidParams);
}

// ---- Drain ---------------------------------------------------------------------------------

TEST_F(MasterCoreRepairTest, DrainCopiesWhatOnlyTheLeavingNodeHolds) {
  for (int i = 0; i < 4; ++i) PutOn("only-a" + std::to_string(i), {"seg-a"});
  PutOn("a-and-b", {"seg-a", "seg-b"});
  auto remaining = core_->Drain("a", 1);
  ASSERT_TRUE(remaining.ok()) << remaining.status().ToString();
  EXPECT_EQ(*remaining, 4u);  // a-and-b survives a's departure as it is
  EXPECT_TRUE(core_->segment_pool().Find("seg-a")->draining);
  ExpectConsistent();
  // No new allocation lands on the draining segment.
  ReplicateConfig on_a;
  on_a.preferred_segments = {"seg-a"};
  auto put = core_->PutStart("new", kKiB, on_a);
  ASSERT_TRUE(put.ok());
  EXPECT_NE(put->replicas[0].node, "a");
  ASSERT_TRUE(core_->PutEnd("new", 1).ok());

  core_->Tick();
  size_t copied = 0;
  for (const char* node : {"b", "c"}) {
    for (const CopyTask& task : core_->TakeCopyTasks(node, 16)) {
      EXPECT_EQ(task.source.segment, "seg-a");
      EXPECT_EQ(*core_->CompleteRepair(task.task_id, node, Status::Ok()), RepairOutcome::kAdded);
      ++copied;
    }
  }
  EXPECT_EQ(copied, 4u);
  EXPECT_EQ(*core_->Drain("a", 1), 0u);
  ExpectConsistent();
  // The node leaves: nothing is lost, nothing is below target.
  ASSERT_TRUE(core_->Unmount("seg-a", "a", 1).ok());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Nodes("only-a" + std::to_string(i)).size(), 1u);
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);  // a-and-b, repaired by the next Tick
}

TEST_F(MasterCoreRepairTest, DrainWaitsForAPutInFlightOnTheNode) {
  ReplicateConfig on_a;
  on_a.preferred_segments = {"seg-a"};
  ASSERT_TRUE(core_->PutStart("writing", kKiB, on_a).ok());
  EXPECT_EQ(*core_->Drain("a", 1), 1u);
  ASSERT_TRUE(core_->PutEnd("writing", 3).ok());
  EXPECT_EQ(*core_->Drain("a", 1), 1u);  // now an object only a holds
  core_->Tick();
  std::vector<CopyTask> tasks = core_->TakeCopyTasks("b", 16);
  for (const CopyTask& task : core_->TakeCopyTasks("c", 16)) tasks.push_back(task);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(*core_->CompleteRepair(tasks[0].task_id, tasks[0].destination_node, Status::Ok()),
            RepairOutcome::kAdded);
  EXPECT_EQ(*core_->Drain("a", 1), 0u);
}

TEST_F(MasterCoreRepairTest, DrainCancelsCopiesHeadingToTheLeavingNode) {
  PutOn("k", {"seg-a", "seg-b"});
  core_->UnmountNode("a");
  const CopyTask task = OneTask("c");
  ASSERT_TRUE(core_->Drain("c", 1).ok());
  ExpectConsistent();
  EXPECT_EQ(*core_->CompleteRepair(task.task_id, "c", Status::Ok()), RepairOutcome::kDropped);
  core_->Tick();
  EXPECT_EQ(core_->RepairsInFlight(), 0u) << "a copy was sent to a draining node";
}

TEST_F(MasterCoreRepairTest, DrainOfAnUnknownNodeOrEpochIsRefused) {
  EXPECT_EQ(core_->Drain("nobody", 1).status().code(), StatusCode::kClientNotFound);
  EXPECT_EQ(core_->Drain("a", 2).status().code(), StatusCode::kInvalidVersion);
  core_->UnmountNode("a");
  EXPECT_EQ(core_->Drain("a", 1).status().code(), StatusCode::kClientNotFound);
  // A new incarnation starts undrained.
  MountNode("b", kSegmentBytes, 2);
  EXPECT_FALSE(core_->segment_pool().Find("seg-b")->draining);
}

}  // namespace
}  // namespace mooncake::master
