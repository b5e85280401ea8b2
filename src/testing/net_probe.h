#pragma once

// What a test needs to check where servers listen: the addresses of the sockets listening on a
// port (from /proc/net/tcp*), a non-loopback address of this host, and a plain TCP connect.

#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace mooncake::testing {

// The local addresses of the TCP sockets of this network namespace listening on `port`:
// "127.0.0.1"-style IPv4 text (IPv4-mapped IPv6 addresses, as gRPC binds them, are listed as
// the IPv4 address), IPv6 text, or "*" for every interface (0.0.0.0 or [::]).
std::set<std::string> ListeningAddresses(uint16_t port);

// An IPv4 address of an up, non-loopback interface of this host (what `hostname -I` prints
// first); none on a host with loopback only.
std::optional<std::string> NonLoopbackAddress();

// Whether a TCP connect to the IPv4 `address`:`port` succeeds (the connection is closed).
bool TcpConnects(const std::string& address, uint16_t port);

}  // namespace mooncake::testing
