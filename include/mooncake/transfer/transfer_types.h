#pragma once

// Value types of the Transfer Engine API.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mooncake/common/status.h"

namespace mooncake::transfer {

// Handle of a segment opened with TransferEngine::OpenSegment.
using SegmentHandle = uint64_t;
// Handle of a batch from TransferEngine::AllocateBatchId. 0 is never a valid id.
using BatchId = uint64_t;

enum class TransferOpcode : uint8_t { kRead = 0, kWrite = 1 };

// One transfer between local registered memory and a target segment.
struct TransferRequest {
  TransferOpcode opcode = TransferOpcode::kRead;
  // Local address inside memory registered with this engine.
  void* source = nullptr;
  SegmentHandle target_id = 0;
  // Address in the target's registered buffers, as published in its segment descriptor
  // (upstream semantics: the remote virtual address, e.g. buffers[0].addr + offset).
  uint64_t target_offset = 0;
  uint64_t length = 0;
  // Reads only: when set, the CRC32C of the `length` bytes the read delivered to `source` is
  // stored here before the task is reported COMPLETED, computed by the transport as the bytes
  // arrive (fused with its copy or receive where it has one). Untouched when the task fails.
  // A write with it set is refused (kInvalidParams).
  uint32_t* crc32c = nullptr;
};

enum class TransferState : uint8_t { kPending = 0, kWaiting = 1, kCompleted = 2, kFailed = 3 };

struct TransferStatus {
  TransferState state = TransferState::kPending;
  uint64_t transferred_bytes = 0;
  // Why the task failed (names peer, segment and cause); OK otherwise.
  Status error;
};

// Where registered memory lives; "cpu:0", "cuda:1", ... as upstream; informational for now.
struct MemoryLocation {
  std::string name = "cpu";
};

// A buffer a segment offers to peers: registered memory, or a file segment
// (TransferEngine::RegisterFileSegment), whose location is "file:<name>" and whose address
// range is synthetic (bit 63 set): peers add a file offset to `address` as they would a memory
// offset, and the owner serves the range from the file.
struct BufferDescriptor {
  uint64_t address = 0;
  uint64_t length = 0;
  std::string location = "cpu";
  // UCX remote key of this buffer (lower-case hex of ucp_rkey_pack's bytes) when the segment
  // serves UCX; empty otherwise, and in descriptors read from a metadata server unless the
  // owner opted in (TransferEngineOptions::publish_ucx_keys). A key grants direct remote
  // read/write access to the buffer to whoever can reach the owner's UCX worker: it travels
  // only in the HELLO exchange with peers that can connect to the owner's port.
  std::string ucx_rkey;
};

// Transfers between an engine and one peer segment since the engine started
// (TransferEngine::GetPeerStats).
struct PeerTransferStats {
  std::string peer;  // the peer's segment name ("host:port"), as it named itself
  // As initiator: bytes of completed slices read from / written to the peer, and finished
  // tasks (requests) to it.
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t tasks_completed = 0;
  uint64_t tasks_failed = 0;
  // As target, over TCP: bytes the peer read from / wrote to this engine. Shared-memory and
  // UCX transfers are one-sided (the target's CPU never sees them) and are not counted here.
  uint64_t served_bytes_read = 0;
  uint64_t served_bytes_written = 0;
};

// A network endpoint of a segment (one per NIC).
struct EndpointDescriptor {
  std::string host;
  uint16_t port = 0;
};

// What a peer needs to reach a segment: published through the MetadataStore.
struct SegmentDescriptor {
  std::string name;  // "host:port" as given by --local_server_name
  uint32_t protocol_version = 0;
  uint64_t incarnation = 0;  // changes on every process start; detects restarted peers
  std::string host_id;       // boot id + network-namespace inode: equal means same host
  std::vector<EndpointDescriptor> endpoints;
  std::vector<BufferDescriptor> buffers;
  // Where same-host peers attach to this segment's shared memory ("@..." = abstract Unix
  // socket name); empty when the segment serves TCP only.
  std::string shm_endpoint;
  // The owner's UCX worker address (lower-case hex) when it serves UCX (protocol "ucx", or
  // "auto" on a host with an RDMA device); empty otherwise.
  std::string ucx_address;
  // True when the owner's UCX offers an RDMA transport (verbs: rc/dc/ud); "auto" peers use
  // UCX to reach it only then.
  bool ucx_rdma = false;

  // Index of the buffer containing [address, address + length), or -1.
  int FindBuffer(uint64_t address, uint64_t length) const;
  // Index of the file segment registered under `name` (the buffer whose location is
  // "file:<name>"), or -1. Byte `off` of that file is at buffers[i].address + off.
  int FindFileSegment(const std::string& name) const;
};

}  // namespace mooncake::transfer
