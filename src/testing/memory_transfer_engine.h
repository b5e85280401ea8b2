#pragma once

// A Transfer Engine whose peers live in the test's own memory, for unit tests of code that moves
// bytes with one (the store client): a MemoryFabric holds the peers' registered regions, and
// each MemoryTransferEngine on it reads and writes them with memcpy when a batch is submitted.
// No socket, thread or timer: every task has finished when SubmitTransfer returns.
//
// What it keeps of the real engine's contract: local addresses must lie in memory registered
// with (or allocated by) the engine; remote ranges must lie in one region of the peer; reads
// with `crc32c` set get the CRC32C of the bytes delivered. A peer made unreachable fails every
// task to it with kTransferFail, as a dead node's would.
//
// Thread safety: every method of both classes may be called from any thread.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "mooncake/transfer/transfer_engine.h"

namespace mooncake::testing {

class MemoryFabric {
 public:
  // Gives peer `peer` (a transfer segment name, "host:port") `size` zeroed bytes at remote
  // address `base`; returns them for the test to inspect or damage. Valid while the fabric is.
  std::span<uint8_t> AddRegion(const std::string& peer, uint64_t base, uint64_t size);
  // An unreachable peer fails every transfer to it (the peer's regions keep their bytes).
  void SetReachable(const std::string& peer, bool reachable);
  // Every read and write done so far, in order, as "read <peer> <address>" / "write ...".
  std::vector<std::string> log() const;

 private:
  friend class MemoryTransferEngine;
  struct Peer {
    bool reachable = true;
    std::map<uint64_t, std::vector<uint8_t>> regions;  // by base address
  };
  // Copies between `local` and [address, address + length) of `peer`; the task's status.
  Status Move(const std::string& peer, transfer::TransferOpcode opcode, uint8_t* local,
              uint64_t address, uint64_t length);

  mutable std::mutex mutex_;
  std::map<std::string, Peer> peers_;
  std::vector<std::string> log_;
};

class MemoryTransferEngine final : public transfer::TransferEngine {
 public:
  // `fabric` must outlive the engine.
  MemoryTransferEngine(MemoryFabric& fabric, std::string name);
  ~MemoryTransferEngine() override;

  std::string local_server_name() const override { return name_; }
  Status RegisterLocalMemory(void* address, size_t length,
                             const transfer::MemoryLocation& location = {}) override;
  Status UnregisterLocalMemory(void* address) override;
  // File segments are not modelled: kNotSupported.
  Result<uint64_t> RegisterFileSegment(const std::string& name, const std::string& path,
                                       uint64_t size) override;
  Status UnregisterFileSegment(const std::string& name) override;
  Result<void*> AllocateBuffer(size_t length) override;
  Status FreeBuffer(void* address) override;
  // Any name opens (a peer without regions fails its transfers).
  Result<transfer::SegmentHandle> OpenSegment(const std::string& name) override;
  Status CloseSegment(transfer::SegmentHandle handle) override;
  Result<transfer::SegmentDescriptor> GetSegmentDescriptor(transfer::SegmentHandle handle) override;
  Result<transfer::BatchId> AllocateBatchId(size_t batch_size) override;
  Status SubmitTransfer(transfer::BatchId batch,
                        std::span<const transfer::TransferRequest> requests) override;
  Result<transfer::TransferStatus> GetTransferStatus(transfer::BatchId batch,
                                                     size_t task_id) override;
  Status WaitBatch(transfer::BatchId batch,
                   std::chrono::steady_clock::time_point deadline) override;
  Status FreeBatchId(transfer::BatchId batch) override;
  std::vector<transfer::PeerTransferStats> GetPeerStats() const override { return {}; }

 private:
  bool IsRegistered(const void* address, uint64_t length) const;  // under mutex_

  MemoryFabric& fabric_;
  const std::string name_;
  mutable std::mutex mutex_;
  std::map<const uint8_t*, uint64_t> registered_;          // start -> length
  std::map<void*, std::unique_ptr<uint8_t[]>> allocated_;  // AllocateBuffer's
  std::vector<std::string> segments_;                      // handle - 1 -> name
  std::map<transfer::BatchId, std::vector<transfer::TransferStatus>> batches_;
  transfer::BatchId next_batch_ = 1;
};

}  // namespace mooncake::testing
