#include "transfer/transport/ucx/ucx_resources.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "testing/temp_dir.h"

namespace mooncake::transfer::ucx {
namespace {

// ucp_context_print_info of UCX 1.13 on a host without RDMA (this VM) ...
constexpr const char* kNoRdma = R"(#
# UCP context
#
#     component 0  :  self
#     component 1  :  tcp
#     component 4  :  ib
#
#            md 0  :  component 0  self
#            md 1  :  component 1  tcp
#
#      resource 0  :  md 0  dev 0  flags -- self/memory0
#      resource 1  :  md 1  dev 1  flags -- tcp/lo
#      resource 2  :  md 1  dev 2  flags -- tcp/eth0
#      resource 5  :  md 4  dev 3  flags -- cma/memory
#
)";
// ... and the resource lines of one with a ConnectX NIC.
constexpr const char* kRdma = R"(#
#      resource 0  :  md 0  dev 0  flags -- self/memory0
#      resource 1  :  md 1  dev 1  flags -- tcp/ib0
#      resource 6  :  md 5  dev 4  flags -- rc_mlx5/mlx5_0:1
#      resource 7  :  md 5  dev 4  flags -- dc_mlx5/mlx5_0:1
#      resource 8  :  md 5  dev 4  flags -- ud_verbs/mlx5_0:1
#
)";

TEST(UcxResourcesTest, TcpSharedMemoryAndTheIbComponentAloneAreNotRdma) {
  EXPECT_FALSE(ListsRdmaTransport(kNoRdma));
  EXPECT_FALSE(ListsRdmaTransport(""));
}

TEST(UcxResourcesTest, VerbsTransportsAreRdma) {
  EXPECT_TRUE(ListsRdmaTransport(kRdma));
  EXPECT_TRUE(ListsRdmaTransport("#  resource 3 : md 2 dev 2 flags -- rc_verbs/mlx5_1:1\n"));
}

TEST(UcxResourcesTest, RdmaDeviceIsAnEntryOfTheSysfsClassDirectory) {
  auto dir = testing::TempDir::Create("ucx-sysfs");
  ASSERT_TRUE(dir.ok());
  EXPECT_FALSE(HostHasRdmaDevice(dir->path()));
  EXPECT_FALSE(HostHasRdmaDevice(dir->path() + "/missing"));
  ASSERT_EQ(mkdir((dir->path() + "/mlx5_0").c_str(), 0755), 0);
  EXPECT_TRUE(HostHasRdmaDevice(dir->path()));
}

}  // namespace
}  // namespace mooncake::transfer::ucx
