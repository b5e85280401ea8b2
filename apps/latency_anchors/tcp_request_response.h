#pragma once

// The latency anchor for request/response benchmarks: a blocking TCP request of
// `request_bytes` answered with `response_bytes` over loopback, between two threads pinned to
// different CPUs — what one round trip through the kernel's TCP stack costs on this machine,
// with no framework in the way. master_bench compares its RPCs with a 64-byte ping-pong;
// te_latency.sh compares a batch-1 read of N bytes with a 64-byte request answered by N bytes
// (a write: N bytes answered by 64).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mooncake/common/status.h"

namespace mooncake::bench {

struct PingPongResult {
  double p50_us = 0;
  double p99_us = 0;
};

// Where the two threads run. Pinned to CPUs 0 and 1 is the best case on an idle machine (no
// migrations) and what master_bench has always compared with; unpinned is how the engine's
// threads and redis run, and what a loaded machine favours.
enum class Pinning : uint8_t { kPinned, kUnpinned };

// Runs `round_trips` round trips (after a short warm-up), each a request of `request_bytes`
// and a response of `response_bytes` (both > 0).
Result<PingPongResult> RunTcpRequestResponse(size_t round_trips, size_t request_bytes,
                                             size_t response_bytes, Pinning pinning);

// The RPC anchor: `round_trips` ping-pongs of `message_bytes` each way.
inline Result<PingPongResult> RunTcpPingPong(size_t round_trips = 10000,
                                             size_t message_bytes = 64) {
  return RunTcpRequestResponse(round_trips, message_bytes, message_bytes, Pinning::kPinned);
}

// The q-quantile (0..1) of `samples` (sorted in place).
double Quantile(std::vector<double>& samples, double q);

}  // namespace mooncake::bench
