#pragma once

// Direct access to the bytes of replicas for the store's real-process tests: a Transfer Engine
// of the test's own reads what a replica holds (whichever replica a client would pick) and
// writes into it, as any process that reaches a node's Transfer Engine port could, to inject
// the corruption the store must catch. One slice at a time, at most 4 MiB.
//
// Not thread-safe: use from the test's thread.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_engine.h"
#include "store_types/segment.h"

namespace mooncake::store {

class ReplicaAccess {
 public:
  // An engine on loopback speaking `protocol` ("tcp", or "shm" for nodes on this host).
  static Result<std::unique_ptr<ReplicaAccess>> Create(const std::string& protocol = "tcp");

  // The first `size` bytes of `slice`.
  Result<std::vector<uint8_t>> Read(const Allocation& slice, size_t size);
  // Writes `bytes` at `offset` into `slice` (a foreign write the node never hears about).
  Status Write(const Allocation& slice, uint64_t offset, std::span<const uint8_t> bytes);
  // Overwrites the byte at `offset` of `slice` with its complement (a flipped replica).
  Status FlipByte(const Allocation& slice, uint64_t offset);

 private:
  static constexpr size_t kBufferBytes = size_t{4} << 20;

  ReplicaAccess(std::unique_ptr<transfer::TransferEngine> engine, uint8_t* buffer)
      : engine_(std::move(engine)), buffer_(buffer) {}
  // One transfer between the buffer's start and `address` in `segment`, waited for (10 s).
  Status Transfer(transfer::TransferOpcode opcode, const std::string& segment, uint64_t address,
                  size_t size);

  std::unique_ptr<transfer::TransferEngine> engine_;
  uint8_t* buffer_;
};

}  // namespace mooncake::store
