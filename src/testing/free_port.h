#pragma once

// Free TCP ports for tests that start real servers.

#include <cstdint>

#include "mooncake/common/status.h"

namespace mooncake::testing {

// Asks the kernel for an unused port on 127.0.0.1 and releases it again, so the caller can hand
// the number to a server. Racy by nature (another process may take it in between), but never
// returns any of this process's last 1024 ports again, so servers started by one test do not
// collide. Thread-safe.
Result<uint16_t> PickFreeTcpPort();

}  // namespace mooncake::testing
