#pragma once

// Client side of the HELLO exchange: connect, announce ourselves, receive the target's
// segment descriptor. Used to open data connections and, in P2PHANDSHAKE mode, as the
// metadata lookup itself.

#include <string>

#include "common/host_port.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/transport/tcp/socket_util.h"

namespace mooncake::transfer::tcp {

struct HandshakeResult {
  UniqueFd fd;  // connected, blocking, ready for frames
  SegmentDescriptor descriptor;
};

// Errors name the address and the cause (refused, timeout, version mismatch).
// `bind_host` (optional) is the local NIC address to connect from.
Result<HandshakeResult> ConnectAndHandshake(const HostPort& address, const std::string& local_name,
                                            Deadline deadline, const std::string& bind_host = "");

}  // namespace mooncake::transfer::tcp
