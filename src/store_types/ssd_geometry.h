#pragma once

// The geometry of an object on an SSD segment, which the master (placement), the storage node
// (headers, copies) and the on-disk format (src/tier/ssd_layout.h) must agree on: one
// allocation holding a header block (key, size, version, CRC32C) followed by the object's bytes
// padded to the block size. Allocations on SSD segments start on a block boundary; the replica
// a reader sees starts kSsdHeaderBytes into the allocation.

#include <cstdint>

namespace mooncake {

inline constexpr uint64_t kSsdBlockBytes = 4096;
inline constexpr uint64_t kSsdHeaderBytes = kSsdBlockBytes;
// Longest key an SSD header holds; objects with longer keys are never placed on SSD (they
// stay in DRAM; the store's own key limit is larger).
inline constexpr uint64_t kSsdMaxKeyBytes = kSsdHeaderBytes - 64;

// Bytes the allocation of an object of `size` bytes takes on an SSD segment: the header block
// plus the data rounded up to whole blocks (an empty object still takes one data block, as it
// takes one byte on DRAM).
inline constexpr uint64_t SsdAllocationBytes(uint64_t size) {
  const uint64_t data = size == 0 ? 1 : size;
  return kSsdHeaderBytes + (data + kSsdBlockBytes - 1) / kSsdBlockBytes * kSsdBlockBytes;
}

}  // namespace mooncake
