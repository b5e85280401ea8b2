#include "master/core/segment_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mooncake::master {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

SegmentSpec Spec(std::string name, NodeId node, Epoch epoch, Medium medium = Medium::kDram,
                 uint64_t base = 0x10000, uint64_t size = kMiB) {
  return SegmentSpec{std::move(name), std::move(node), epoch, medium, base, size};
}

void MountOk(SegmentPool& pool, const SegmentSpec& spec) {
  auto dropped = pool.Mount(spec);
  ASSERT_TRUE(dropped.ok()) << dropped.status().ToString();
  EXPECT_THAT(*dropped, IsEmpty());
}

void ExpectConsistent(const SegmentPool& pool) {
  Status s = pool.CheckConsistency();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

Allocation AllocateOk(SegmentPool& pool, std::string_view segment, uint64_t size) {
  auto allocation = pool.Allocate(segment, size);
  EXPECT_TRUE(allocation.ok()) << allocation.status().ToString();
  return allocation.value_or(Allocation{});
}

Allocation AllocateOnOk(SegmentPool& pool, Medium medium, uint64_t size,
                        const std::vector<std::string>& preferred = {},
                        const std::set<NodeId>& excluded = {}) {
  auto allocation = pool.AllocateOnMedium(medium, size, preferred, excluded);
  EXPECT_TRUE(allocation.ok()) << allocation.status().ToString();
  return allocation.value_or(Allocation{});
}

uint64_t Used(const SegmentPool& pool, std::string_view segment) {
  auto info = pool.Find(segment);
  EXPECT_TRUE(info.has_value()) << segment;
  return info ? info->used : kMax;
}

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
