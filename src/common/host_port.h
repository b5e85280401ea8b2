#pragma once

// "host:port" strings as used for segment names and endpoints ("[::1]:80" for IPv6).

#include <cstdint>
#include <string>
#include <string_view>

#include "mooncake/common/status.h"

namespace mooncake {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  // "host:port", bracketing IPv6 literals.
  std::string ToString() const;
};

// Parses "host:port", "[v6]:port", or "host" alone (port 0, only when allow_missing_port).
enum class PortRequirement { kRequired, kOptional };
Result<HostPort> ParseHostPort(std::string_view text,
                               PortRequirement port = PortRequirement::kRequired);

}  // namespace mooncake
