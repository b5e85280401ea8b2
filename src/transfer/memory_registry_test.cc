#include "transfer/memory_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

namespace mooncake::transfer {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
// Addresses are bookkeeping only: the registry never touches the memory.
constexpr uint64_t kBase = 0x10000;
constexpr uint64_t kLen = 0x1000;

TEST(MemoryRegistryTest, ContainsRespectsTheRegionEdges) {
  MemoryRegistry registry;
  ASSERT_TRUE(registry.Register(kBase, kLen, "cpu").ok());

  EXPECT_TRUE(registry.Contains(kBase, kLen));
  EXPECT_TRUE(registry.Contains(kBase, 1));
  EXPECT_TRUE(registry.Contains(kBase + kLen - 1, 1)) << "last byte";
  EXPECT_FALSE(registry.Contains(kBase + kLen, 1)) << "one past the end";
  EXPECT_FALSE(registry.Contains(kBase + kLen - 1, 2)) << "straddles the end";
  EXPECT_FALSE(registry.Contains(kBase - 1, 1)) << "one before the start";
  EXPECT_FALSE(registry.Contains(kBase - 1, 2)) << "straddles the start";
  EXPECT_FALSE(registry.Contains(kBase, kLen + 1));
  EXPECT_TRUE(registry.Contains(kBase + 10, 0)) << "empty range inside";
  EXPECT_FALSE(registry.Contains(0, 1));
}

TEST(MemoryRegistryTest, ContainsDoesNotSpanAdjacentRegions) {
  MemoryRegistry registry;
  ASSERT_TRUE(registry.Register(kBase, kLen, "cpu").ok());
  ASSERT_TRUE(registry.Register(kBase + kLen, kLen, "cpu").ok());
  EXPECT_TRUE(registry.Contains(kBase + kLen, kLen));
  EXPECT_FALSE(registry.Contains(kBase + kLen - 1, 2));
}

TEST(MemoryRegistryTest, ContainsWithOverflowingRangeIsFalse) {
  MemoryRegistry registry;
  ASSERT_TRUE(registry.Register(kBase, kLen, "cpu").ok());
  // address + length wraps to a small value that a naive end check would accept.
  EXPECT_FALSE(registry.Contains(kBase + 1, kMax));
  EXPECT_FALSE(registry.Contains(kBase, kMax));
  EXPECT_FALSE(registry.Contains(kMax, 2));
  EXPECT_FALSE(registry.Contains(kMax, kMax));
  EXPECT_FALSE(registry.Contains(kBase + kLen - 1, kMax - kLen));
}

TEST(MemoryRegistryTest, EmptyRegionIsRefused) {
  MemoryRegistry registry;
  Status s = registry.Register(kBase, 0, "cpu");
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("empty"));
}

TEST(MemoryRegistryTest, WrapAroundIsRefused) {
  MemoryRegistry registry;
  Status s = registry.Register(kMax - 10, 100, "cpu");
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("wraps"));
  EXPECT_FALSE(registry.Contains(kMax - 10, 1));
  EXPECT_TRUE(registry.Snapshot().empty());
}

TEST(MemoryRegistryTest, OverlapWithALaterRegionIsRefused) {
  MemoryRegistry registry;
  ASSERT_TRUE(registry.Register(kBase, kLen, "cpu").ok());
  // New region starts before and reaches into the registered one.
  Status s = registry.Register(kBase - 0x100, 0x101, "cpu");
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("overlaps"));
  // Ending exactly at the start is fine.
  EXPECT_TRUE(registry.Register(kBase - 0x100, 0x100, "cpu").ok());
}

TEST(MemoryRegistryTest, OverlapWithAnEarlierRegionIsRefused) {
  MemoryRegistry registry;
  ASSERT_TRUE(registry.Register(kBase, kLen, "cpu").ok());
  // New region starts inside the registered one.
  Status s = registry.Register(kBase + kLen - 1, 0x100, "cpu");
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("overlaps"));
  // Starting exactly at the end is fine.
  EXPECT_TRUE(registry.Register(kBase + kLen, 0x100, "cpu").ok());
}

TEST(MemoryRegistryTest, SameStartOrEnclosingRegionIsRefused) {
  MemoryRegistry registry;
  ASSERT_TRUE(registry.Register(kBase, kLen, "cpu").ok());
  EXPECT_FALSE(registry.Register(kBase, 1, "cpu").ok());
  EXPECT_FALSE(registry.Register(kBase + 1, 1, "cpu").ok()) << "strictly inside";
  EXPECT_FALSE(registry.Register(kBase - 1, kLen + 2, "cpu").ok()) << "encloses";
  EXPECT_EQ(registry.Snapshot().size(), 1u);
}

TEST(MemoryRegistryTest, UnregisterOfUnknownAddressIsRefused) {
  MemoryRegistry registry;
  ASSERT_TRUE(registry.Register(kBase, kLen, "cpu").ok());
  Status s = registry.Unregister(kBase + 1);
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("0x10001"));
  EXPECT_TRUE(registry.Contains(kBase, kLen));
}

TEST(MemoryRegistryTest, UnregisterRemovesTheRegion) {
  MemoryRegistry registry;
  ASSERT_TRUE(registry.Register(kBase, kLen, "cpu").ok());
  ASSERT_TRUE(registry.Unregister(kBase).ok());
  EXPECT_FALSE(registry.Contains(kBase, 1));
  EXPECT_FALSE(registry.Unregister(kBase).ok());
  EXPECT_TRUE(registry.Register(kBase, kLen, "cpu").ok()) << "the range is free again";
}

TEST(MemoryRegistryTest, SnapshotIsSortedByAddressAndKeepsLocation) {
  MemoryRegistry registry;
  ASSERT_TRUE(registry.Register(0x30000, 0x10, "cuda:1").ok());
  ASSERT_TRUE(registry.Register(0x10000, 0x20, "cpu").ok());
  ASSERT_TRUE(registry.Register(0x20000, 0x30, "cpu:0").ok());
  auto snapshot = registry.Snapshot();
  ASSERT_EQ(snapshot.size(), 3u);
  EXPECT_EQ(snapshot[0].address, 0x10000u);
  EXPECT_EQ(snapshot[0].length, 0x20u);
  EXPECT_EQ(snapshot[0].location, "cpu");
  EXPECT_EQ(snapshot[1].address, 0x20000u);
  EXPECT_EQ(snapshot[1].location, "cpu:0");
  EXPECT_EQ(snapshot[2].address, 0x30000u);
  EXPECT_EQ(snapshot[2].length, 0x10u);
  EXPECT_EQ(snapshot[2].location, "cuda:1");
}

}  // namespace
}  // namespace mooncake::transfer
