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

}  // namespace
}  // namespace mooncake::store
