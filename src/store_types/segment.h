#pragma once

// Segments as the master, the storage nodes and the clients name them: who owns one (node id +
// incarnation epoch), where it is in its owner's memory, and the byte ranges handed out in it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mooncake/store/types.h"

namespace mooncake {

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

// A snapshot of one mounted segment, for queries and metrics.
struct SegmentInfo {
  std::string name;
  NodeId node_id;
  Epoch epoch = 0;
  Medium medium = Medium::kDram;
  uint64_t base = 0;
  uint64_t capacity = 0;
  // Bytes held by allocations, alignment padding included.
  uint64_t used = 0;
  uint64_t largest_free_block = 0;
  size_t allocations = 0;
  // 1 - largest_free_block / free bytes (see OffsetAllocator::Stats).
  double fragmentation = 0;
  // Its node is leaving (draining): no new allocation lands here.
  bool draining = false;
};

// The Transfer Engine segment that serves master segment `segment`: a node's further segments
// (its SSD file segment) are named "<engine name>/<suffix>" and served by that same engine,
// whose name ("host:port") never contains '/'.
inline std::string_view TransferSegmentOf(std::string_view segment) {
  return segment.substr(0, segment.find('/'));
}

}  // namespace mooncake
