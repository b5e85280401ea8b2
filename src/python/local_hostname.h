#pragma once

// The local_hostname argument of upstream's Python API: "host:port" is used as given; a bare
// "host" gets a free port from upstream's range 12300-14300, the host kept as written (so
// "localhost" becomes e.g. "localhost:12345").

#include <cstdint>
#include <string>
#include <string_view>

#include "mooncake/common/status.h"

namespace mooncake::python {

inline constexpr uint16_t kFirstAutoPort = 12300;
inline constexpr uint16_t kLastAutoPort = 14300;

// True when `name` names no port ("localhost", "10.0.0.1", "::1" or "[::1]").
bool LacksPort(std::string_view name);

// `name` with a port that could be bound just now (TCP, on the host's address), tried from a
// random point of the range onwards. kInvalidParams when the host does not resolve, or when no
// port of the range is free. The caller binds it (racing other processes: retry on failure).
Result<std::string> WithFreePort(std::string_view host);

// True when TCP port `port` can be bound on `host` now.
bool PortIsFree(std::string_view host, uint16_t port);

}  // namespace mooncake::python
