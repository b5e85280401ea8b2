// MasterCore's eviction: watermarks, LRU order, leases and pins, synchronous eviction in puts.

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "master/core/lru_eviction_policy.h"
#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// 100 one-KiB objects fill the pool exactly: with the default watermarks (0.95, 0.05) Tick
// evicts once more than 95 objects are stored, down to 90.
constexpr uint64_t kPoolBytes = 100 * kKiB;

class MasterCoreEvictionTest : public MasterCoreFixture {
 protected:
  void SetUp() override {
    CreateCore();
    MountNode("a", kPoolBytes);
  }

  // Puts a one-KiB object, then moves time on by 1 ms so LRU order follows put order.
  void Put(const std::string& key, const ReplicateConfig& config = {}) {
    PutOk(key, kKiB, config);
    clock_.Advance(milliseconds(1));
  }
  void PutMany(const std::string& prefix, int n, const ReplicateConfig& config = {}) {
    for (int i = 0; i < n; ++i) Put(prefix + std::to_string(i), config);
  }
  bool Exists(const std::string& key) const { return *core_->ExistKey(key); }

  static ReplicateConfig HardPinned() {
    ReplicateConfig config;
    config.with_hard_pin = true;
    return config;
  }
  static ReplicateConfig SoftPinned(milliseconds ttl) {
    ReplicateConfig config;
    config.soft_pin_ttl = ttl;
    return config;
  }
};

TEST(MasterCoreEvictionOptionsTest, WatermarksAreValidated) {
  MasterCoreOptions options;
  EXPECT_TRUE(options.Validate().ok());
  for (auto [high, ratio] : {std::pair{0.95, 0.0},
                             {0.95, -0.1},
                             {0.5, 0.5},
                             {0.5, 0.6},
                             {1.1, 0.05},
                             {NAN, 0.05},
                             {0.95, NAN}}) {
    options.eviction_high_watermark = high;
    options.eviction_ratio = ratio;
    EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidParams) << high << " " << ratio;
  }
  options.eviction_high_watermark = 1.0;
  options.eviction_ratio = 0.5;
  EXPECT_TRUE(options.Validate().ok());
}

TEST(LruEvictionPolicyTest, UnpinnedOldestFirstThenSoftPinned) {
  const TimePoint t0{};
  std::vector<EvictionCandidate> c = {{"soft-old", t0, true},
                                      {"new", t0 + seconds(2), false},
                                      {"old-b", t0 + seconds(1), false},
                                      {"old-a", t0 + seconds(1), false}};
  LruEvictionPolicy().Order(c);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].key, "old-a");
  EXPECT_EQ(c[1].key, "old-b");
  EXPECT_EQ(c[2].key, "new");
  EXPECT_EQ(c[3].key, "soft-old");
}

TEST_F(MasterCoreEvictionTest, TickEvictsLeastRecentlyUsedDownToLowWatermark) {
  PutMany("k", 95);
  core_->Tick();  // 95% is not above the high watermark.
  EXPECT_EQ(core_->eviction_stats().runs, 0u);
  EXPECT_EQ(core_->ObjectCount(), 95u);

  Put("k95");
  ASSERT_TRUE(core_->GetReplicaList("k0").ok());  // k0 becomes the most recently used...
  clock_.Advance(seconds(6));                     // ...and its lease lapses.
  core_->Tick();
  EXPECT_EQ(core_->eviction_stats().runs, 1u);
  EXPECT_EQ(core_->ObjectCount(), 90u);
  EXPECT_EQ(Used(), 90 * kKiB);
  EXPECT_TRUE(Exists("k0"));
  for (int i = 1; i <= 6; ++i) EXPECT_FALSE(Exists("k" + std::to_string(i))) << i;
  for (int i = 7; i <= 95; ++i) EXPECT_TRUE(Exists("k" + std::to_string(i))) << i;
  EXPECT_TRUE(core_->segment_pool().CheckConsistency().ok());
}

TEST_F(MasterCoreEvictionTest, LeasedAndHardPinnedAreNeverEvicted) {
  PutMany("pin", 60, HardPinned());
  PutMany("lease", 40);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(core_->GetReplicaList("lease" + std::to_string(i)).ok());
  core_->Tick();
  EXPECT_EQ(core_->ObjectCount(), 100u);
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 0u);
  EXPECT_EQ(core_->eviction_stats().skipped_pinned, 60u);
  EXPECT_EQ(core_->eviction_stats().skipped_leased, 40u);
  // Nothing can make room: the put fails, and the index is unchanged.
  EXPECT_EQ(core_->PutStart("new", kKiB, {}).status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_EQ(core_->ObjectCount(), 100u);
  // Once the leases lapse the leased objects are ordinary; pinned ones still never go.
  clock_.Advance(seconds(31));
  core_->Tick();
  EXPECT_EQ(core_->ObjectCount(), 90u);
  for (int i = 0; i < 60; ++i) EXPECT_TRUE(Exists("pin" + std::to_string(i)));
}

TEST_F(MasterCoreEvictionTest, SoftPinnedGoAfterUnpinnedAndTtlExpires) {
  PutMany("soft", 10, SoftPinned(seconds(60)));  // the oldest objects
  PutMany("plain", 3);
  PutMany("pin", 83, HardPinned());
  core_->Tick();  // 96 objects: 6 must go, the 3 unpinned first, then the 3 oldest soft.
  EXPECT_EQ(core_->ObjectCount(), 90u);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Exists("plain" + std::to_string(i)));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Exists("soft" + std::to_string(i)));
  for (int i = 3; i < 10; ++i) EXPECT_TRUE(Exists("soft" + std::to_string(i)));

  // Before the TTL, newer unpinned objects go before the older soft-pinned ones.
  PutMany("fresh", 6);
  core_->Tick();
  for (int i = 3; i < 10; ++i) EXPECT_TRUE(Exists("soft" + std::to_string(i)));
  for (int i = 0; i < 6; ++i) EXPECT_FALSE(Exists("fresh" + std::to_string(i)));

  // After it they are ordinary, and as the least recently used they go first.
  clock_.Advance(seconds(61));
  PutMany("late", 6);
  core_->Tick();
  for (int i = 3; i < 9; ++i) EXPECT_FALSE(Exists("soft" + std::to_string(i))) << i;
  EXPECT_TRUE(Exists("soft9"));
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(Exists("late" + std::to_string(i)));
}

TEST_F(MasterCoreEvictionTest, PutThatDoesNotFitEvictsSynchronously) {
  PutMany("k", 100);
  EXPECT_EQ(Used(), kPoolBytes);
  // Larger than any segment: evicting could not help, so nothing is evicted.
  EXPECT_EQ(core_->PutStart("huge", 2 * kPoolBytes, {}).status().code(),
            StatusCode::kNoAvailableHandle);
  EXPECT_EQ(core_->ObjectCount(), 100u);
  EXPECT_EQ(core_->eviction_stats().runs, 0u);
  auto put = core_->PutStart("big", 4 * kKiB, {});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(core_->eviction_stats().runs, 1u);
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 10u);  // down to the low watermark
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(Exists("k" + std::to_string(i)));
  EXPECT_TRUE(Exists("k10"));
  ASSERT_TRUE(core_->PutEnd("big", 2).ok());

  // An upsert that does not fit evicts too, but never the key being upserted (the oldest).
  PutMany("m", 6);  // full again: 90 + 4 + 6 KiB
  ASSERT_EQ(Used(), kPoolBytes);
  ASSERT_TRUE(core_->UpsertStart("k10", 2 * kKiB, {}).ok());
  EXPECT_EQ(core_->eviction_stats().runs, 2u);
  EXPECT_TRUE(Exists("k10"));
  EXPECT_FALSE(Exists("k11"));
  ASSERT_TRUE(core_->PutEnd("k10", 3).ok());
  EXPECT_EQ(*core_->GetSize("k10"), 2 * kKiB);
  EXPECT_TRUE(core_->segment_pool().CheckConsistency().ok());
}

TEST_F(MasterCoreEvictionTest, ExistKeyProbesDoNotStarvePuts) {
  PutMany("k", 100);
  int next = 100;
  for (int iteration = 0; iteration < 500; ++iteration) {
    // A tight loop of probes over every key ever written: no lease, no LRU refresh.
    for (int i = 0; i < next; ++i) ASSERT_TRUE(core_->ExistKey("k" + std::to_string(i)).ok());
    auto put = core_->PutStart("k" + std::to_string(next), kKiB, {});
    ASSERT_TRUE(put.ok()) << "iteration " << iteration << ": " << put.status().ToString();
    ASSERT_TRUE(core_->PutEnd("k" + std::to_string(next), 1).ok());
    ++next;
    clock_.Advance(milliseconds(1));
  }
  EXPECT_EQ(core_->eviction_stats().skipped_leased, 0u);
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 500u);
  EXPECT_TRUE(Exists("k599"));
  EXPECT_FALSE(Exists("k0"));
  EXPECT_TRUE(core_->segment_pool().CheckConsistency().ok());
}

TEST_F(MasterCoreEvictionTest, EvictionCountersAddUp) {
  PutMany("pin", 20, HardPinned());
  PutMany("lease", 10);
  Put("upsert");
  PutMany("plain", 68);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(core_->GetReplicaList("lease" + std::to_string(i)).ok());
  ASSERT_TRUE(core_->UpsertStart("upsert", kKiB, {}).ok());  // in flight; the pool is full
  ASSERT_EQ(Used(), kPoolBytes);
  const size_t objects_before = core_->ObjectCount();
  const uint64_t used_before = Used();

  core_->Tick();
  const EvictionStats& stats = core_->eviction_stats();
  EXPECT_EQ(stats.runs, 1u);
  EXPECT_EQ(stats.evicted_objects, 10u);
  EXPECT_EQ(stats.evicted_objects, objects_before - core_->ObjectCount());
  EXPECT_EQ(stats.evicted_bytes, used_before - Used());
  EXPECT_EQ(stats.skipped_pinned, 20u);
  EXPECT_EQ(stats.skipped_leased, 10u);
  EXPECT_EQ(stats.skipped_in_flight, 1u);
  // Every visible object the run looked at was evicted, skipped, or left as a candidate.
  const uint64_t left_candidates = 68 - stats.evicted_objects;
  EXPECT_EQ(stats.evicted_objects + stats.skipped_pinned + stats.skipped_leased +
                stats.skipped_in_flight + left_candidates,
            objects_before);
  ASSERT_TRUE(core_->PutEnd("upsert", 2).ok());
}

}  // namespace
}  // namespace mooncake::master
