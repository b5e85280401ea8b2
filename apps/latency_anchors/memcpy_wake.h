#pragma once

// The same-host latency anchor for the shm transport: one thread hands a request to another
// with a futex wake, the other copies `bytes` (memcpy) and wakes the first back with a futex
// — the least a transfer that crosses a thread boundary and copies its bytes can cost. Both
// threads block in FUTEX_WAIT (no spinning).

#include <cstddef>

#include "apps/latency_anchors/tcp_request_response.h"  // PingPongResult
#include "mooncake/common/status.h"

namespace mooncake::bench {

// Runs `round_trips` handoffs (after a short warm-up) copying `bytes` (> 0) each.
Result<PingPongResult> RunMemcpyWake(size_t round_trips, size_t bytes, Pinning pinning);

}  // namespace mooncake::bench
