#pragma once

// The latency anchor for RPC benchmarks: a blocking 64-byte TCP ping-pong over loopback
// between two threads pinned to different CPUs — what one round trip through the kernel's
// TCP stack costs on this machine, with no RPC framework in the way.

#include <cstddef>
#include <vector>

#include "mooncake/common/status.h"

namespace mooncake::bench {

struct PingPongResult {
  double p50_us = 0;
  double p99_us = 0;
};

// Runs `round_trips` round trips of `message_bytes` each (after a short warm-up).
Result<PingPongResult> RunTcpPingPong(size_t round_trips = 10000, size_t message_bytes = 64);

// The q-quantile (0..1) of `samples` (sorted in place).
double Quantile(std::vector<double>& samples, double q);

}  // namespace mooncake::bench
