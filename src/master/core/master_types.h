#pragma once

// Small value types shared by the pieces of the master's pure core (segment pool, object table,
// placement). Plain data, no behaviour beyond naming.

#include <cstdint>
#include <string>
#include <string_view>

namespace mooncake {

// Where a segment's bytes live.
enum class Medium : uint8_t { kDram, kVram, kSsd };

// "DRAM", "VRAM", "SSD"; "UNKNOWN" for a value outside the enum.
inline const char* MediumName(Medium medium) {
  switch (medium) {
    case Medium::kDram:
      return "DRAM";
    case Medium::kVram:
      return "VRAM";
    case Medium::kSsd:
      return "SSD";
  }
  return "UNKNOWN";
}

// ---- SSD segments ----------------------------------------------------------------------
// An object on an SSD segment occupies one allocation: a header block (key, size, version,
// CRC32C; see src/tier/ssd_layout.h, whose constants must equal these) followed by its bytes
// padded to the block size. Allocations on SSD segments start on a block boundary; the replica
// a reader sees starts kSsdHeaderBytes into the allocation.
inline constexpr uint64_t kSsdBlockBytes = 4096;
inline constexpr uint64_t kSsdHeaderBytes = kSsdBlockBytes;
// Longest key an SSD header holds; objects with longer keys are never placed on SSD.
inline constexpr uint64_t kSsdMaxKeyBytes = kSsdHeaderBytes - 64;

// Bytes the allocation of an object of `size` bytes takes on an SSD segment: the header block
// plus the data rounded up to whole blocks (an empty object still takes one data block, as it
// takes one byte on DRAM).
inline uint64_t SsdAllocationBytes(uint64_t size) {
  const uint64_t data = size == 0 ? 1 : size;
  return kSsdHeaderBytes + (data + kSsdBlockBytes - 1) / kSsdBlockBytes * kSsdBlockBytes;
}

// The Transfer Engine segment that serves master segment `segment`: a node's further segments
// (its SSD file segment) are named "<engine name>/<suffix>" and served by that same engine,
// whose name ("host:port") never contains '/'.
inline std::string_view TransferSegmentOf(std::string_view segment) {
  return segment.substr(0, segment.find('/'));
}

// A storage node's (or client's) stable identity, unchanged across restarts.
using NodeId = std::string;
// Incarnation of a node: changes, increasing, on every start of the node's process, so the
// master can tell a restarted node's mounts from its previous life's.
using Epoch = uint64_t;

// One segment as its owner announces it in a mount.
struct SegmentSpec {
  // Unique across the cluster.
  std::string name;
  NodeId node_id;
  Epoch epoch = 0;
  Medium medium = Medium::kDram;
  // The address peers use: the segment's registered buffer address in its owner. An
  // allocation at offset o within the segment is the remote address base + o.
  uint64_t base = 0;
  // Bytes; > 0, and base + size must not overflow.
  uint64_t size = 0;
  // The node keeps a manifest of this segment's objects: the master journals every replica
  // that appears or goes there for the node to fetch (MasterCore::TakeManifestChanges).
  bool track_manifest = false;
};

// A byte range handed out in one segment. `address` is absolute (segment base + offset), the
// form peers read and write; `length` is the size that was asked for (padding excluded).
struct Allocation {
  std::string segment;
  uint64_t address = 0;
  uint64_t length = 0;

  friend bool operator==(const Allocation&, const Allocation&) = default;
};

}  // namespace mooncake
