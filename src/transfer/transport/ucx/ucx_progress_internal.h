#pragma once

// Internal to the files that run on the ucx transport's progress thread (ucx_progress.cc,
// ucx_operations.cc, ucx_peer_retirement.cc): the clock they read and the bound they share on
// closing an endpoint.

#include <chrono>

namespace mooncake::transfer::ucx {

using Clock = std::chrono::steady_clock;

// An endpoint close still running after this is left to the worker's destruction.
inline constexpr std::chrono::milliseconds kCloseTimeout{1000};

}  // namespace mooncake::transfer::ucx
