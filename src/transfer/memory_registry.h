#pragma once

// The set of memory regions registered with an engine. Both sides use it on every slice: the
// initiator checks its local source/destination, the target checks the remote address, so a
// transfer can never touch memory outside a registered buffer.

#include <cstdint>
#include <map>
#include <shared_mutex>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"

namespace mooncake::transfer {

class MemoryRegistry {
 public:
  // Fails when the region is empty, wraps around, or overlaps a registered one.
  Status Register(uint64_t address, uint64_t length, std::string location);
  // Fails when no region starts exactly at `address`.
  Status Unregister(uint64_t address);
  // True when [address, address + length) lies inside one registered region.
  bool Contains(uint64_t address, uint64_t length) const;
  std::vector<BufferDescriptor> Snapshot() const;

 private:
  mutable std::shared_mutex mutex_;
  std::map<uint64_t, BufferDescriptor> regions_;  // keyed by start address
};

}  // namespace mooncake::transfer
