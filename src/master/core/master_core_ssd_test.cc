// The SSD tier in the master core: SSD allocations hold a 4 KiB header and are block-aligned;
// a DRAM put that does not fit goes to SSD; a freed SSD range stays allocated until the node
// acknowledges the removal (it erases the header first); a node restarted with a new epoch
// announces its SSD records and they are adopted; DRAM eviction demotes cold objects to SSD
// through a copy task and swaps the replicas when it completes. Promotion back to DRAM:
// master_core_promotion_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::master {
namespace {

class MasterCoreSsdTest : public MasterCoreFixture {
 protected:
  // Every segment journals its manifest: the SSD quarantine and adoption depend on it.
  MasterCoreSsdTest() { journal_ = Journal::kTracked; }
};

TEST_F(MasterCoreSsdTest, SsdAllocationsHoldTheHeaderAndAreBlockAligned) {
  MountTiers("n", 64 * kKiB, 1024 * kKiB);
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  for (uint64_t size : {uint64_t{5000}, uint64_t{1}, uint64_t{0}, uint64_t{8192}}) {
    const std::string key = "k" + std::to_string(size);
    auto started = TryPut(key, size, on_ssd);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    const Allocation& data = started->replicas[0].allocation;
    EXPECT_EQ(started->replicas[0].medium, Medium::kSsd);
    EXPECT_EQ(data.segment, "seg-n/ssd");
    EXPECT_EQ((data.address - kSsdBase) % kSsdBlockBytes, 0u) << size;
    EXPECT_GE(data.address - kSsdBase, kSsdHeaderBytes) << "the header block comes first";
    EXPECT_EQ(data.length, std::max<uint64_t>(size, 1));
    // Readers see the same range.
    auto view = core_->GetReplicaList(key);
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(view->replicas[0].allocation, data);
  }
  // 4096 + 8192, 4096 + 4096 (x2: one byte, and an empty object), 4096 + 8192.
  EXPECT_EQ(UsedOn("seg-n/ssd"), 12288u + 8192u + 8192u + 12288u);
  // The manifest entry is the whole allocation: the header is the node's to write there.
  ManifestBatch batch = AckAll("seg-n/ssd", "n");
  ASSERT_EQ(batch.changes.size(), 4u);
  EXPECT_EQ(batch.changes[0].entry.address, kSsdBase);
  EXPECT_EQ(batch.changes[0].entry.length, SsdAllocationBytes(5000));
  EXPECT_EQ(batch.changes[0].entry.size, 5000u);
}

TEST_F(MasterCoreSsdTest, ADramPutThatDoesNotFitGoesToSsdBeforeAnythingIsDropped) {
  MountTiers("n", 64 * kKiB, 1024 * kKiB);
  ASSERT_TRUE(TryPut("cold", 60 * kKiB).ok());
  auto started = TryPut("new", 16 * kKiB);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->replicas[0].medium, Medium::kSsd);
  EXPECT_TRUE(core_->ExistKey("cold").value()) << "DRAM object dropped while SSD had room";
  EXPECT_EQ(core_->tier_stats().ssd_puts, 1u);
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 0u);
}

TEST_F(MasterCoreSsdTest, WithBothTiersFullDramIsEvictedAsWithoutAnSsdTier) {
  MountTiers("n", 64 * kKiB, 64 * kKiB);
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  ASSERT_TRUE(TryPut("on-ssd", 56 * kKiB, on_ssd).ok());
  ASSERT_TRUE(TryPut("in-dram", 60 * kKiB).ok());
  auto started = TryPut("new", 16 * kKiB);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->replicas[0].medium, Medium::kDram);
  EXPECT_FALSE(core_->ExistKey("in-dram").value());
  EXPECT_TRUE(core_->ExistKey("on-ssd").value()) << "evicted for nothing: quarantined space";
}

TEST_F(MasterCoreSsdTest, WithoutAnSsdTierAFullDramStillEvicts) {
  MountTiers("n", 64 * kKiB, 0);
  ASSERT_TRUE(TryPut("cold", 60 * kKiB).ok());
  auto started = TryPut("new", 16 * kKiB);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->replicas[0].medium, Medium::kDram);
  EXPECT_FALSE(core_->ExistKey("cold").value());
}

TEST_F(MasterCoreSsdTest, KeysTooLongForAnSsdHeaderNeverGoToSsd) {
  MountTiers("n", 64 * kKiB, 1024 * kKiB);
  ReplicateConfig pinned;
  pinned.with_hard_pin = true;
  ASSERT_TRUE(TryPut("filler", 64 * kKiB, pinned).ok());
  const std::string long_key(kSsdMaxKeyBytes + 1, 'k');
  auto started = core_->PutStart(long_key, kKiB, {});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_TRUE(TryPut(std::string(kSsdMaxKeyBytes, 'k'), kKiB).ok());
}

TEST_F(MasterCoreSsdTest, BothTiersFullIsAClearError) {
  MountTiers("n", 64 * kKiB, 64 * kKiB);
  ReplicateConfig pinned;
  pinned.with_hard_pin = true;
  ASSERT_TRUE(TryPut("dram", 64 * kKiB, pinned).ok());
  ASSERT_TRUE(TryPut("ssd", 56 * kKiB, pinned).ok());  // 60 KiB with its header
  auto refused = core_->PutStart("more", 8 * kKiB, pinned);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_NE(refused.status().message().find("neither DRAM nor SSD"), std::string::npos)
      << refused.status().ToString();
}

TEST_F(MasterCoreSsdTest, AFreedSsdRangeStaysHeldUntilTheNodeAcknowledgesTheRemoval) {
  MountTiers("n", 64 * kKiB, 64 * kKiB);
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  ASSERT_TRUE(TryPut("a", 8 * kKiB, on_ssd).ok());
  AckAll("seg-n/ssd", "n");
  const uint64_t used = UsedOn("seg-n/ssd");
  ASSERT_TRUE(core_->Remove("a", RemoveMode::kNormal).ok());
  // The node has not erased the header yet: nothing may be written there.
  EXPECT_EQ(UsedOn("seg-n/ssd"), used);
  EXPECT_EQ(core_->QuarantinedRanges(), 1u);
  ExpectConsistent();
  ManifestBatch batch = AckAll("seg-n/ssd", "n");
  ASSERT_EQ(batch.changes.size(), 1u);
  EXPECT_TRUE(batch.changes[0].removed);
  EXPECT_EQ(batch.changes[0].entry.length, SsdAllocationBytes(8 * kKiB)) << "what to erase";
  EXPECT_EQ(UsedOn("seg-n/ssd"), 0u);
  EXPECT_EQ(core_->QuarantinedRanges(), 0u);
  // A revoked put was never announced: its range is free at once when nothing is pending.
  ASSERT_TRUE(core_->PutStart("b", kKiB, on_ssd).ok());
  ASSERT_TRUE(core_->PutRevoke("b").ok());
  EXPECT_EQ(UsedOn("seg-n/ssd"), 0u);
  // A node gone takes its quarantine with it.
  ASSERT_TRUE(TryPut("c", kKiB, on_ssd).ok());
  ASSERT_TRUE(core_->Remove("c", RemoveMode::kNormal).ok());
  EXPECT_EQ(core_->QuarantinedRanges(), 1u);
  EXPECT_EQ(core_->UnmountNode("n"), 2u);
  EXPECT_EQ(core_->QuarantinedRanges(), 0u);
}

TEST_F(MasterCoreSsdTest, ANodeRestartedWithANewEpochGetsItsSsdObjectsAdopted) {
  MountTiers("n", 64 * kKiB, 1024 * kKiB, /*epoch=*/1);
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  ASSERT_TRUE(TryPut("kept", 5000, on_ssd).ok());
  ManifestBatch before = AckAll("seg-n/ssd", "n");
  ASSERT_EQ(before.changes.size(), 1u);
  const ManifestEntry scanned = before.changes[0].entry;  // what the node's scan finds
  // kill -9, restart: the DRAM mount of epoch 2 drops everything of epoch 1 ...
  ASSERT_TRUE(core_->Mount(Dram("n", 64 * kKiB, 2)).ok());
  EXPECT_FALSE(core_->ExistKey("kept").value());
  // ... and the SSD mount announces what the scan found, plus malformed records.
  ManifestEntry misaligned = scanned;
  misaligned.key = "misaligned";
  misaligned.address = kSsdBase + 64 * kKiB + 512;
  ManifestEntry wrong_length = scanned;
  wrong_length.key = "wrong-length";
  wrong_length.address = kSsdBase + 128 * kKiB;
  wrong_length.length = 4096;
  auto report =
      core_->MountWithManifest(Ssd("n", 1024 * kKiB, 2), {scanned, misaligned, wrong_length});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->adopted, 1u);
  EXPECT_EQ(report->skipped_invalid, 2u);
  auto view = core_->GetReplicaList("kept");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->size, 5000u);
  EXPECT_EQ(view->checksum, 7u);
  ASSERT_EQ(view->replicas.size(), 1u);
  EXPECT_EQ(view->replicas[0].medium, Medium::kSsd);
  EXPECT_EQ(view->replicas[0].allocation.address, scanned.address + kSsdHeaderBytes);
  // The adopted range is held: new puts land elsewhere.
  auto other = TryPut("other", 5000, on_ssd);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->replicas[0].allocation.address, view->replicas[0].allocation.address);
}

TEST_F(MasterCoreSsdTest, DramEvictionDemotesColdObjectsAndSwapsTheReplicas) {
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  for (int i = 0; i < 12; ++i) {  // 96 KiB: above the 95% high watermark
    ASSERT_TRUE(TryPut("k" + std::to_string(i), 8 * kKiB).ok());
    clock_.Advance(std::chrono::milliseconds(1));  // LRU order = put order
  }
  core_->Tick();
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 0u) << "dropped instead of demoted";
  std::vector<CopyTask> tasks = core_->TakeCopyTasks("n", 64);
  ASSERT_FALSE(tasks.empty());
  EXPECT_EQ(core_->tier_stats().demotions_scheduled, tasks.size());
  // Down to 90 % counts the DRAM bytes on their way out: one object.
  EXPECT_EQ(tasks.size(), 1u);
  const CopyTask& task = tasks[0];
  EXPECT_EQ(task.key, "k0") << "the coldest first";
  EXPECT_EQ(task.source.segment, "seg-n");
  EXPECT_EQ(task.destination.segment, "seg-n/ssd") << "the same node's SSD";
  EXPECT_EQ(task.destination.address, kSsdBase + kSsdHeaderBytes);
  EXPECT_EQ(task.destination.length, 8 * kKiB);
  // Another Tick does not demote it twice nor drop others meanwhile.
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty());
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 0u);
  ExpectConsistent();

  const uint64_t dram_before = UsedOn("seg-n");
  auto outcome = core_->CompleteRepair(task.task_id, "n", Status::Ok());
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, RepairOutcome::kAdded);
  EXPECT_EQ(core_->tier_stats().demotions_completed, 1u);
  EXPECT_EQ(UsedOn("seg-n"), dram_before - 8 * kKiB);
  auto view = core_->GetReplicaList("k0");
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->replicas.size(), 1u);
  EXPECT_EQ(view->replicas[0].medium, Medium::kSsd);
  EXPECT_EQ(view->replicas[0].allocation, task.destination);
  // The DRAM journal says the replica went; the SSD journal says it came (header to write).
  ManifestBatch dram = AckAll("seg-n", "n");
  ASSERT_FALSE(dram.changes.empty());
  EXPECT_TRUE(dram.changes.back().removed);
  ManifestBatch ssd = AckAll("seg-n/ssd", "n");
  ASSERT_EQ(ssd.changes.size(), 1u);
  EXPECT_FALSE(ssd.changes[0].removed);
  EXPECT_EQ(ssd.changes[0].entry.key, "k0");
}

TEST_F(MasterCoreSsdTest, AFailedOrMootDemotionKeepsTheDramReplica) {
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(TryPut("k" + std::to_string(i), 8 * kKiB).ok());
    clock_.Advance(std::chrono::milliseconds(1));
  }
  core_->Tick();
  std::vector<CopyTask> tasks = core_->TakeCopyTasks("n", 64);
  ASSERT_EQ(tasks.size(), 1u);
  auto failed =
      core_->CompleteRepair(tasks[0].task_id, "n", Status(StatusCode::kTransferFail, "disk error"));
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(*failed, RepairOutcome::kFailed);
  EXPECT_EQ(core_->tier_stats().demotions_failed, 1u);
  auto view = core_->GetReplicaList(tasks[0].key);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->replicas[0].medium, Medium::kDram);
  clock_.Advance(std::chrono::seconds(6));  // past the retry delay and the read lease
  core_->Tick();
  tasks = core_->TakeCopyTasks("n", 64);
  ASSERT_FALSE(tasks.empty());
  // Removed while its copy runs: the copy's report is dropped, nothing is adopted.
  ASSERT_TRUE(core_->Remove(tasks[0].key, RemoveMode::kNormal).ok());
  auto moot = core_->CompleteRepair(tasks[0].task_id, "n", Status::Ok());
  ASSERT_TRUE(moot.ok());
  EXPECT_EQ(*moot, RepairOutcome::kDropped);
  EXPECT_FALSE(core_->ExistKey(tasks[0].key).value());
}

}  // namespace
}  // namespace mooncake::master
