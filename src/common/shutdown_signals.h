#pragma once

// How our servers (mooncake_master, mooncake_node, ...) wait for SIGTERM/SIGINT: the signals
// are blocked in every thread before any thread starts, and the main thread takes them with
// sigwait, so no handler runs in an arbitrary thread and shutdown happens in plain code.

namespace mooncake {

// Blocks SIGTERM and SIGINT in the calling thread; threads created afterwards inherit the
// mask. Call first thing in main(), before creating any thread.
void BlockShutdownSignals();

// Waits until SIGTERM or SIGINT arrives (BlockShutdownSignals must have run); returns it.
int WaitForShutdownSignal();

}  // namespace mooncake
