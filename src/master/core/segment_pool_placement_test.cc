// SegmentPool: placement over the segments of a medium (AllocateOnMedium), usage per medium,
// and the segment listing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "master/core/segment_pool.h"
#include "master/core/segment_pool_test_util.h"

namespace mooncake::master {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---- AllocateOnMedium ----

TEST(SegmentPoolTest, AllocateOnMediumTriesPreferredSegmentsInOrder) {
  SegmentPool pool;
  MountOk(pool, Spec("big", "node-1", 1, Medium::kDram, 0x10000, 8 * kMiB));
  MountOk(pool, Spec("small-1", "node-2", 1, Medium::kDram, 0x10000, 64 * kKiB));
  MountOk(pool, Spec("small-2", "node-3", 1, Medium::kDram, 0x10000, 64 * kKiB));

  EXPECT_EQ(AllocateOnOk(pool, Medium::kDram, 32 * kKiB, {"small-2", "small-1"}).segment,
            "small-2");
  // small-2 has no room for another 40 KiB: the next preference wins, not the least loaded.
  EXPECT_EQ(AllocateOnOk(pool, Medium::kDram, 40 * kKiB, {"small-2", "small-1"}).segment,
            "small-1");
  // Unknown preferences and those of another medium are skipped.
  MountOk(pool, Spec("ssd", "node-1", 1, Medium::kSsd, 0x10000, 64 * kMiB));
  EXPECT_EQ(AllocateOnOk(pool, Medium::kDram, 1 * kKiB, {"ghost", "ssd", "small-2"}).segment,
            "small-2");
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, AllocateOnMediumFallsBackToTheLeastLoadedSegment) {
  SegmentPool pool;
  MountOk(pool, Spec("a", "node-1", 1, Medium::kDram, 0x10000, kMiB));
  MountOk(pool, Spec("b", "node-2", 1, Medium::kDram, 0x10000, kMiB));
  MountOk(pool, Spec("c", "node-3", 1, Medium::kDram, 0x10000, kMiB));
  AllocateOk(pool, "a", 300 * kKiB);
  AllocateOk(pool, "b", 100 * kKiB);
  AllocateOk(pool, "c", 200 * kKiB);

  // b has the most free bytes, then c, then a.
  EXPECT_EQ(AllocateOnOk(pool, Medium::kDram, 150 * kKiB).segment, "b");  // b: 250 used
  EXPECT_EQ(AllocateOnOk(pool, Medium::kDram, 150 * kKiB).segment, "c");  // c: 350 used
  EXPECT_EQ(AllocateOnOk(pool, Medium::kDram, 10 * kKiB).segment, "b");   // b: 260 used
  // A full preferred segment falls through to the least loaded one.
  // a (724 KiB free) is preferred but too full; b (764) beats c (674).
  EXPECT_EQ(AllocateOnOk(pool, Medium::kDram, 750 * kKiB, {"a"}).segment, "b");
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, AllocateOnMediumSkipsExcludedNodes) {
  SegmentPool pool;
  MountOk(pool, Spec("n1-a", "node-1", 1, Medium::kDram, 0x10000, 8 * kMiB));
  MountOk(pool, Spec("n1-b", "node-1", 1, Medium::kDram, 0x10000, 8 * kMiB));
  MountOk(pool, Spec("n2-a", "node-2", 1, Medium::kDram, 0x10000, kMiB));

  // Three replicas of one object: each excludes the nodes already used.
  std::set<NodeId> used_nodes;
  Allocation first = AllocateOnOk(pool, Medium::kDram, kKiB, {}, used_nodes);
  EXPECT_EQ(pool.Find(first.segment)->node_id, "node-1");
  used_nodes.insert("node-1");
  // Even when preferred, an excluded node's segment is skipped.
  Allocation second = AllocateOnOk(pool, Medium::kDram, kKiB, {"n1-b"}, used_nodes);
  EXPECT_EQ(second.segment, "n2-a");
  used_nodes.insert("node-2");
  auto third = pool.AllocateOnMedium(Medium::kDram, kKiB, {}, used_nodes);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), StatusCode::kNoAvailableHandle);
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, AllocateOnMediumNeverPicksAnotherMedium) {
  SegmentPool pool;
  MountOk(pool, Spec("dram", "node-1", 1, Medium::kDram, 0x10000, 64 * kKiB));
  MountOk(pool, Spec("ssd", "node-2", 1, Medium::kSsd, 0x10000, 64 * kMiB));
  MountOk(pool, Spec("vram", "node-3", 1, Medium::kVram, 0x10000, 64 * kMiB));

  EXPECT_EQ(AllocateOnOk(pool, Medium::kDram, 60 * kKiB).segment, "dram");
  auto full = pool.AllocateOnMedium(Medium::kDram, 60 * kKiB, {"ssd", "vram"}, {});
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_EQ(AllocateOnOk(pool, Medium::kSsd, kMiB, {"vram"}).segment, "ssd");
  EXPECT_EQ(AllocateOnOk(pool, Medium::kVram, kMiB, {"ssd"}).segment, "vram");
  EXPECT_EQ(pool.Usage(Medium::kDram).used, 60 * kKiB);
}

TEST(SegmentPoolTest, AllocateOnMediumFailureNamesMediumSizeAndFreeBytes) {
  SegmentPool pool;
  MountOk(pool, Spec("a", "node-1", 1, Medium::kVram, 0x10000, 64 * kKiB));
  MountOk(pool, Spec("b", "node-2", 1, Medium::kVram, 0x10000, 64 * kKiB));
  auto result = pool.AllocateOnMedium(Medium::kVram, 100 * kKiB, {}, {"node-2"});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_THAT(result.status().message(), AllOf(HasSubstr("VRAM"), HasSubstr("102400"),
                                               HasSubstr("131072"), HasSubstr("65536")));
  // No segments of the medium at all.
  auto none = pool.AllocateOnMedium(Medium::kSsd, 1, {}, {});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_THAT(none.status().message(), HasSubstr("SSD"));
  EXPECT_EQ(pool.AllocateOnMedium(Medium::kVram, 0, {}, {}).status().code(),
            StatusCode::kInvalidParams);
  EXPECT_EQ(pool.Usage(Medium::kVram).used, 0u);
}

// ---- Usage ----

TEST(SegmentPoolTest, UsagePerMediumAddsUpThroughAllocateFreeAndUnmount) {
  SegmentPool pool;
  MountOk(pool, Spec("d1", "node-1", 1, Medium::kDram, 0x10000, kMiB));
  MountOk(pool, Spec("d2", "node-2", 1, Medium::kDram, 0x10000, 2 * kMiB));
  MountOk(pool, Spec("s1", "node-1", 1, Medium::kSsd, 0x10000, 16 * kMiB));
  EXPECT_EQ(pool.Usage(Medium::kDram).capacity, 3 * kMiB);
  EXPECT_EQ(pool.Usage(Medium::kSsd).capacity, 16 * kMiB);
  EXPECT_EQ(pool.Usage(Medium::kVram).capacity, 0u);

  Allocation a = AllocateOk(pool, "d1", 64 * kKiB);
  Allocation b = AllocateOk(pool, "d2", 128 * kKiB);
  Allocation c = AllocateOk(pool, "s1", kMiB);
  EXPECT_EQ(pool.Usage(Medium::kDram).used, 192 * kKiB);
  EXPECT_EQ(pool.Usage(Medium::kSsd).used, kMiB);

  // Usage equals the sum over List().
  uint64_t listed_dram_used = 0;
  for (const SegmentInfo& info : pool.List()) {
    if (info.medium == Medium::kDram) listed_dram_used += info.used;
  }
  EXPECT_EQ(listed_dram_used, pool.Usage(Medium::kDram).used);

  ASSERT_TRUE(pool.Free(a).ok());
  EXPECT_EQ(pool.Usage(Medium::kDram).used, 128 * kKiB);
  EXPECT_THAT(pool.UnmountNode("node-2"), ElementsAre("d2"));
  EXPECT_EQ(pool.Usage(Medium::kDram).capacity, kMiB);
  EXPECT_EQ(pool.Usage(Medium::kDram).used, 0u);
  EXPECT_EQ(pool.Usage(Medium::kSsd).used, kMiB);
  ASSERT_TRUE(pool.Unmount("s1", "node-1", 1).ok());
  EXPECT_EQ(pool.Usage(Medium::kSsd).capacity, 0u);
  EXPECT_EQ(pool.Usage(Medium::kSsd).used, 0u);
  // Frees of allocations in vanished segments are refused.
  EXPECT_EQ(pool.Free(b).code(), StatusCode::kSegmentNotFound);
  EXPECT_EQ(pool.Free(c).code(), StatusCode::kSegmentNotFound);
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, ListReportsFragmentation) {
  SegmentPool pool;
  MountOk(pool, Spec("seg", "node-1", 1, Medium::kDram, 0, 64 * kKiB));
  std::vector<Allocation> allocations;
  for (int i = 0; i < 16; ++i) allocations.push_back(AllocateOk(pool, "seg", 4 * kKiB));
  for (size_t i = 0; i < allocations.size(); i += 2) ASSERT_TRUE(pool.Free(allocations[i]).ok());
  std::vector<SegmentInfo> list = pool.List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].used, 32 * kKiB);
  EXPECT_EQ(list[0].largest_free_block, 4 * kKiB);
  EXPECT_DOUBLE_EQ(list[0].fragmentation, 1.0 - 4.0 / 32.0);
}

TEST(MediumTest, NamesEveryMedium) {
  EXPECT_STREQ(MediumName(Medium::kDram), "DRAM");
  EXPECT_STREQ(MediumName(Medium::kVram), "VRAM");
  EXPECT_STREQ(MediumName(Medium::kSsd), "SSD");
  EXPECT_STREQ(MediumName(static_cast<Medium>(9)), "UNKNOWN");
}

}  // namespace
}  // namespace mooncake::master
