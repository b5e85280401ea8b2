#pragma once

// What UCX can offer on this host, decided without UCX types so that builds without libucx-dev
// compile it too: is there an RDMA device at all, and does a UCP context's resource list
// (ucp_context_print_info) contain an RDMA transport.

#include <string>
#include <string_view>

namespace mooncake::transfer::ucx {

// True when `sysfs_dir` (default /sys/class/infiniband, where the kernel lists verbs devices:
// InfiniBand, RoCE, iWARP) holds at least one device. Cheap; lets "auto" engines skip UCX
// entirely on hosts without RDMA.
bool HostHasRdmaDevice(const std::string& sysfs_dir = "/sys/class/infiniband");

// True when `context_info`, the text ucp_context_print_info writes, lists a resource of an
// RDMA transport (rc_*, dc_*, ud_* over verbs/mlx5: "resource 2 : md 1 dev 2 flags --
// rc_mlx5/mlx5_0:1").
bool ListsRdmaTransport(std::string_view context_info);

}  // namespace mooncake::transfer::ucx
