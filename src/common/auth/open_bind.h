#pragma once

// Secure by default: a server of a cluster without a secret listens on loopback only, unless
// the operator names another address; it then logs one WARNING that the cluster is open to
// anyone who can reach that address (docs/security.md). With a secret the servers keep their
// historical "all interfaces" defaults, since every request must then prove the secret.

#include <string>
#include <string_view>
#include <vector>

#include "mooncake/common/cluster_secret.h"

namespace mooncake::auth {

// The listen host a server uses when the operator names none: "127.0.0.1" without a secret
// (`secret` null), "0.0.0.0" with one.
std::string DefaultListenHost(const ClusterSecret* secret);

// Whether `host` (no port; IPv6 with or without brackets) reaches this machine only: an address
// in 127.0.0.0/8, ::1, an IPv4-mapped 127.x, or "localhost". Any other name is resolved and is
// loopback when every address it resolves to is; a name that does not resolve is not (its
// bind will fail anyway).
bool IsLoopbackHost(std::string_view host);

// The message of the open-cluster warning for `server` ("master", "storage node", ...) listening
// on `exposed` (the non-loopback addresses, as the operator wrote them).
std::string OpenClusterWarning(std::string_view server, const std::vector<std::string>& exposed);

// When `secret` is null, logs OpenClusterWarning once for those of `addresses` ("host" or
// "host:port") whose host is not loopback, and returns them; logs nothing and returns none
// otherwise. Call once per server start, with every address the server listens on.
std::vector<std::string> WarnIfOpen(std::string_view server,
                                    const std::vector<std::string>& addresses,
                                    const ClusterSecret* secret);

}  // namespace mooncake::auth
