#include "transfer/route_choice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mooncake::transfer {
namespace {

using ::testing::HasSubstr;

LocalTransports Local(const std::string& protocol, bool ucx_rdma = false) {
  LocalTransports l;
  l.protocol = ParseProtocol(protocol).value();
  l.host_id = "boot/1";
  l.shm = protocol == "auto" || protocol == "shm";
  l.ucx = protocol == "ucx" || protocol == "rdma" || ucx_rdma;
  l.ucx_rdma = ucx_rdma;
  return l;
}

struct Target {
  bool same_host = false;
  bool shm = true;
  bool ucx = false;
  bool ucx_rdma = false;
};

SegmentDescriptor Descriptor(const Target& t) {
  SegmentDescriptor d;
  d.name = "10.0.0.2:12345";
  d.host_id = t.same_host ? "boot/1" : "boot/2";
  if (t.shm) d.shm_endpoint = "@mooncake-te/x";
  if (t.ucx) d.ucx_address = "00ff";
  d.ucx_rdma = t.ucx_rdma;
  return d;
}

Route Chosen(const LocalTransports& local, const Target& target) {
  auto route = ChooseRoute(local, Descriptor(target));
  EXPECT_TRUE(route.ok()) << route.status().ToString();
  return route.ok() ? *route : Route::kTcp;
}

TEST(RouteChoiceTest, AutoPrefersShmOnTheSameHostEvenWhenBothOfferRdma) {
  EXPECT_EQ(Chosen(Local("auto", true), {.same_host = true, .ucx = true, .ucx_rdma = true}),
            Route::kShm);
}

TEST(RouteChoiceTest, AutoUsesUcxForAnotherHostOnlyWhenBothEndsOfferRdma) {
  EXPECT_EQ(Chosen(Local("auto", true), {.ucx = true, .ucx_rdma = true}), Route::kUcx);
  // The peer's UCX runs over tcp/shared memory only: our TCP is faster.
  EXPECT_EQ(Chosen(Local("auto", true), {.ucx = true, .ucx_rdma = false}), Route::kTcp);
  // No RDMA here (this VM): tcp, whatever the peer offers.
  EXPECT_EQ(Chosen(Local("auto", false), {.ucx = true, .ucx_rdma = true}), Route::kTcp);
  EXPECT_EQ(Chosen(Local("auto", false), {}), Route::kTcp);
}

TEST(RouteChoiceTest, AutoUsesTcpForASameHostPeerWithoutSharedMemory) {
  EXPECT_EQ(Chosen(Local("auto"), {.same_host = true, .shm = false}), Route::kTcp);
}

TEST(RouteChoiceTest, UcxAndItsAliasRdmaForceUcxForEveryPeer) {
  for (const char* protocol : {"ucx", "rdma"}) {
    EXPECT_EQ(Chosen(Local(protocol), {.same_host = true, .ucx = true}), Route::kUcx);
    EXPECT_EQ(Chosen(Local(protocol), {.ucx = true}), Route::kUcx);
  }
}

TEST(RouteChoiceTest, UcxRefusesAPeerThatServesNoUcxNamingIt) {
  auto route = ChooseRoute(Local("ucx"), Descriptor({.same_host = true}));
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.status().code(), StatusCode::kNotSupported);
  EXPECT_THAT(route.status().message(), HasSubstr("10.0.0.2:12345"));
  EXPECT_THAT(route.status().message(), HasSubstr("serves no UCX"));
}

TEST(RouteChoiceTest, ShmRefusesAnotherHostAndTcpAlwaysUsesTcp) {
  auto route = ChooseRoute(Local("shm"), Descriptor({.ucx = true}));
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.status().code(), StatusCode::kNotSupported);
  EXPECT_THAT(route.status().message(), HasSubstr("another host"));
  EXPECT_EQ(Chosen(Local("shm"), {.same_host = true}), Route::kShm);
  EXPECT_EQ(Chosen(Local("tcp"), {.same_host = true, .ucx = true, .ucx_rdma = true}), Route::kTcp);
}

}  // namespace
}  // namespace mooncake::transfer
