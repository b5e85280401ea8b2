#pragma once

// Which (local NIC, remote endpoint) pairs a peer's traffic uses. Pure: tested without sockets.
// Each remote endpoint gets the local NIC on its IPv4 /24 subnet (else the NICs in turn); a
// local NIC left unused is paired with a remote endpoint on its subnet, if any. With no local
// NICs given, each remote endpoint is one path and the kernel picks the source address.

#include <string>
#include <vector>

#include "common/host_port.h"
#include "mooncake/transfer/transfer_types.h"

namespace mooncake::transfer::tcp {

struct PathPlan {
  std::string local;  // address to bind before connecting; empty = any
  HostPort remote;
};

std::vector<PathPlan> PlanPaths(const std::vector<std::string>& local_nics,
                                const std::vector<EndpointDescriptor>& remote_endpoints);

}  // namespace mooncake::transfer::tcp
