#include "transfer/transport/tcp/path_plan.h"

#include <gtest/gtest.h>

namespace mooncake::transfer::tcp {
namespace {

std::vector<EndpointDescriptor> Remote(std::initializer_list<const char*> hosts) {
  std::vector<EndpointDescriptor> out;
  for (const char* h : hosts) out.push_back({h, 9000});
  return out;
}

TEST(PathPlanTest, NoLocalNicsMeansOnePathPerRemoteEndpointWithoutBinding) {
  auto plan = PlanPaths({}, Remote({"10.0.0.2", "10.0.1.2"}));
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].local, "");
  EXPECT_EQ(plan[0].remote.host, "10.0.0.2");
  EXPECT_EQ(plan[1].remote.host, "10.0.1.2");
  EXPECT_EQ(plan[1].remote.port, 9000);
}

TEST(PathPlanTest, EachRemoteNicIsPairedWithTheLocalNicOnItsSubnet) {
  // Listed in the opposite order: pairing follows subnets, not positions.
  auto plan = PlanPaths({"10.250.2.1", "10.250.1.1"}, Remote({"10.250.1.2", "10.250.2.2"}));
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].local, "10.250.1.1");
  EXPECT_EQ(plan[0].remote.host, "10.250.1.2");
  EXPECT_EQ(plan[1].local, "10.250.2.1");
  EXPECT_EQ(plan[1].remote.host, "10.250.2.2");
}

TEST(PathPlanTest, WithoutSubnetMatchLocalNicsAreTakenInTurn) {
  auto plan =
      PlanPaths({"a.example", "b.example"}, Remote({"x.example", "y.example", "z.example"}));
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].local, "a.example");
  EXPECT_EQ(plan[1].local, "b.example");
  EXPECT_EQ(plan[2].local, "a.example");
}

TEST(PathPlanTest, AnUnusedLocalNicGetsAPathToARemoteOnItsSubnet) {
  auto plan = PlanPaths({"10.1.1.1", "10.1.2.1"}, Remote({"10.1.1.2"}));
  ASSERT_EQ(plan.size(), 1u);  // 10.1.2.1 has no remote on its subnet: no path
  EXPECT_EQ(plan[0].local, "10.1.1.1");
  auto wide = PlanPaths({"10.1.1.1", "10.1.1.9"}, Remote({"10.1.1.2"}));
  ASSERT_EQ(wide.size(), 2u);  // both local NICs reach the one remote NIC
  EXPECT_EQ(wide[1].local, "10.1.1.9");
  EXPECT_EQ(wide[1].remote.host, "10.1.1.2");
}

TEST(PathPlanTest, NoRemoteEndpointsMeansNoPath) {
  EXPECT_TRUE(PlanPaths({"10.0.0.1"}, {}).empty());
}

}  // namespace
}  // namespace mooncake::transfer::tcp
