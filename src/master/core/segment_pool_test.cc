// SegmentPool: mounting and unmounting segments by node and epoch; allocating, freeing and
// reserving ranges in one segment. Placement over segments: segment_pool_placement_test.cc.
#include "master/core/segment_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "master/core/segment_pool_test_util.h"

namespace mooncake::master {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// ---- Mount / Unmount ----

TEST(SegmentPoolTest, MountedSegmentIsFoundWithItsSpec) {
  SegmentPool pool;
  MountOk(pool, Spec("seg-a", "node-1", 7, Medium::kVram, 0x7f0000000000, 4 * kMiB));
  auto info = pool.Find("seg-a");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->name, "seg-a");
  EXPECT_EQ(info->node_id, "node-1");
  EXPECT_EQ(info->epoch, 7u);
  EXPECT_EQ(info->medium, Medium::kVram);
  EXPECT_EQ(info->base, 0x7f0000000000u);
  EXPECT_EQ(info->capacity, 4 * kMiB);
  EXPECT_EQ(info->used, 0u);
  EXPECT_EQ(info->fragmentation, 0.0);
  EXPECT_FALSE(pool.Find("seg-b").has_value());
  EXPECT_EQ(pool.Nodes(), std::set<NodeId>{"node-1"});
  EXPECT_EQ(pool.NodeEpoch("node-1"), std::optional<Epoch>(7));
  EXPECT_EQ(pool.NodeEpoch("node-2"), std::nullopt);
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, MountRejectsInvalidSpecsAndChangesNothing) {
  SegmentPool pool;
  const std::vector<SegmentSpec> bad = {
      Spec("", "node-1", 1),
      Spec("seg", "", 1),
      Spec("seg", "node-1", 1, Medium::kDram, 0x1000, 0),
      Spec("seg", "node-1", 1, Medium::kDram, kMax - 10, 11),
      Spec("seg", "node-1", 1, Medium::kDram, kMax, 1),
  };
  for (const SegmentSpec& spec : bad) {
    auto result = pool.Mount(spec);
    ASSERT_FALSE(result.ok()) << spec.name << "/" << spec.node_id << "/" << spec.size;
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidParams);
  }
  EXPECT_THAT(pool.List(), IsEmpty());
  EXPECT_THAT(pool.Nodes(), IsEmpty());
  EXPECT_EQ(pool.NodeEpoch("node-1"), std::nullopt);
  // The last byte of the address space is usable: base + size == 2^64 - 1 does not overflow.
  MountOk(pool, Spec("top", "node-1", 1, Medium::kDram, kMax - 10, 10));
}

TEST(SegmentPoolTest, SameEpochDuplicateMountIsRefused) {
  SegmentPool pool;
  MountOk(pool, Spec("seg-a", "node-1", 3));
  Allocation a = AllocateOk(pool, "seg-a", kKiB);
  auto again = pool.Mount(Spec("seg-a", "node-1", 3, Medium::kSsd, 0x999, 2 * kMiB));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kSegmentAlreadyExists);
  // The original mount and its allocations are untouched.
  auto info = pool.Find("seg-a");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->medium, Medium::kDram);
  EXPECT_EQ(info->capacity, kMiB);
  EXPECT_EQ(info->allocations, 1u);
  EXPECT_TRUE(pool.Free(a).ok());
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, SegmentNameOfAnotherNodeIsRefusedWhateverTheEpoch) {
  SegmentPool pool;
  MountOk(pool, Spec("seg-a", "node-1", 3));
  for (Epoch epoch : {Epoch{1}, Epoch{3}, Epoch{100}}) {
    auto result = pool.Mount(Spec("seg-a", "node-2", epoch));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kSegmentAlreadyExists);
    EXPECT_THAT(result.status().message(), HasSubstr("node-1"));
  }
  EXPECT_EQ(pool.Find("seg-a")->node_id, "node-1");
  EXPECT_EQ(pool.NodeEpoch("node-2"), std::nullopt);
  EXPECT_EQ(pool.Nodes(), std::set<NodeId>{"node-1"});
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, NewerEpochDropsEveryOldSegmentAndReportsThem) {
  SegmentPool pool;
  MountOk(pool, Spec("n1-a", "node-1", 1));
  MountOk(pool, Spec("n1-b", "node-1", 1, Medium::kSsd));
  MountOk(pool, Spec("n2-a", "node-2", 1));
  AllocateOk(pool, "n1-a", 100 * kKiB);
  AllocateOk(pool, "n2-a", 10 * kKiB);

  // The restarted node-1 re-mounts n1-a (fresh, empty) and nothing else yet.
  auto dropped = pool.Mount(Spec("n1-a", "node-1", 2));
  ASSERT_TRUE(dropped.ok()) << dropped.status().ToString();
  EXPECT_THAT(*dropped, ElementsAre("n1-a", "n1-b"));
  EXPECT_FALSE(pool.Find("n1-b").has_value());
  auto fresh = pool.Find("n1-a");
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->epoch, 2u);
  EXPECT_EQ(fresh->used, 0u);
  EXPECT_EQ(pool.NodeEpoch("node-1"), std::optional<Epoch>(2));
  // The other node is untouched.
  EXPECT_EQ(Used(pool, "n2-a"), 10 * kKiB);
  ExpectConsistent(pool);

  // A second segment of the new epoch drops nothing.
  MountOk(pool, Spec("n1-c", "node-1", 2));
  EXPECT_EQ(pool.List().size(), 3u);
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, OlderEpochIsRefusedAsStale) {
  SegmentPool pool;
  MountOk(pool, Spec("seg-a", "node-1", 5));
  for (const char* name : {"seg-a", "seg-new"}) {
    auto stale = pool.Mount(Spec(name, "node-1", 4));
    ASSERT_FALSE(stale.ok());
    EXPECT_EQ(stale.status().code(), StatusCode::kInvalidVersion);
    EXPECT_THAT(stale.status().message(), HasSubstr("stale epoch"));
  }
  EXPECT_EQ(pool.Find("seg-a")->epoch, 5u);
  EXPECT_FALSE(pool.Find("seg-new").has_value());
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, StaleEpochStaysRefusedAfterTheNodeWasUnmounted) {
  SegmentPool pool;
  MountOk(pool, Spec("seg-a", "node-1", 5));
  EXPECT_THAT(pool.UnmountNode("node-1"), ElementsAre("seg-a"));
  EXPECT_EQ(pool.NodeEpoch("node-1"), std::optional<Epoch>(5));
  auto stale = pool.Mount(Spec("seg-a", "node-1", 4));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kInvalidVersion);
  // The same incarnation may mount again (nothing is left to drop).
  MountOk(pool, Spec("seg-a", "node-1", 5));
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, UnmountChecksNameOwnerAndEpoch) {
  SegmentPool pool;
  MountOk(pool, Spec("seg-a", "node-1", 2));
  MountOk(pool, Spec("seg-b", "node-1", 2));

  Status unknown = pool.Unmount("seg-x", "node-1", 2);
  EXPECT_EQ(unknown.code(), StatusCode::kSegmentNotFound);
  Status wrong_node = pool.Unmount("seg-a", "node-2", 2);
  EXPECT_EQ(wrong_node.code(), StatusCode::kInvalidParams);
  Status wrong_epoch = pool.Unmount("seg-a", "node-1", 1);
  EXPECT_EQ(wrong_epoch.code(), StatusCode::kInvalidParams);
  EXPECT_TRUE(pool.Find("seg-a").has_value());

  EXPECT_TRUE(pool.Unmount("seg-a", "node-1", 2).ok());
  EXPECT_FALSE(pool.Find("seg-a").has_value());
  EXPECT_EQ(pool.Unmount("seg-a", "node-1", 2).code(), StatusCode::kSegmentNotFound);
  EXPECT_EQ(pool.Nodes(), std::set<NodeId>{"node-1"});
  EXPECT_TRUE(pool.Unmount("seg-b", "node-1", 2).ok());
  EXPECT_THAT(pool.Nodes(), IsEmpty());
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, UnmountedNameCanBeMountedByAnotherNode) {
  SegmentPool pool;
  MountOk(pool, Spec("seg-a", "node-1", 1));
  ASSERT_TRUE(pool.Unmount("seg-a", "node-1", 1).ok());
  MountOk(pool, Spec("seg-a", "node-2", 1));
  EXPECT_EQ(pool.Find("seg-a")->node_id, "node-2");
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, UnmountNodeRemovesAllOfItsSegmentsOnly) {
  SegmentPool pool;
  MountOk(pool, Spec("n1-b", "node-1", 1, Medium::kDram));
  MountOk(pool, Spec("n1-a", "node-1", 1, Medium::kSsd));
  MountOk(pool, Spec("n2-a", "node-2", 1, Medium::kDram));
  AllocateOk(pool, "n1-b", kKiB);

  EXPECT_THAT(pool.UnmountNode("node-1"), ElementsAre("n1-a", "n1-b"));
  EXPECT_FALSE(pool.Find("n1-a").has_value());
  EXPECT_FALSE(pool.Find("n1-b").has_value());
  EXPECT_TRUE(pool.Find("n2-a").has_value());
  EXPECT_EQ(pool.Nodes(), std::set<NodeId>{"node-2"});
  EXPECT_THAT(pool.UnmountNode("node-1"), IsEmpty());
  EXPECT_THAT(pool.UnmountNode("never-seen"), IsEmpty());
  EXPECT_EQ(pool.Usage(Medium::kSsd).capacity, 0u);
  ExpectConsistent(pool);
}

// ---- Allocate / Free / Reserve ----

TEST(SegmentPoolTest, AllocationsAreAbsoluteAddressesInsideTheSegment) {
  SegmentPool pool;
  const uint64_t base = 0x7f12'3456'0000;
  MountOk(pool, Spec("seg", "node-1", 1, Medium::kDram, base, kMiB));
  Allocation a = AllocateOk(pool, "seg", 1000);
  Allocation b = AllocateOk(pool, "seg", 5000);
  EXPECT_EQ(a.segment, "seg");
  EXPECT_EQ(a.length, 1000u);
  EXPECT_EQ(b.length, 5000u);
  for (const Allocation& x : {a, b}) {
    EXPECT_GE(x.address, base);
    EXPECT_LE(x.address + x.length, base + kMiB);
    EXPECT_EQ((x.address - base) % 64, 0u);
  }
  // Disjoint.
  EXPECT_TRUE(a.address + a.length <= b.address || b.address + b.length <= a.address);
  EXPECT_GE(Used(pool, "seg"), 6000u);
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, AllocateErrors) {
  SegmentPool pool;
  MountOk(pool, Spec("seg", "node-1", 1, Medium::kDram, 0x1000, 4 * kKiB));
  EXPECT_EQ(pool.Allocate("nope", 10).status().code(), StatusCode::kSegmentNotFound);
  EXPECT_EQ(pool.Allocate("seg", 0).status().code(), StatusCode::kInvalidParams);
  auto too_big = pool.Allocate("seg", 4 * kKiB + 1);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_THAT(too_big.status().message(), HasSubstr("seg"));
  // The whole segment fits exactly.
  Allocation all = AllocateOk(pool, "seg", 4 * kKiB);
  EXPECT_EQ(all.address, 0x1000u);
  EXPECT_EQ(pool.Allocate("seg", 1).status().code(), StatusCode::kNoAvailableHandle);
}

TEST(SegmentPoolTest, FreeReturnsTheSpace) {
  SegmentPool pool;
  MountOk(pool, Spec("seg", "node-1", 1, Medium::kDram, 0x1000, 4 * kKiB));
  Allocation all = AllocateOk(pool, "seg", 4 * kKiB);
  ASSERT_TRUE(pool.Free(all).ok());
  EXPECT_EQ(Used(pool, "seg"), 0u);
  Allocation again = AllocateOk(pool, "seg", 4 * kKiB);
  EXPECT_EQ(again, all);
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, FreeOfUnknownAllocationIsRefusedWithoutDamage) {
  SegmentPool pool;
  const uint64_t base = 0x100000;
  MountOk(pool, Spec("seg", "node-1", 1, Medium::kDram, base, kMiB));
  MountOk(pool, Spec("other", "node-1", 1, Medium::kDram, 0x900000, kMiB));
  Allocation a = AllocateOk(pool, "seg", 1000);
  Allocation b = AllocateOk(pool, "seg", 2000);
  const uint64_t used = Used(pool, "seg");

  const std::vector<std::pair<Allocation, StatusCode>> bad = {
      {{"nope", a.address, a.length}, StatusCode::kSegmentNotFound},
      {{"other", a.address, a.length}, StatusCode::kInvalidParams},     // another segment's range
      {{"seg", a.address + 64, a.length}, StatusCode::kInvalidParams},  // inside a
      {{"seg", a.address, 0}, StatusCode::kInvalidParams},
      {{"seg", a.address, 500}, StatusCode::kInvalidParams},   // wrong length
      {{"seg", a.address, 4000}, StatusCode::kInvalidParams},  // wrong length
      {{"seg", base - 64, 64}, StatusCode::kInvalidParams},    // below the base
      {{"seg", base + kMiB, 64}, StatusCode::kInvalidParams},  // past the end
      {{"seg", kMax, 1}, StatusCode::kInvalidParams},
      {{"seg", base + 512 * kKiB, 64}, StatusCode::kInvalidParams},  // free space
  };
  for (const auto& [allocation, code] : bad) {
    // CheckHeld judges exactly as Free does, without freeing.
    EXPECT_EQ(pool.CheckHeld(allocation.segment, allocation.address, allocation.length).code(),
              code);
    Status s = pool.Free(allocation);
    EXPECT_EQ(s.code(), code) << allocation.segment << " " << allocation.address << " "
                              << allocation.length << ": " << s.ToString();
  }
  EXPECT_TRUE(pool.CheckHeld("seg", a.address, a.length).ok());
  EXPECT_TRUE(pool.CheckHeld("seg", b.address, b.length).ok());
  EXPECT_EQ(Used(pool, "seg"), used);
  EXPECT_EQ(pool.Find("seg")->allocations, 2u);
  ExpectConsistent(pool);

  ASSERT_TRUE(pool.Free(a).ok());
  EXPECT_EQ(pool.Free(a).code(), StatusCode::kInvalidParams);  // double free
  EXPECT_EQ(pool.CheckHeld("seg", a.address, a.length).code(), StatusCode::kInvalidParams);
  // The overload that takes the segment's name apart from the range.
  ASSERT_TRUE(pool.Free(std::string_view("seg"), b.address, b.length).ok());
  EXPECT_EQ(Used(pool, "seg"), 0u);
  ExpectConsistent(pool);
}

TEST(SegmentPoolTest, ReserveTakesTheAbsoluteRangeGiven) {
  SegmentPool pool;
  const uint64_t base = 0x200000;
  MountOk(pool, Spec("seg", "node-1", 1, Medium::kDram, base, 8 * kKiB));
  // A manifest entry at offset 1000, length 3000 (unaligned on purpose).
  ASSERT_TRUE(pool.Reserve("seg", base + 1000, 3000).ok());
  EXPECT_EQ(Used(pool, "seg"), 3000u);
  // Overlaps and out-of-range reservations are refused.
  EXPECT_EQ(pool.Reserve("seg", base + 3999, 10).code(), StatusCode::kInvalidParams);
  EXPECT_EQ(pool.Reserve("seg", base - 1, 10).code(), StatusCode::kInvalidParams);
  EXPECT_EQ(pool.Reserve("seg", base + 8 * kKiB - 10, 11).code(), StatusCode::kInvalidParams);
  EXPECT_EQ(pool.Reserve("seg", base + 5000, kMax).code(), StatusCode::kInvalidParams);
  EXPECT_EQ(pool.Reserve("seg", base + 5000, 0).code(), StatusCode::kInvalidParams);
  EXPECT_EQ(pool.Reserve("nope", base, 10).code(), StatusCode::kSegmentNotFound);
  EXPECT_EQ(Used(pool, "seg"), 3000u);
  // Allocations avoid the reserved range.
  Allocation a = AllocateOk(pool, "seg", 4 * kKiB);
  EXPECT_TRUE(a.address >= base + 4000 || a.address + a.length <= base + 1000);
  // Released with Free on the same absolute range.
  // The length must match (within the allocator's alignment padding of 64 bytes).
  EXPECT_EQ(pool.Free({"seg", base + 1000, 3001}).code(), StatusCode::kInvalidParams);
  EXPECT_EQ(pool.Free({"seg", base + 1000, 3000 - 64}).code(), StatusCode::kInvalidParams);
  ASSERT_TRUE(pool.Free({"seg", base + 1000, 3000}).ok());
  ASSERT_TRUE(pool.Free(a).ok());
  EXPECT_EQ(Used(pool, "seg"), 0u);
  ExpectConsistent(pool);
}

}  // namespace
}  // namespace mooncake::master
