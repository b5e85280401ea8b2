// The SSD tier in the master core: SSD allocations hold a 4 KiB header and are block-aligned;
// a DRAM put that does not fit goes to SSD; a freed SSD range stays allocated until the node
// acknowledges the removal (it erases the header first); a node restarted with a new epoch
// announces its SSD records and they are adopted; DRAM eviction demotes cold objects to SSD
// through a copy task and swaps the replicas when it completes; objects read only from SSD
// are promoted to DRAM after promote_after_hits reads and then live on both tiers.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "master/core/master_core.h"
#include "store_types/ssd_geometry.h"
#include "testing/fake_clock.h"

namespace mooncake::master {
namespace {

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kDramBase = 0x100000;
constexpr uint64_t kSsdBase = uint64_t{1} << 63;  // file segments' synthetic addresses

#define EXPECT_CONSISTENT(core)                              \
  do {                                                       \
    Status invariants_ = (core).CheckInvariants();           \
    EXPECT_TRUE(invariants_.ok()) << invariants_.ToString(); \
  } while (0)

SegmentSpec Dram(const std::string& node, Epoch epoch, uint64_t size) {
  SegmentSpec spec{node, node, epoch, Medium::kDram, kDramBase, size};
  spec.track_manifest = true;
  return spec;
}

SegmentSpec Ssd(const std::string& node, Epoch epoch, uint64_t size) {
  SegmentSpec spec{node + "/ssd", node, epoch, Medium::kSsd, kSsdBase, size};
  spec.track_manifest = true;
  return spec;
}

class MasterCoreSsdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MasterCoreOptions options;
    options.client_ttl = std::chrono::hours(24);  // liveness is not under test
    core_ = MasterCore::Create(options, clock_).value();
  }
  void TearDown() override { EXPECT_CONSISTENT(*core_); }

  void MountNode(const std::string& node, uint64_t dram, uint64_t ssd, Epoch epoch = 1) {
    ASSERT_TRUE(core_->Mount(Dram(node, epoch, dram)).ok());
    if (ssd > 0) {
      ASSERT_TRUE(core_->Mount(Ssd(node, epoch, ssd)).ok());
    }
  }
  Result<PutStartResult> Put(const std::string& key, uint64_t size, ReplicateConfig config = {}) {
    auto started = core_->PutStart(key, size, config);
    if (started.ok()) {
      EXPECT_TRUE(core_->PutEnd(key, 7).ok());
    }
    return started;
  }
  uint64_t Used(const std::string& segment) {
    auto info = core_->segment_pool().Find(segment);
    return info ? info->used : 0;
  }
  // Acknowledges every manifest change of `segment` and returns them.
  ManifestBatch AckAll(const std::string& segment, const std::string& node) {
    auto batch = core_->TakeManifestChanges(segment, node, 0, 1 << 20);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok()) return {};
    const uint64_t last = batch->first_seq + batch->changes.size() - 1;
    EXPECT_TRUE(core_->TakeManifestChanges(segment, node, last, 1).ok());
    return *batch;
  }

  testing::FakeClock clock_;
  std::unique_ptr<MasterCore> core_;
};

TEST_F(MasterCoreSsdTest, SsdAllocationsHoldTheHeaderAndAreBlockAligned) {
  MountNode("n", 64 * kKiB, 1024 * kKiB);
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  for (uint64_t size : {uint64_t{5000}, uint64_t{1}, uint64_t{0}, uint64_t{8192}}) {
    const std::string key = "k" + std::to_string(size);
    auto started = Put(key, size, on_ssd);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    const Allocation& data = started->replicas[0].allocation;
    EXPECT_EQ(started->replicas[0].medium, Medium::kSsd);
    EXPECT_EQ(data.segment, "n/ssd");
    EXPECT_EQ((data.address - kSsdBase) % kSsdBlockBytes, 0u) << size;
    EXPECT_GE(data.address - kSsdBase, kSsdHeaderBytes) << "the header block comes first";
    EXPECT_EQ(data.length, std::max<uint64_t>(size, 1));
    // Readers see the same range.
    auto view = core_->GetReplicaList(key);
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(view->replicas[0].allocation, data);
  }
  // 4096 + 8192, 4096 + 4096 (x2: one byte, and an empty object), 4096 + 8192.
  EXPECT_EQ(Used("n/ssd"), 12288u + 8192u + 8192u + 12288u);
  // The manifest entry is the whole allocation: the header is the node's to write there.
  ManifestBatch batch = AckAll("n/ssd", "n");
  ASSERT_EQ(batch.changes.size(), 4u);
  EXPECT_EQ(batch.changes[0].entry.address, kSsdBase);
  EXPECT_EQ(batch.changes[0].entry.length, SsdAllocationBytes(5000));
  EXPECT_EQ(batch.changes[0].entry.size, 5000u);
}

TEST_F(MasterCoreSsdTest, ADramPutThatDoesNotFitGoesToSsdBeforeAnythingIsDropped) {
  MountNode("n", 64 * kKiB, 1024 * kKiB);
  ASSERT_TRUE(Put("cold", 60 * kKiB).ok());
  auto started = Put("new", 16 * kKiB);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->replicas[0].medium, Medium::kSsd);
  EXPECT_TRUE(core_->ExistKey("cold").value()) << "DRAM object dropped while SSD had room";
  EXPECT_EQ(core_->tier_stats().ssd_puts, 1u);
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 0u);
}

TEST_F(MasterCoreSsdTest, WithBothTiersFullDramIsEvictedAsWithoutAnSsdTier) {
  MountNode("n", 64 * kKiB, 64 * kKiB);
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  ASSERT_TRUE(Put("on-ssd", 56 * kKiB, on_ssd).ok());
  ASSERT_TRUE(Put("in-dram", 60 * kKiB).ok());
  auto started = Put("new", 16 * kKiB);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->replicas[0].medium, Medium::kDram);
  EXPECT_FALSE(core_->ExistKey("in-dram").value());
  EXPECT_TRUE(core_->ExistKey("on-ssd").value()) << "evicted for nothing: quarantined space";
}

TEST_F(MasterCoreSsdTest, WithoutAnSsdTierAFullDramStillEvicts) {
  MountNode("n", 64 * kKiB, 0);
  ASSERT_TRUE(Put("cold", 60 * kKiB).ok());
  auto started = Put("new", 16 * kKiB);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->replicas[0].medium, Medium::kDram);
  EXPECT_FALSE(core_->ExistKey("cold").value());
}

TEST_F(MasterCoreSsdTest, KeysTooLongForAnSsdHeaderNeverGoToSsd) {
  MountNode("n", 64 * kKiB, 1024 * kKiB);
  ReplicateConfig pinned;
  pinned.with_hard_pin = true;
  ASSERT_TRUE(Put("filler", 64 * kKiB, pinned).ok());
  const std::string long_key(kSsdMaxKeyBytes + 1, 'k');
  auto started = core_->PutStart(long_key, kKiB, {});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_TRUE(Put(std::string(kSsdMaxKeyBytes, 'k'), kKiB).ok());
}

TEST_F(MasterCoreSsdTest, BothTiersFullIsAClearError) {
  MountNode("n", 64 * kKiB, 64 * kKiB);
  ReplicateConfig pinned;
  pinned.with_hard_pin = true;
  ASSERT_TRUE(Put("dram", 64 * kKiB, pinned).ok());
  ASSERT_TRUE(Put("ssd", 56 * kKiB, pinned).ok());  // 60 KiB with its header
  auto refused = core_->PutStart("more", 8 * kKiB, pinned);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_NE(refused.status().message().find("neither DRAM nor SSD"), std::string::npos)
      << refused.status().ToString();
}

TEST_F(MasterCoreSsdTest, AFreedSsdRangeStaysHeldUntilTheNodeAcknowledgesTheRemoval) {
  MountNode("n", 64 * kKiB, 64 * kKiB);
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  ASSERT_TRUE(Put("a", 8 * kKiB, on_ssd).ok());
  AckAll("n/ssd", "n");
  const uint64_t used = Used("n/ssd");
  ASSERT_TRUE(core_->Remove("a", RemoveMode::kNormal).ok());
  // The node has not erased the header yet: nothing may be written there.
  EXPECT_EQ(Used("n/ssd"), used);
  EXPECT_EQ(core_->QuarantinedRanges(), 1u);
  EXPECT_CONSISTENT(*core_);
  ManifestBatch batch = AckAll("n/ssd", "n");
  ASSERT_EQ(batch.changes.size(), 1u);
  EXPECT_TRUE(batch.changes[0].removed);
  EXPECT_EQ(batch.changes[0].entry.length, SsdAllocationBytes(8 * kKiB)) << "what to erase";
  EXPECT_EQ(Used("n/ssd"), 0u);
  EXPECT_EQ(core_->QuarantinedRanges(), 0u);
  // A revoked put was never announced: its range is free at once when nothing is pending.
  ASSERT_TRUE(core_->PutStart("b", kKiB, on_ssd).ok());
  ASSERT_TRUE(core_->PutRevoke("b").ok());
  EXPECT_EQ(Used("n/ssd"), 0u);
  // A node gone takes its quarantine with it.
  ASSERT_TRUE(Put("c", kKiB, on_ssd).ok());
  ASSERT_TRUE(core_->Remove("c", RemoveMode::kNormal).ok());
  EXPECT_EQ(core_->QuarantinedRanges(), 1u);
  EXPECT_EQ(core_->UnmountNode("n"), 2u);
  EXPECT_EQ(core_->QuarantinedRanges(), 0u);
}

TEST_F(MasterCoreSsdTest, ANodeRestartedWithANewEpochGetsItsSsdObjectsAdopted) {
  MountNode("n", 64 * kKiB, 1024 * kKiB, /*epoch=*/1);
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  ASSERT_TRUE(Put("kept", 5000, on_ssd).ok());
  ManifestBatch before = AckAll("n/ssd", "n");
  ASSERT_EQ(before.changes.size(), 1u);
  const ManifestEntry scanned = before.changes[0].entry;  // what the node's scan finds
  // kill -9, restart: the DRAM mount of epoch 2 drops everything of epoch 1 ...
  ASSERT_TRUE(core_->Mount(Dram("n", 2, 64 * kKiB)).ok());
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
      core_->MountWithManifest(Ssd("n", 2, 1024 * kKiB), {scanned, misaligned, wrong_length});
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
  auto other = Put("other", 5000, on_ssd);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->replicas[0].allocation.address, view->replicas[0].allocation.address);
}

TEST_F(MasterCoreSsdTest, DramEvictionDemotesColdObjectsAndSwapsTheReplicas) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  for (int i = 0; i < 12; ++i) {  // 96 KiB: above the 95% high watermark
    ASSERT_TRUE(Put("k" + std::to_string(i), 8 * kKiB).ok());
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
  EXPECT_EQ(task.source.segment, "n");
  EXPECT_EQ(task.destination.segment, "n/ssd") << "the same node's SSD";
  EXPECT_EQ(task.destination.address, kSsdBase + kSsdHeaderBytes);
  EXPECT_EQ(task.destination.length, 8 * kKiB);
  // Another Tick does not demote it twice nor drop others meanwhile.
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty());
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 0u);
  EXPECT_CONSISTENT(*core_);

  const uint64_t dram_before = Used("n");
  auto outcome = core_->CompleteRepair(task.task_id, "n", Status::Ok());
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, RepairOutcome::kAdded);
  EXPECT_EQ(core_->tier_stats().demotions_completed, 1u);
  EXPECT_EQ(Used("n"), dram_before - 8 * kKiB);
  auto view = core_->GetReplicaList("k0");
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->replicas.size(), 1u);
  EXPECT_EQ(view->replicas[0].medium, Medium::kSsd);
  EXPECT_EQ(view->replicas[0].allocation, task.destination);
  // The DRAM journal says the replica went; the SSD journal says it came (header to write).
  ManifestBatch dram = AckAll("n", "n");
  ASSERT_FALSE(dram.changes.empty());
  EXPECT_TRUE(dram.changes.back().removed);
  ManifestBatch ssd = AckAll("n/ssd", "n");
  ASSERT_EQ(ssd.changes.size(), 1u);
  EXPECT_FALSE(ssd.changes[0].removed);
  EXPECT_EQ(ssd.changes[0].entry.key, "k0");
}

TEST_F(MasterCoreSsdTest, AFailedOrMootDemotionKeepsTheDramReplica) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(Put("k" + std::to_string(i), 8 * kKiB).ok());
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

// ---- Promotion ---------------------------------------------------------------------------

class MasterCorePromotionTest : public MasterCoreSsdTest {
 protected:
  // An object of `size` bytes on n's SSD only (its DRAM replica-less put).
  void PutOnSsd(const std::string& key, uint64_t size) {
    ReplicateConfig on_ssd;
    on_ssd.medium = Medium::kSsd;
    ASSERT_TRUE(Put(key, size, on_ssd).ok());
  }
  // Reads `key` `n` times; each read must succeed.
  void Read(const std::string& key, int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(core_->GetReplicaList(key).ok());
  }
  // Reads `key` twice and runs a Tick: its promotion task for node n.
  CopyTask Promote(const std::string& key) {
    Read(key, 2);
    core_->Tick();
    std::vector<CopyTask> tasks = core_->TakeCopyTasks("n", 64);
    EXPECT_EQ(tasks.size(), 1u);
    return tasks.empty() ? CopyTask{} : tasks[0];
  }
  std::vector<Medium> Media(const std::string& key) {
    std::vector<Medium> media;
    auto view = core_->GetReplicaList(key);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    if (view.ok()) {
      for (const ReplicaView& r : view->replicas) media.push_back(r.medium);
    }
    std::sort(media.begin(), media.end());
    return media;
  }
};

TEST_F(MasterCorePromotionTest, SsdHitsAreCountedAndPromoteAfterTwoReads) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("cold", 8 * kKiB);
  ASSERT_TRUE(Put("hot", 8 * kKiB).ok());  // in DRAM: its reads are no SSD hits
  Read("hot", 3);
  EXPECT_EQ(core_->tier_stats().ssd_hits, 0u);
  // Probes are no hits either.
  ASSERT_TRUE(core_->ExistKey("cold").ok());
  ASSERT_TRUE(core_->GetSize("cold").ok());
  Read("cold", 1);
  EXPECT_EQ(core_->tier_stats().ssd_hits, 1u);
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty()) << "promoted after one hit";
  EXPECT_EQ(core_->tier_stats().promotions_scheduled, 0u);
  Read("cold", 1);
  EXPECT_EQ(core_->tier_stats().ssd_hits, 2u);
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty()) << "scheduled by Tick, not by the read";
  core_->Tick();
  std::vector<CopyTask> tasks = core_->TakeCopyTasks("n", 64);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(core_->tier_stats().promotions_scheduled, 1u);
  const CopyTask& task = tasks[0];
  EXPECT_EQ(task.key, "cold");
  EXPECT_EQ(task.size, 8 * kKiB);
  EXPECT_EQ(task.checksum, 7u);
  EXPECT_EQ(task.source.segment, "n/ssd");
  EXPECT_EQ(task.source.address, kSsdBase + kSsdHeaderBytes) << "the bytes past the header";
  EXPECT_EQ(task.destination.segment, "n") << "the same node's DRAM";
  EXPECT_EQ(task.destination.length, 8 * kKiB);
  EXPECT_EQ(task.destination_node, "n");
  // Invisible until reported; more hits while it runs schedule nothing more.
  EXPECT_EQ(Media("cold"), std::vector<Medium>{Medium::kSsd});
  Read("cold", 4);
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty());
  EXPECT_EQ(core_->tier_stats().promotions_scheduled, 1u);
  EXPECT_CONSISTENT(*core_);
}

TEST_F(MasterCorePromotionTest, PromotionPrefersTheSsdReplicasNodeAndIsBoundedPerTick) {
  MasterCoreOptions options;
  options.client_ttl = std::chrono::hours(24);
  options.repairs_per_tick = 2;
  core_ = MasterCore::Create(options, clock_).value();
  ASSERT_TRUE(core_->Mount(Dram("a", 1, 1024 * kKiB)).ok());  // no SSD on a
  MountNode("n", 1024 * kKiB, 1024 * kKiB);
  for (int i = 0; i < 5; ++i) {
    PutOnSsd("s" + std::to_string(i), 4 * kKiB);
    Read("s" + std::to_string(i), 2);
  }
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("a", 64).empty()) << "not the node holding the SSD copy";
  EXPECT_EQ(core_->TakeCopyTasks("n", 64).size(), 2u) << "repairs_per_tick bounds promotions";
  core_->Tick();
  EXPECT_EQ(core_->TakeCopyTasks("n", 64).size(), 2u);
  core_->Tick();
  EXPECT_EQ(core_->TakeCopyTasks("n", 64).size(), 1u);
  EXPECT_EQ(core_->tier_stats().promotions_scheduled, 5u);
}

TEST_F(MasterCorePromotionTest, OffWhenPromoteAfterHitsIsZero) {
  MasterCoreOptions options;
  options.client_ttl = std::chrono::hours(24);
  options.promote_after_hits = 0;
  core_ = MasterCore::Create(options, clock_).value();
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("cold", 8 * kKiB);
  Read("cold", 10);
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty());
  EXPECT_EQ(core_->tier_stats().ssd_hits, 10u) << "hits are still counted";
  EXPECT_EQ(core_->tier_stats().promotions_scheduled, 0u);
  options.promote_after_hits = 256;
  EXPECT_FALSE(options.Validate().ok());
}

TEST_F(MasterCorePromotionTest, CompletionKeepsTheSsdReplicaAndAddsTheDramOne) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("cold", 8 * kKiB);
  AckAll("n/ssd", "n");
  const uint64_t ssd_used = Used("n/ssd");
  const CopyTask task = Promote("cold");
  EXPECT_EQ(Used("n"), 8 * kKiB) << "the destination is held while the copy runs";
  auto outcome = core_->CompleteRepair(task.task_id, "n", Status::Ok());
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, RepairOutcome::kAdded);
  EXPECT_EQ(core_->tier_stats().promotions_completed, 1u);
  EXPECT_EQ(Media("cold"), (std::vector<Medium>{Medium::kDram, Medium::kSsd}));
  EXPECT_EQ(Used("n/ssd"), ssd_used);
  EXPECT_EQ(Used("n"), 8 * kKiB);
  auto view = core_->GetReplicaList("cold");
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->replicas.size(), 2u);
  EXPECT_EQ(view->replicas[0].medium, Medium::kDram) << "readers try DRAM first";
  EXPECT_EQ(view->replicas[0].allocation, task.destination);
  // The DRAM manifest learns of it; the SSD one loses nothing (its header stays).
  ManifestBatch dram = AckAll("n", "n");
  ASSERT_EQ(dram.changes.size(), 1u);
  EXPECT_FALSE(dram.changes[0].removed);
  EXPECT_EQ(dram.changes[0].entry.key, "cold");
  auto ssd = core_->TakeManifestChanges("n/ssd", "n", 0, 64);
  ASSERT_TRUE(ssd.ok());
  EXPECT_TRUE(ssd->changes.empty());
  // On both tiers: reads are no SSD hits any more, and nothing is promoted again.
  const uint64_t hits = core_->tier_stats().ssd_hits;
  Read("cold", 5);
  core_->Tick();
  EXPECT_EQ(core_->tier_stats().ssd_hits, hits);
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty());
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
}

TEST_F(MasterCorePromotionTest, AFailedPromotionChangesNothing) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("cold", 8 * kKiB);
  const CopyTask task = Promote("cold");
  auto failed =
      core_->CompleteRepair(task.task_id, "n", Status(StatusCode::kTransferFail, "read error"));
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(*failed, RepairOutcome::kFailed);
  EXPECT_EQ(core_->tier_stats().promotions_failed, 1u);
  EXPECT_EQ(core_->tier_stats().promotions_completed, 0u);
  EXPECT_EQ(Media("cold"), std::vector<Medium>{Medium::kSsd});
  EXPECT_EQ(Used("n"), 0u) << "the destination is freed";
  // Tried again after promote_after_hits fresh hits (Media above was the first).
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty()) << "its hits start over";
  Read("cold", 1);
  core_->Tick();
  EXPECT_EQ(core_->TakeCopyTasks("n", 64).size(), 1u);
}

TEST_F(MasterCorePromotionTest, RemoveOrUpsertCancelsThePromotion) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("removed", 8 * kKiB);
  PutOnSsd("upserted", 8 * kKiB);
  CopyTask task = Promote("removed");
  ASSERT_TRUE(core_->Remove("removed", RemoveMode::kForce).ok());  // leased by the reads
  EXPECT_EQ(Used("n"), 8 * kKiB) << "handed out: held until the node reports";
  auto moot = core_->CompleteRepair(task.task_id, "n", Status::Ok());
  ASSERT_TRUE(moot.ok());
  EXPECT_EQ(*moot, RepairOutcome::kDropped);
  EXPECT_EQ(Used("n"), 0u);
  EXPECT_FALSE(core_->ExistKey("removed").value());
  EXPECT_EQ(core_->tier_stats().promotions_completed, 0u);

  task = Promote("upserted");
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  ASSERT_TRUE(core_->UpsertStart("upserted", 4 * kKiB, on_ssd).ok());
  ASSERT_TRUE(core_->PutEnd("upserted", 9).ok());
  moot = core_->CompleteRepair(task.task_id, "n", Status::Ok());
  ASSERT_TRUE(moot.ok());
  EXPECT_EQ(*moot, RepairOutcome::kDropped);
  auto view = core_->GetReplicaList("upserted");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->size, 4 * kKiB);
  ASSERT_EQ(view->replicas.size(), 1u);
  EXPECT_EQ(view->replicas[0].medium, Medium::kSsd);
  EXPECT_EQ(Used("n"), 0u);
  // A never handed out promotion is cancelled at once.
  Read("upserted", 1);  // the new version's second hit (the view above was its first)
  core_->Tick();
  ASSERT_EQ(core_->RepairsInFlight(), 1u);
  ASSERT_TRUE(core_->Remove("upserted", RemoveMode::kForce).ok());
  EXPECT_EQ(Used("n"), 0u);
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty());
  EXPECT_EQ(core_->RepairsInFlight(), 0u);
}

TEST_F(MasterCorePromotionTest, NoPromotionWhenDramWouldGoAboveTheHighWatermark) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(Put("d" + std::to_string(i), 8 * kKiB).ok());
  PutOnSsd("cold", 8 * kKiB);  // 88 + 8 KiB > 95 % of 100 KiB
  Read("cold", 3);
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty());
  EXPECT_EQ(core_->tier_stats().promotions_scheduled, 0u);
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 0u) << "a promotion never evicts";
  EXPECT_EQ(Used("n"), 88 * kKiB);
  // Room again: the next hit queues it once more.
  clock_.Advance(std::chrono::seconds(6));
  ASSERT_TRUE(core_->Remove("d0", RemoveMode::kNormal).ok());
  Read("cold", 1);
  core_->Tick();
  EXPECT_EQ(core_->TakeCopyTasks("n", 64).size(), 1u);
}

TEST_F(MasterCorePromotionTest, DramEvictionOfAPromotedObjectOnlyDropsItsDramReplica) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("promoted", 8 * kKiB);
  const CopyTask task = Promote("promoted");
  ASSERT_EQ(*core_->CompleteRepair(task.task_id, "n", Status::Ok()), RepairOutcome::kAdded);
  AckAll("n", "n");
  AckAll("n/ssd", "n");
  const uint64_t ssd_used = Used("n/ssd");
  clock_.Advance(std::chrono::seconds(6));  // its read lease lapses; it is the coldest
  // 8 + 88 KiB: above the 95 % high watermark.
  for (int i = 0; i < 11; ++i) {
    clock_.Advance(std::chrono::milliseconds(1));
    ASSERT_TRUE(Put("d" + std::to_string(i), 8 * kKiB).ok());
  }
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty()) << "no demotion copy";
  EXPECT_EQ(core_->tier_stats().demotions_scheduled, 0u);
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 1u);
  EXPECT_EQ(Used("n"), 88 * kKiB);
  EXPECT_EQ(Used("n/ssd"), ssd_used);
  EXPECT_EQ(Media("promoted"), std::vector<Medium>{Medium::kSsd});
  for (int i = 0; i < 11; ++i) EXPECT_TRUE(core_->ExistKey("d" + std::to_string(i)).value());
  // The DRAM manifest drops it; the SSD one keeps it (no header erased).
  ManifestBatch dram = AckAll("n", "n");
  ASSERT_FALSE(dram.changes.empty());
  bool removed = false;
  for (const ManifestChange& c : dram.changes) removed |= c.removed && c.entry.key == "promoted";
  EXPECT_TRUE(removed);
  auto ssd = core_->TakeManifestChanges("n/ssd", "n", 0, 64);
  ASSERT_TRUE(ssd.ok());
  EXPECT_TRUE(ssd->changes.empty());
}

TEST_F(MasterCorePromotionTest, AMasterRestartAdoptsBothTiersOfAPromotedObject) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("promoted", 8 * kKiB);
  const CopyTask task = Promote("promoted");
  ASSERT_EQ(*core_->CompleteRepair(task.task_id, "n", Status::Ok()), RepairOutcome::kAdded);
  std::vector<ManifestEntry> dram;
  for (const ManifestChange& c : AckAll("n", "n").changes) dram.push_back(c.entry);
  std::vector<ManifestEntry> ssd;
  for (const ManifestChange& c : AckAll("n/ssd", "n").changes) ssd.push_back(c.entry);
  ASSERT_EQ(dram.size(), 1u);
  ASSERT_EQ(ssd.size(), 1u);
  // A new master: the node re-mounts both segments with their manifests.
  MasterCoreOptions options;
  options.client_ttl = std::chrono::hours(24);
  core_ = MasterCore::Create(options, clock_).value();
  auto a = core_->MountWithManifest(Dram("n", 1, 100 * kKiB), dram);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->adopted, 1u);
  auto b = core_->MountWithManifest(Ssd("n", 1, 1024 * kKiB), ssd);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->adopted, 1u) << "the SSD copy is no conflict with the node's DRAM one";
  EXPECT_TRUE(b->rejected_keys.empty());
  EXPECT_EQ(Media("promoted"), (std::vector<Medium>{Medium::kDram, Medium::kSsd}));
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
}

TEST_F(MasterCorePromotionTest, APromotedCopyOnTheSameNodeIsNoSecondReplica) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  MountNode("b", 100 * kKiB, 8 * kKiB);  // too small an SSD for the object
  ReplicateConfig two_on_ssd;
  two_on_ssd.medium = Medium::kSsd;
  two_on_ssd.replica_num = 2;
  auto placed = Put("two", 8 * kKiB, two_on_ssd);
  ASSERT_TRUE(placed.ok()) << placed.status().ToString();
  EXPECT_EQ(placed->replicas_short, 1);
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
  const CopyTask task = Promote("two");
  EXPECT_EQ(task.destination.segment, "n");
  ASSERT_EQ(*core_->CompleteRepair(task.task_id, "n", Status::Ok()), RepairOutcome::kAdded);
  EXPECT_EQ(Media("two"), (std::vector<Medium>{Medium::kDram, Medium::kSsd}));
  // Still one node: still below target, so re-replication keeps looking for a second node.
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
}

// ---- Per-tier hits ------------------------------------------------------------------------

TEST_F(MasterCorePromotionTest, ADramReadIsADramHitAnSsdOnlyReadAnSsdHitAndAMissNeither) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  ASSERT_TRUE(Put("hot", 8 * kKiB).ok());
  PutOnSsd("cold", 8 * kKiB);
  Read("hot", 3);
  EXPECT_EQ(core_->tier_stats().dram_hits, 3u);
  EXPECT_EQ(core_->tier_stats().ssd_hits, 0u);
  Read("cold", 1);
  EXPECT_EQ(core_->tier_stats().dram_hits, 3u);
  EXPECT_EQ(core_->tier_stats().ssd_hits, 1u);
  // Misses: a key never put, and a put still in flight (invisible).
  EXPECT_EQ(core_->GetReplicaList("absent").status().code(), StatusCode::kObjectNotFound);
  ASSERT_TRUE(core_->PutStart("pending", 8 * kKiB, {}).ok());
  EXPECT_EQ(core_->GetReplicaList("pending").status().code(), StatusCode::kObjectNotFound);
  // Probes are no hits.
  ASSERT_TRUE(core_->ExistKey("hot").ok());
  ASSERT_TRUE(core_->GetSize("hot").ok());
  EXPECT_EQ(core_->tier_stats().dram_hits, 3u);
  EXPECT_EQ(core_->tier_stats().ssd_hits, 1u);
  ASSERT_TRUE(core_->PutRevoke("pending").ok());
}

TEST_F(MasterCorePromotionTest, APromotedObjectOnBothTiersIsADramHit) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("cold", 8 * kKiB);
  const CopyTask task = Promote("cold");  // two SSD hits
  ASSERT_EQ(*core_->CompleteRepair(task.task_id, "n", Status::Ok()), RepairOutcome::kAdded);
  EXPECT_EQ(core_->tier_stats().dram_hits, 0u);
  Read("cold", 2);
  EXPECT_EQ(core_->tier_stats().dram_hits, 2u);
  EXPECT_EQ(core_->tier_stats().ssd_hits, 2u);
}

TEST_F(MasterCorePromotionTest, ABatchLookupCountsOneHitPerKey) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  ASSERT_TRUE(Put("hot-1", 4 * kKiB).ok());
  ASSERT_TRUE(Put("hot-2", 4 * kKiB).ok());
  PutOnSsd("cold", 4 * kKiB);
  // BatchGetReplicaList looks the keys up one by one under one lock, as here.
  int found = 0;
  for (const char* key : {"hot-1", "cold", "absent", "hot-2", "hot-1"}) {
    found += core_->GetReplicaList(key).ok() ? 1 : 0;
  }
  EXPECT_EQ(found, 4);
  EXPECT_EQ(core_->tier_stats().dram_hits, 3u);
  EXPECT_EQ(core_->tier_stats().ssd_hits, 1u);
}

TEST_F(MasterCorePromotionTest, SsdHitsFarApartDecayAndPromoteNothing) {
  MountNode("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("rare", 8 * kKiB);
  // A read a minute and more after the last one starts the count over (promote_hit_window).
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(std::chrono::seconds(61));
    Read("rare", 1);
    core_->Tick();
    EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty()) << "read " << i;
  }
  EXPECT_EQ(core_->tier_stats().ssd_hits, 4u);
  // Two reads close together are hot.
  clock_.Advance(std::chrono::seconds(61));
  Read("rare", 1);
  clock_.Advance(std::chrono::seconds(30));
  Read("rare", 1);
  core_->Tick();
  EXPECT_EQ(core_->TakeCopyTasks("n", 64).size(), 1u);
}

}  // namespace
}  // namespace mooncake::master
