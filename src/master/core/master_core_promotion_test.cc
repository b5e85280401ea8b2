// Promotion in the master core: objects read only from SSD are promoted to DRAM after
// promote_after_hits reads close together and then live on both tiers; hits per tier.
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

class MasterCorePromotionTest : public MasterCoreFixture {
 protected:
  // Every segment journals its manifest, as nodes with an SSD tier do.
  MasterCorePromotionTest() { journal_ = Journal::kTracked; }

  // An object of `size` bytes on n's SSD only (its DRAM replica-less put).
  void PutOnSsd(const std::string& key, uint64_t size) {
    ASSERT_TRUE(TryPut(key, size, OnMedium(Medium::kSsd)).ok());
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
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("cold", 8 * kKiB);
  ASSERT_TRUE(TryPut("hot", 8 * kKiB).ok());  // in DRAM: its reads are no SSD hits
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
  EXPECT_EQ(task.source.segment, "seg-n/ssd");
  EXPECT_EQ(task.source.address, kSsdBase + kSsdHeaderBytes) << "the bytes past the header";
  EXPECT_EQ(task.destination.segment, "seg-n") << "the same node's DRAM";
  EXPECT_EQ(task.destination.length, 8 * kKiB);
  EXPECT_EQ(task.destination_node, "n");
  // Invisible until reported; more hits while it runs schedule nothing more.
  EXPECT_EQ(Media("cold"), std::vector<Medium>{Medium::kSsd});
  Read("cold", 4);
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty());
  EXPECT_EQ(core_->tier_stats().promotions_scheduled, 1u);
  ExpectConsistent();
}

TEST_F(MasterCorePromotionTest, PromotionPrefersTheSsdReplicasNodeAndIsBoundedPerTick) {
  MasterCoreOptions options = TestOptions();
  options.repairs_per_tick = 2;
  CreateCore(options);
  ASSERT_TRUE(core_->Mount(Dram("a", 1024 * kKiB, 1)).ok());  // no SSD on a
  MountTiers("n", 1024 * kKiB, 1024 * kKiB);
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
  MasterCoreOptions options = TestOptions();
  options.promote_after_hits = 0;
  CreateCore(options);
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
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
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("cold", 8 * kKiB);
  AckAll("seg-n/ssd", "n");
  const uint64_t ssd_used = UsedOn("seg-n/ssd");
  const CopyTask task = Promote("cold");
  EXPECT_EQ(UsedOn("seg-n"), 8 * kKiB) << "the destination is held while the copy runs";
  auto outcome = core_->CompleteRepair(task.task_id, "n", Status::Ok());
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, RepairOutcome::kAdded);
  EXPECT_EQ(core_->tier_stats().promotions_completed, 1u);
  EXPECT_EQ(Media("cold"), (std::vector<Medium>{Medium::kDram, Medium::kSsd}));
  EXPECT_EQ(UsedOn("seg-n/ssd"), ssd_used);
  EXPECT_EQ(UsedOn("seg-n"), 8 * kKiB);
  auto view = core_->GetReplicaList("cold");
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->replicas.size(), 2u);
  EXPECT_EQ(view->replicas[0].medium, Medium::kDram) << "readers try DRAM first";
  EXPECT_EQ(view->replicas[0].allocation, task.destination);
  // The DRAM manifest learns of it; the SSD one loses nothing (its header stays).
  ManifestBatch dram = AckAll("seg-n", "n");
  ASSERT_EQ(dram.changes.size(), 1u);
  EXPECT_FALSE(dram.changes[0].removed);
  EXPECT_EQ(dram.changes[0].entry.key, "cold");
  auto ssd = core_->TakeManifestChanges("seg-n/ssd", "n", 0, 64);
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
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("cold", 8 * kKiB);
  const CopyTask task = Promote("cold");
  auto failed =
      core_->CompleteRepair(task.task_id, "n", Status(StatusCode::kTransferFail, "read error"));
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(*failed, RepairOutcome::kFailed);
  EXPECT_EQ(core_->tier_stats().promotions_failed, 1u);
  EXPECT_EQ(core_->tier_stats().promotions_completed, 0u);
  EXPECT_EQ(Media("cold"), std::vector<Medium>{Medium::kSsd});
  EXPECT_EQ(UsedOn("seg-n"), 0u) << "the destination is freed";
  // Tried again after promote_after_hits fresh hits (Media above was the first).
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty()) << "its hits start over";
  Read("cold", 1);
  core_->Tick();
  EXPECT_EQ(core_->TakeCopyTasks("n", 64).size(), 1u);
}

TEST_F(MasterCorePromotionTest, RemoveOrUpsertCancelsThePromotion) {
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("removed", 8 * kKiB);
  PutOnSsd("upserted", 8 * kKiB);
  CopyTask task = Promote("removed");
  ASSERT_TRUE(core_->Remove("removed", RemoveMode::kForce).ok());  // leased by the reads
  EXPECT_EQ(UsedOn("seg-n"), 8 * kKiB) << "handed out: held until the node reports";
  auto moot = core_->CompleteRepair(task.task_id, "n", Status::Ok());
  ASSERT_TRUE(moot.ok());
  EXPECT_EQ(*moot, RepairOutcome::kDropped);
  EXPECT_EQ(UsedOn("seg-n"), 0u);
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
  EXPECT_EQ(UsedOn("seg-n"), 0u);
  // A never handed out promotion is cancelled at once.
  Read("upserted", 1);  // the new version's second hit (the view above was its first)
  core_->Tick();
  ASSERT_EQ(core_->RepairsInFlight(), 1u);
  ASSERT_TRUE(core_->Remove("upserted", RemoveMode::kForce).ok());
  EXPECT_EQ(UsedOn("seg-n"), 0u);
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty());
  EXPECT_EQ(core_->RepairsInFlight(), 0u);
}

TEST_F(MasterCorePromotionTest, NoPromotionWhenDramWouldGoAboveTheHighWatermark) {
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(TryPut("d" + std::to_string(i), 8 * kKiB).ok());
  PutOnSsd("cold", 8 * kKiB);  // 88 + 8 KiB > 95 % of 100 KiB
  Read("cold", 3);
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty());
  EXPECT_EQ(core_->tier_stats().promotions_scheduled, 0u);
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 0u) << "a promotion never evicts";
  EXPECT_EQ(UsedOn("seg-n"), 88 * kKiB);
  // Room again: the next hit queues it once more.
  clock_.Advance(std::chrono::seconds(6));
  ASSERT_TRUE(core_->Remove("d0", RemoveMode::kNormal).ok());
  Read("cold", 1);
  core_->Tick();
  EXPECT_EQ(core_->TakeCopyTasks("n", 64).size(), 1u);
}

TEST_F(MasterCorePromotionTest, DramEvictionOfAPromotedObjectOnlyDropsItsDramReplica) {
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("promoted", 8 * kKiB);
  const CopyTask task = Promote("promoted");
  ASSERT_EQ(*core_->CompleteRepair(task.task_id, "n", Status::Ok()), RepairOutcome::kAdded);
  AckAll("seg-n", "n");
  AckAll("seg-n/ssd", "n");
  const uint64_t ssd_used = UsedOn("seg-n/ssd");
  clock_.Advance(std::chrono::seconds(6));  // its read lease lapses; it is the coldest
  // 8 + 88 KiB: above the 95 % high watermark.
  for (int i = 0; i < 11; ++i) {
    clock_.Advance(std::chrono::milliseconds(1));
    ASSERT_TRUE(TryPut("d" + std::to_string(i), 8 * kKiB).ok());
  }
  core_->Tick();
  EXPECT_TRUE(core_->TakeCopyTasks("n", 64).empty()) << "no demotion copy";
  EXPECT_EQ(core_->tier_stats().demotions_scheduled, 0u);
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 1u);
  EXPECT_EQ(UsedOn("seg-n"), 88 * kKiB);
  EXPECT_EQ(UsedOn("seg-n/ssd"), ssd_used);
  EXPECT_EQ(Media("promoted"), std::vector<Medium>{Medium::kSsd});
  for (int i = 0; i < 11; ++i) EXPECT_TRUE(core_->ExistKey("d" + std::to_string(i)).value());
  // The DRAM manifest drops it; the SSD one keeps it (no header erased).
  ManifestBatch dram = AckAll("seg-n", "n");
  ASSERT_FALSE(dram.changes.empty());
  bool removed = false;
  for (const ManifestChange& c : dram.changes) removed |= c.removed && c.entry.key == "promoted";
  EXPECT_TRUE(removed);
  auto ssd = core_->TakeManifestChanges("seg-n/ssd", "n", 0, 64);
  ASSERT_TRUE(ssd.ok());
  EXPECT_TRUE(ssd->changes.empty());
}

TEST_F(MasterCorePromotionTest, AMasterRestartAdoptsBothTiersOfAPromotedObject) {
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("promoted", 8 * kKiB);
  const CopyTask task = Promote("promoted");
  ASSERT_EQ(*core_->CompleteRepair(task.task_id, "n", Status::Ok()), RepairOutcome::kAdded);
  std::vector<ManifestEntry> dram;
  for (const ManifestChange& c : AckAll("seg-n", "n").changes) dram.push_back(c.entry);
  std::vector<ManifestEntry> ssd;
  for (const ManifestChange& c : AckAll("seg-n/ssd", "n").changes) ssd.push_back(c.entry);
  ASSERT_EQ(dram.size(), 1u);
  ASSERT_EQ(ssd.size(), 1u);
  // A new master: the node re-mounts both segments with their manifests.
  CreateCore();
  auto a = core_->MountWithManifest(Dram("n", 100 * kKiB, 1), dram);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->adopted, 1u);
  auto b = core_->MountWithManifest(Ssd("n", 1024 * kKiB, 1), ssd);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->adopted, 1u) << "the SSD copy is no conflict with the node's DRAM one";
  EXPECT_TRUE(b->rejected_keys.empty());
  EXPECT_EQ(Media("promoted"), (std::vector<Medium>{Medium::kDram, Medium::kSsd}));
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
}

TEST_F(MasterCorePromotionTest, APromotedCopyOnTheSameNodeIsNoSecondReplica) {
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  MountTiers("b", 100 * kKiB, 8 * kKiB);  // too small an SSD for the object
  ReplicateConfig two_on_ssd;
  two_on_ssd.medium = Medium::kSsd;
  two_on_ssd.replica_num = 2;
  auto placed = TryPut("two", 8 * kKiB, two_on_ssd);
  ASSERT_TRUE(placed.ok()) << placed.status().ToString();
  EXPECT_EQ(placed->replicas_short, 1);
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
  const CopyTask task = Promote("two");
  EXPECT_EQ(task.destination.segment, "seg-n");
  ASSERT_EQ(*core_->CompleteRepair(task.task_id, "n", Status::Ok()), RepairOutcome::kAdded);
  EXPECT_EQ(Media("two"), (std::vector<Medium>{Medium::kDram, Medium::kSsd}));
  // Still one node: still below target, so re-replication keeps looking for a second node.
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
}

// ---- Per-tier hits ------------------------------------------------------------------------

TEST_F(MasterCorePromotionTest, ADramReadIsADramHitAnSsdOnlyReadAnSsdHitAndAMissNeither) {
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  ASSERT_TRUE(TryPut("hot", 8 * kKiB).ok());
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
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  PutOnSsd("cold", 8 * kKiB);
  const CopyTask task = Promote("cold");  // two SSD hits
  ASSERT_EQ(*core_->CompleteRepair(task.task_id, "n", Status::Ok()), RepairOutcome::kAdded);
  EXPECT_EQ(core_->tier_stats().dram_hits, 0u);
  Read("cold", 2);
  EXPECT_EQ(core_->tier_stats().dram_hits, 2u);
  EXPECT_EQ(core_->tier_stats().ssd_hits, 2u);
}

TEST_F(MasterCorePromotionTest, ABatchLookupCountsOneHitPerKey) {
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
  ASSERT_TRUE(TryPut("hot-1", 4 * kKiB).ok());
  ASSERT_TRUE(TryPut("hot-2", 4 * kKiB).ok());
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
  MountTiers("n", 100 * kKiB, 1024 * kKiB);
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
