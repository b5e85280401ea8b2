#pragma once

// Client side of the HELLO exchange: connect, announce ourselves, prove the cluster secret
// both ways when there is one (wire_format.h), receive the target's segment descriptor. Used
// to open data connections and, in P2PHANDSHAKE mode, as the metadata lookup itself.

#include <string>

#include "common/host_port.h"
#include "mooncake/common/cluster_secret.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/transport/tcp/socket_util.h"

namespace mooncake::transfer::tcp {

struct HandshakeResult {
  UniqueFd fd;  // connected, blocking, ready for frames
  SegmentDescriptor descriptor;
};

// Errors name the address and the cause (refused, timeout, version mismatch). `secret`
// (nullable: none) is the cluster secret: kUnauthenticated, naming authentication, when the
// target does not prove the same secret, asks for one we do not have, or refuses our proof.
// Nothing but HELLO (our nonce and name) is sent to a target before it proved the secret.
// `bind_host` (optional) is the local NIC address to connect from.
Result<HandshakeResult> ConnectAndHandshake(const HostPort& address, const std::string& local_name,
                                            const auth::ClusterSecret* secret, Deadline deadline,
                                            const std::string& bind_host = "");

}  // namespace mooncake::transfer::tcp
