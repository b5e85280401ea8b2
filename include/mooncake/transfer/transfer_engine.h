#pragma once

// Transfer Engine: moves bytes between registered memory of this process and the registered
// buffers of named segments (other processes), in batches, over TCP, shared memory (processes
// on the same host) or UCX (RDMA).
//
// Usage:
//   auto engine = TransferEngine::Create(options).value();
//   void* buf = engine->AllocateBuffer(1 << 30).value();
//   SegmentHandle seg = engine->OpenSegment("10.0.0.2:12345").value();
//   BatchId batch = engine->AllocateBatchId(n).value();
//   engine->SubmitTransfer(batch, requests);
//   ... poll engine->GetTransferStatus(batch, i) until COMPLETED/FAILED ...
//   engine->FreeBatchId(batch);
//
// Thread safety: every method may be called from any thread concurrently.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"

namespace mooncake::transfer {

struct TransferEngineOptions {
  // Metadata connection string. "P2PHANDSHAKE" (default): no server, descriptors are fetched
  // from the peer itself on first contact.
  std::string metadata_server = "P2PHANDSHAKE";
  // This segment's name "host:port". The engine listens on exactly that port; port 0 (or
  // "host" alone) picks a free port, and the name then carries the real port.
  // Empty: "127.0.0.1:0".
  std::string local_server_name;
  // Local NIC addresses (IP literals or names) to use, e.g. {"10.0.0.1", "10.0.1.1"}. The
  // engine listens on each (same port as the name) and publishes them as endpoints; slices to
  // a peer are spread over every (local NIC, peer NIC) path. Empty (default): the name's host.
  std::vector<std::string> nics;
  // How this engine reaches other segments:
  //  "auto" (default): shared memory for peers on this host (same boot id and network
  //         namespace) whose buffers allow it, TCP otherwise;
  //  "tcp":  TCP only, even on this host; the engine then also serves TCP only;
  //  "shm":  same-host peers only (shared memory, else process_vm_readv/writev); a peer on
  //         another host is refused with kNotSupported.
  //  "ucx" (alias "rdma"): every peer through UCX one-sided put/get (verbs on RDMA NICs, else
  //         whatever UCX_TLS allows); the engine then serves UCX and TCP, no shared memory. A
  //         peer that serves no UCX is refused with kNotSupported. Builds without libucx-dev
  //         refuse this protocol with kNotSupported.
  // Under "auto", an engine on a host with an RDMA device also serves UCX when UCX offers an
  // RDMA transport there, and reaches a peer on another host through UCX when both do.
  std::string protocol = "auto";
  // Number of event-loop threads serving all connections (default 2).
  int io_threads = 2;
  // TCP connections opened to each peer (default 4). Slices are spread over them.
  int connections_per_peer = 4;
  // Requests longer than this are cut into slices sent in parallel (default 1 MiB).
  uint64_t slice_size = 1 << 20;
  // Deadline for any single slice and for connecting/handshaking (default 10 s).
  std::chrono::milliseconds transfer_timeout{10000};
  // Deadline for TCP connect + handshake to a peer (default 3 s).
  std::chrono::milliseconds connect_timeout{3000};
  // AllocateBuffer touches every page up front, using transparent huge pages (default on).
  bool prefault_buffers = true;
  // AllocateBuffer returns shared memory (a memfd) that same-host peers map, so that their
  // transfers are one memcpy (default on). Ignored with protocol "tcp", which allocates
  // private memory with transparent huge pages (faster to prefault where shmem THP is off).
  // Memory registered with RegisterLocalMemory is never shared this way.
  bool shareable_buffers = true;
  // etcd metadata only: TTL of the lease this engine's descriptor is attached to; a dead
  // engine's descriptor disappears from etcd within about this long (default 10 s, >= 1 s).
  std::chrono::seconds metadata_lease_ttl{10};
  // When this engine serves UCX: also put its buffers' UCX remote keys into the descriptor it
  // publishes to a metadata server (default off). Keys grant direct remote access to the
  // buffers, so by default they are left out of etcd and peers fetch them from this engine
  // itself in the HELLO exchange; turn on only where everyone who can read the metadata
  // server may read and write this engine's registered memory.
  bool publish_ucx_keys = false;
  // The cluster secret (docs/security.md; the exchange: docs/transfer_engine.md,
  // "Authentication"). Set: every peer must prove at HELLO, on TCP and on the shm socket, that
  // it holds the same secret (and this engine proves it to them) before any descriptor, key, shm
  // fd or byte is exchanged; failures are kUnauthenticated. Cannot be combined with
  // publish_ucx_keys. Null (default): the engine serves anyone who connects (and warns once
  // when it listens on a non-loopback address).
  std::shared_ptr<const auth::ClusterSecret> auth_secret;

  Status Validate() const;
};

class TransferEngine {
 public:
  // Starts the listener and I/O threads and publishes this segment's descriptor.
  static Result<std::unique_ptr<TransferEngine>> Create(TransferEngineOptions options);
  virtual ~TransferEngine() = default;

  // "host:port" under which peers reach this engine's segment.
  virtual std::string local_server_name() const = 0;

  // Registers [address, address + length) so it can be a local source/destination and is
  // published to peers. The caller keeps ownership; it must stay valid until unregistered.
  virtual Status RegisterLocalMemory(void* address, size_t length,
                                     const MemoryLocation& location = {}) = 0;
  // Unregisters a region previously registered at exactly `address`.
  virtual Status UnregisterLocalMemory(void* address) = 0;

  // Exposes `size` bytes of the file or block device at `path` as a file segment named
  // `name` (the NVMe-over-Fabrics segment of the original design). Peers that open this
  // engine's segment find it in the descriptor (SegmentDescriptor::FindFileSegment) and READ/
  // WRITE it like a buffer: byte `off` of the file is at the returned base + off. The engine
  // serves it with io_uring, with O_DIRECT where the filesystem accepts it (unaligned requests
  // go through aligned bounce buffers) and buffered I/O with a logged warning where it does not.
  // A regular file is created when missing and extended (sparse) when shorter than `size`;
  // size 0 = the file's current size. Transfers to a file segment travel over TCP whatever the
  // protocol (shared memory and UCX reach memory only); this engine's own requests to it go
  // straight to io_uring. Requests longer than 64 MiB are sliced at 64 MiB.
  virtual Result<uint64_t> RegisterFileSegment(const std::string& name, const std::string& path,
                                               uint64_t size) = 0;
  // Stops serving the file segment; transfers already started on it finish.
  virtual Status UnregisterFileSegment(const std::string& name) = 0;

  // Allocates `length` bytes owned by the engine, registered and (by default) prefaulted; in
  // shared memory when `shareable_buffers` allows (see the option). Freed by FreeBuffer or
  // when the engine is destroyed.
  virtual Result<void*> AllocateBuffer(size_t length) = 0;
  virtual Status FreeBuffer(void* address) = 0;

  // Resolves a segment name ("host:port") through the metadata store and connects to it.
  // Opening the same name twice returns the same handle.
  virtual Result<SegmentHandle> OpenSegment(const std::string& name) = 0;
  virtual Status CloseSegment(SegmentHandle handle) = 0;
  // Descriptor of an opened segment as last fetched (buffers, endpoints).
  virtual Result<SegmentDescriptor> GetSegmentDescriptor(SegmentHandle handle) = 0;

  // Reserves a batch able to hold `batch_size` requests over its lifetime.
  virtual Result<BatchId> AllocateBatchId(size_t batch_size) = 0;
  // Starts the requests; their task ids continue from the batch's previously submitted tasks
  // (the first submission's tasks are 0..n-1). Validation errors reject the whole call.
  virtual Status SubmitTransfer(BatchId batch, std::span<const TransferRequest> requests) = 0;
  virtual Result<TransferStatus> GetTransferStatus(BatchId batch, size_t task_id) = 0;
  // Blocks until every task submitted to `batch` so far has finished (completed or failed), or
  // until `deadline`: kTransferFail naming the batch then. Woken by the transport thread that
  // finishes the batch's last task, not by polling (src/transfer/batch_runner.h builds on it).
  // Any thread; several may wait on one batch.
  virtual Status WaitBatch(BatchId batch, std::chrono::steady_clock::time_point deadline) = 0;
  // Frees a batch whose tasks are all finished; a batch with tasks in flight is refused.
  virtual Status FreeBatchId(BatchId batch) = 0;

  // Per-peer byte and task counters since this engine started, one entry per peer it talked
  // to (at most 4096, the rest summed under "(other)").
  virtual std::vector<PeerTransferStats> GetPeerStats() const = 0;
};

}  // namespace mooncake::transfer
