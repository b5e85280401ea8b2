#include "client/replica_ranges.h"

#include <gtest/gtest.h>

namespace mooncake::store {
namespace {

ReplicaLocation Striped() {
  ReplicaLocation r;
  r.node_id = "n";
  r.slices = {{"a", 1000, 100}, {"b", 5000, 50}, {"c", 9000, 10}};
  return r;
}

TEST(MapObjectRangeTest, WholeSingleSlice) {
  ReplicaLocation r;
  r.slices = {{"seg", 4096, 300}};
  auto pieces = MapObjectRange(r, 0, 300);
  ASSERT_TRUE(pieces.ok());
  ASSERT_EQ(pieces->size(), 1u);
  EXPECT_EQ((*pieces)[0].segment, "seg");
  EXPECT_EQ((*pieces)[0].remote_address, 4096u);
  EXPECT_EQ((*pieces)[0].range_offset, 0u);
  EXPECT_EQ((*pieces)[0].length, 300u);
}

TEST(MapObjectRangeTest, RangeAcrossSlices) {
  auto pieces = MapObjectRange(Striped(), 90, 65);  // [90, 155)
  ASSERT_TRUE(pieces.ok());
  ASSERT_EQ(pieces->size(), 3u);
  EXPECT_EQ((*pieces)[0].remote_address, 1090u);
  EXPECT_EQ((*pieces)[0].length, 10u);
  EXPECT_EQ((*pieces)[1].segment, "b");
  EXPECT_EQ((*pieces)[1].remote_address, 5000u);
  EXPECT_EQ((*pieces)[1].range_offset, 10u);
  EXPECT_EQ((*pieces)[1].length, 50u);
  EXPECT_EQ((*pieces)[2].segment, "c");
  EXPECT_EQ((*pieces)[2].range_offset, 60u);
  EXPECT_EQ((*pieces)[2].length, 5u);
}

TEST(MapObjectRangeTest, RangeInsideOneSlice) {
  auto pieces = MapObjectRange(Striped(), 110, 20);
  ASSERT_TRUE(pieces.ok());
  ASSERT_EQ(pieces->size(), 1u);
  EXPECT_EQ((*pieces)[0].remote_address, 5010u);
}

TEST(MapObjectRangeTest, EmptyRangeHasNoPieces) {
  auto pieces = MapObjectRange(Striped(), 10, 0);
  ASSERT_TRUE(pieces.ok());
  EXPECT_TRUE(pieces->empty());
}

TEST(MapObjectRangeTest, ReplicaShorterThanRangeIsInvalid) {
  auto pieces = MapObjectRange(Striped(), 150, 20);  // replica holds 160 bytes
  EXPECT_EQ(pieces.status().code(), StatusCode::kInvalidReplica);
  EXPECT_EQ(MapObjectRange(ReplicaLocation{}, 0, 1).status().code(), StatusCode::kInvalidReplica);
}

TEST(MapObjectRangeTest, OverflowingRangeIsInvalid) {
  EXPECT_EQ(MapObjectRange(Striped(), UINT64_MAX, 2).status().code(), StatusCode::kInvalidParams);
}

ReplicaLocation On(Medium medium, const std::string& node) {
  ReplicaLocation r;
  r.medium = medium;
  r.node_id = node;
  r.complete = true;
  r.slices = {{node, 4096, 100}};
  return r;
}

TEST(ReplicaReadOrderTest, MemoryBeforeSsdWhateverTheRotation) {
  // A promoted object as a stale or reordered list might show it: SSD listed first.
  const std::vector<ReplicaLocation> replicas = {On(Medium::kSsd, "a"), On(Medium::kDram, "a")};
  for (uint64_t rotation = 0; rotation < 8; ++rotation) {
    EXPECT_EQ(ReplicaReadOrder(replicas, rotation), (std::vector<size_t>{1, 0})) << rotation;
  }
}

TEST(ReplicaReadOrderTest, RotatesWithinEachMediumGroup) {
  const std::vector<ReplicaLocation> replicas = {On(Medium::kDram, "a"), On(Medium::kSsd, "b"),
                                                 On(Medium::kDram, "c"), On(Medium::kSsd, "d"),
                                                 On(Medium::kSsd, "e")};
  EXPECT_EQ(ReplicaReadOrder(replicas, 0), (std::vector<size_t>{0, 2, 1, 3, 4}));
  EXPECT_EQ(ReplicaReadOrder(replicas, 1), (std::vector<size_t>{2, 0, 3, 4, 1}));
  EXPECT_EQ(ReplicaReadOrder(replicas, 2), (std::vector<size_t>{0, 2, 4, 1, 3}));
}

TEST(ReplicaReadOrderTest, OneMediumRotatesAsPlainRoundRobin) {
  const std::vector<ReplicaLocation> replicas = {On(Medium::kDram, "a"), On(Medium::kDram, "b"),
                                                 On(Medium::kDram, "c")};
  for (uint64_t rotation = 0; rotation < 6; ++rotation) {
    const std::vector<size_t> order = ReplicaReadOrder(replicas, rotation);
    ASSERT_EQ(order.size(), 3u);
    for (size_t attempt = 0; attempt < 3; ++attempt) {
      EXPECT_EQ(order[attempt], (rotation + attempt) % 3) << rotation << " " << attempt;
    }
  }
  // Every reader starts somewhere else: over three reads each replica is tried first once.
  std::vector<int> first(3, 0);
  for (uint64_t rotation = 10; rotation < 13; ++rotation)
    ++first[ReplicaReadOrder(replicas, rotation)[0]];
  EXPECT_EQ(first, (std::vector<int>{1, 1, 1}));
}

TEST(ReplicaReadOrderTest, VramCountsAsMemoryAndEmptyListsHaveNoOrder) {
  const std::vector<ReplicaLocation> replicas = {On(Medium::kSsd, "a"), On(Medium::kVram, "b")};
  EXPECT_EQ(ReplicaReadOrder(replicas, 4), (std::vector<size_t>{1, 0}));
  EXPECT_TRUE(ReplicaReadOrder({}, 3).empty());
  // Only SSD replicas: still every one, rotated.
  const std::vector<ReplicaLocation> ssd = {On(Medium::kSsd, "a"), On(Medium::kSsd, "b")};
  EXPECT_EQ(ReplicaReadOrder(ssd, 1), (std::vector<size_t>{1, 0}));
}

}  // namespace
}  // namespace mooncake::store
