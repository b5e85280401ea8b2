#include "p2p/object_layout.h"

#include <gtest/gtest.h>

namespace mooncake::p2p {
namespace {

TEST(ObjectLayoutTest, ShardsNeverSpanBuffers) {
  EXPECT_EQ(ShardSizes({10, 3, 8}, 4), (std::vector<uint64_t>{4, 4, 2, 3, 4, 4}));
  EXPECT_EQ(ShardSizes({1}, 64), (std::vector<uint64_t>{1}));
}

TEST(ObjectLayoutTest, MapFollowsBuffersInOrder) {
  ExtentMap map({{1000, 10}, {5000, 5}, {9000, 20}});
  EXPECT_EQ(map.size(), 35u);
  EXPECT_EQ(map.Map(0, 10).value(), (std::vector<Extent>{{1000, 10}}));
  EXPECT_EQ(map.Map(8, 10).value(), (std::vector<Extent>{{1008, 2}, {5000, 5}, {9000, 3}}));
  EXPECT_EQ(map.Map(34, 1).value(), (std::vector<Extent>{{9019, 1}}));
  EXPECT_TRUE(map.Map(35, 0).value().empty());
  EXPECT_EQ(map.Map(30, 6).status().code(), StatusCode::kInvalidParams);
  EXPECT_EQ(map.Map(~0ull, 2).status().code(), StatusCode::kInvalidParams);
}

TEST(ObjectLayoutTest, CopiesCutWhereEitherSideChangesBuffer) {
  ExtentMap local({{100, 6}, {200, 6}});
  ExtentMap remote({{1000, 4}, {2000, 8}});
  EXPECT_EQ(PlanCopies(local, remote, 0, 12).value(),
            (std::vector<Copy>{{100, 1000, 4}, {104, 2000, 2}, {200, 2002, 6}}));
  EXPECT_EQ(PlanCopies(local, remote, 5, 2).value(),
            (std::vector<Copy>{{105, 2001, 1}, {200, 2002, 1}}));
  EXPECT_FALSE(PlanCopies(local, ExtentMap({{1, 11}}), 0, 12).ok());
}

}  // namespace
}  // namespace mooncake::p2p
