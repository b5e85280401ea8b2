#pragma once

// The ucx transport: one-sided put/get into peers' registered memory through UCX (UCP).
//
// One UCP context and one worker per engine, owned by a progress thread: every UCX call after
// Create runs on it (the worker is single-threaded), so callers hand it commands and slices
// through a queue and, for registration and connecting, wait for the answer. Every registered
// buffer is mapped with ucp_mem_map; its packed rkey and the worker address travel in the
// segment descriptor. A target's worker is progressed by its own progress thread, which is
// what UCX's software-emulated RMA (over its tcp and shared-memory transports) needs.
//
// Completions: a READ slice completes when its ucp_get_nbx does; the WRITE slices of one
// Submit to one peer complete when an endpoint flush issued after their ucp_put_nbx calls
// does (a put's own completion only means its source may be reused), so a COMPLETED WRITE is
// visible to the target. Failures name the segment:
//  - a range outside every buffer whose key we hold: FAILED at once (no UCX call);
//  - an endpoint error (peer died, unreachable), or no completion on an endpoint with
//    requests outstanding for transfer_timeout: the endpoint is dropped, `on_peer_failed` runs
//    (the engine re-reads the descriptor, so a retry reaches a restarted peer), then the
//    slices are FAILED (kTransferFail; kRpcTimeout for timeouts). The next Submit opens a new
//    endpoint.
// Endpoints to other hosts ask UCX for peer-failure reporting (UCP_ERR_HANDLING_MODE_PEER) and
// are closed by force when they fail. UCX's shared-memory transports do not offer it, so
// endpoints to peers on this host, and wherever only those transports reach a peer, are opened
// without it: a dead peer is noticed by the timeout alone, such an endpoint cannot be closed by
// force (it is left to the worker's destruction), and its gets read into staging buffers,
// copied on success, so that a late answer never lands in a destination reported FAILED.
//
// Trust: an rkey grants direct read/write access to the buffer it was packed for, to anyone
// who can reach this worker. With verbs the NIC enforces the key's range and an unmapped
// buffer's key stops working; UCX's software-emulated RMA (tcp, posix/sysv shared memory)
// performs whatever address a peer sends without checking it against registered memory, so
// the UCX worker, like the engine's TCP port, must only be reachable by trusted peers.
//
// Thread safety: every method may be called from any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/slice.h"
#include "transfer/transport/transport.h"

namespace mooncake::transfer::ucx {

struct UcxTransportOptions {
  // This engine's segment name: names the UCP context and worker (UCX logs) (default empty).
  std::string local_name;
  // This host's identity (SegmentDescriptor::host_id). Endpoints to a peer with the same
  // host_id are opened without peer-failure reporting, which lets UCX use its shared-memory
  // transports (faster than its tcp here, and not exposed to UCX 1.13 aborting a target whose
  // initiator dies mid-transfer over tcp); a dead same-host peer is then noticed by the
  // timeout. Empty (default): every endpoint asks for failure reporting first.
  std::string host_id;
  // A put/get (or a WRITE group's flush) not complete this long after it was issued FAILs with
  // kRpcTimeout and its endpoint is dropped (default 10 s).
  std::chrono::milliseconds transfer_timeout{10000};
  // Connect waits at most this plus transfer_timeout for the endpoint to be opened and the
  // peer to answer a flush (default 3 s). (Mapping memory waits up to 60 s: pinning is slow.)
  std::chrono::milliseconds command_timeout{3000};
  // Called with a segment's name after its endpoint failed or timed out and before the slices
  // that failed with it are reported FAILED; runs on a helper thread, never the progress
  // thread, and may block (the engine looks the segment up again). Optional.
  std::function<void(const std::string& segment)> on_peer_failed;
};

// Counters, for tests and benchmarks.
struct UcxStats {
  uint64_t put_bytes = 0;  // WRITE bytes reported COMPLETED
  uint64_t get_bytes = 0;  // READ bytes reported COMPLETED
  uint64_t failed_slices = 0;
  uint64_t endpoints_opened = 0;
  uint64_t endpoints_failed = 0;    // by error or timeout
  uint64_t registered_regions = 0;  // mapped right now
};

class UcxTransport : public Transport {
 public:
  // False when this build has no UCX (libucx-dev was not found at configure time).
  static bool Compiled();
  // Creates the context, the worker and the progress thread. kNotSupported when !Compiled().
  static Result<std::unique_ptr<UcxTransport>> Create(UcxTransportOptions options);
  ~UcxTransport() override = default;

  // True when the context has an RDMA transport (rc/dc/ud over verbs).
  virtual bool offers_rdma() const = 0;
  // This worker's address, lower-case hex, for the segment descriptor.
  virtual const std::string& worker_address() const = 0;
  // One line naming the transports UCX selected ("tcp/lo, cma/memory, ..."), for logs.
  virtual const std::string& resources() const = 0;

  // Maps [address, address + length) with ucp_mem_map and packs its rkey. The range must not
  // overlap a mapped one (the engine's registry guarantees it).
  virtual Status RegisterMemory(uint64_t address, uint64_t length) = 0;
  // Unmaps the region starting at `address` once no local put/get uses it any more; its rkey
  // stops granting access (with verbs). Unknown addresses are ignored.
  virtual void UnregisterMemory(uint64_t address) = 0;
  // The packed rkey (hex) of the region starting at `address`; empty when none.
  virtual std::string RkeyOf(uint64_t address) const = 0;

  // Transport: no endpoints of its own (peers find the worker through the descriptor).
  std::vector<EndpointDescriptor> endpoints() const override { return {}; }
  // Opens an endpoint to `target` (its incarnation) and unpacks its rkeys, unless done.
  // kNotSupported when it serves no UCX; kTransferFail naming it when UCX cannot reach it.
  Status Connect(const SegmentDescriptor& target) override = 0;
  // Hands the slices (validated against `target`) to the progress thread; always takes them
  // all (`slices` is left empty) and completes or fails each one later, on its own threads.
  Status Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) override = 0;
  // Fails the segment's in-flight slices ("closed") and closes its endpoint.
  void Disconnect(const std::string& segment_name) override = 0;

  virtual UcxStats stats() const = 0;
};

}  // namespace mooncake::transfer::ucx
