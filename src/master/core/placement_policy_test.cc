// The placement seam: DramFirstPlacement's answers, and a MasterCore built with another policy
// following it (a put that does not fit evicts in DRAM instead of spilling to SSD; eviction
// drops instead of demoting; nothing is promoted).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "master/core/dram_first_placement.h"
#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::master {
namespace {

using Room = PutStep::Room;

TEST(DramFirstPlacementTest, SpillsDramPutsToSsdBeforeEvictingOnlyWhenAnSsdTierExists) {
  DramFirstPlacement policy;
  SegmentPool pool;
  const std::vector<PutStep> dram_only{{Medium::kDram, Room::kFreeOnly},
                                       {Medium::kDram, Room::kEvictFirst}};
  EXPECT_EQ(policy.PutSteps(Medium::kDram, 10, pool), dram_only);
  EXPECT_EQ(policy.DemotionTarget(Medium::kDram, pool), std::nullopt);

  ASSERT_TRUE(pool.Mount(SegmentSpec{"ssd", "n", 1, Medium::kSsd, kSsdBase, kMiB}).ok());
  const std::vector<PutStep> tiered{{Medium::kDram, Room::kFreeOnly},
                                    {Medium::kSsd, Room::kFreeOnly},
                                    {Medium::kDram, Room::kEvictFirst},
                                    {Medium::kSsd, Room::kEvictFirst}};
  EXPECT_EQ(policy.PutSteps(Medium::kDram, 10, pool), tiered);
  // A key an SSD header cannot hold, and puts that asked for another medium, stay where asked.
  EXPECT_EQ(policy.PutSteps(Medium::kDram, kSsdMaxKeyBytes + 1, pool), dram_only);
  const std::vector<PutStep> vram{{Medium::kVram, Room::kFreeOnly},
                                  {Medium::kVram, Room::kEvictFirst}};
  EXPECT_EQ(policy.PutSteps(Medium::kVram, 10, pool), vram);
  EXPECT_EQ(policy.DemotionTarget(Medium::kDram, pool), Medium::kSsd);
  EXPECT_EQ(policy.DemotionTarget(Medium::kVram, pool), std::nullopt);
  EXPECT_EQ(policy.PromotionTarget(Medium::kSsd), Medium::kDram);
  EXPECT_EQ(policy.PromotionTarget(Medium::kDram), std::nullopt);
}

// Keeps every medium to itself: no spilling, no demotion, no promotion.
class EachMediumAlonePlacement final : public PlacementPolicy {
 public:
  std::vector<PutStep> PutSteps(Medium requested, size_t, const SegmentPool&) const override {
    return {{requested, Room::kFreeOnly}, {requested, Room::kEvictFirst}};
  }
  std::optional<Medium> DemotionTarget(Medium, const SegmentPool&) const override {
    return std::nullopt;
  }
  std::optional<Medium> PromotionTarget(Medium) const override { return std::nullopt; }
};

class PlacementPolicyCoreTest : public MasterCoreFixture,
                                public ::testing::WithParamInterface<bool> {
 protected:
  // The parameter: the core uses EachMediumAlonePlacement (true) or the default (false).
  bool custom() const { return GetParam(); }

  void SetUp() override {
    MasterCorePolicies policies;
    if (custom()) policies.placement = std::make_unique<EachMediumAlonePlacement>();
    CreateCore(TestOptions(), std::move(policies));
    journal_ = Journal::kTracked;
    MountTiers("n", 100 * kKiB, 1024 * kKiB);
  }
  // A put, one millisecond after the previous one: LRU order = put order.
  Result<PutStartResult> Put(const std::string& key, uint64_t size) {
    clock_.Advance(std::chrono::milliseconds(1));
    return TryPut(key, size);
  }
};

TEST_P(PlacementPolicyCoreTest, APutThatDoesNotFitFollowsThePolicy) {
  ASSERT_TRUE(Put("cold", 90 * kKiB).ok());
  auto started = Put("new", 16 * kKiB);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  if (custom()) {
    EXPECT_EQ(started->replicas[0].medium, Medium::kDram);
    EXPECT_FALSE(core_->ExistKey("cold").value()) << "evicted to make room in DRAM";
    EXPECT_EQ(core_->tier_stats().ssd_puts, 0u);
  } else {
    EXPECT_EQ(started->replicas[0].medium, Medium::kSsd);
    EXPECT_TRUE(core_->ExistKey("cold").value()) << "spilled to SSD, nothing dropped";
    EXPECT_EQ(core_->tier_stats().ssd_puts, 1u);
  }
}

TEST_P(PlacementPolicyCoreTest, EvictionAboveTheWatermarkDemotesOnlyWhereThePolicySays) {
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(Put("k" + std::to_string(i), 8 * kKiB).ok());
  core_->Tick();  // 96 KiB of 100: above the 95% high watermark
  if (custom()) {
    EXPECT_EQ(core_->tier_stats().demotions_scheduled, 0u);
    EXPECT_GE(core_->eviction_stats().evicted_objects, 1u);
    EXPECT_FALSE(core_->ExistKey("k0").value()) << "the coldest dropped";
  } else {
    EXPECT_EQ(core_->tier_stats().demotions_scheduled, 1u);
    EXPECT_EQ(core_->eviction_stats().evicted_objects, 0u);
    EXPECT_TRUE(core_->ExistKey("k0").value()) << "kept while its demotion runs";
  }
}

TEST_P(PlacementPolicyCoreTest, ObjectsOnlyOnSsdArePromotedOnlyWhereThePolicySays) {
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  ASSERT_TRUE(core_->PutStart("hot", 8 * kKiB, on_ssd).ok());
  ASSERT_TRUE(core_->PutEnd("hot", 7).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(core_->GetReplicaList("hot").ok());
  core_->Tick();
  EXPECT_EQ(core_->tier_stats().promotions_scheduled, custom() ? 0u : 1u);
}

INSTANTIATE_TEST_SUITE_P(DefaultAndCustom, PlacementPolicyCoreTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "EachMediumAlone" : "DramFirst";
                         });

}  // namespace
}  // namespace mooncake::master
