#pragma once

// The master's view of every mounted segment: who owns it (node id + incarnation epoch), what
// medium it is, and which of its bytes are handed out (one OffsetAllocator per segment).
// Pure (no I/O, no clock, no threads) and not thread-safe: the master core that owns the pool
// serialises every call.
//
// Epochs: the pool remembers, per node, the newest epoch it has seen, even after all of that
// node's segments are gone. A mount from an older epoch is refused (kInvalidVersion), so a late
// message from a dead incarnation can never resurrect its segments; a mount from a newer epoch
// first unmounts everything the node's older epoch held. Epochs must therefore only grow.
//
// The pool knows nothing about objects: when segments vanish (Unmount, UnmountNode, or a mount
// from a newer epoch) it returns their names, and the caller drops the replicas they held.
//
// Invariants: every mounted segment of a node carries that node's remembered epoch; a segment
// name is mounted at most once.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/offset_allocator.h"
#include "mooncake/common/status.h"
#include "store_types/segment.h"

namespace mooncake::master {

class SegmentPool {
 public:
  struct MediumUsage {
    uint64_t capacity = 0;
    uint64_t used = 0;
  };

  SegmentPool() = default;
  SegmentPool(const SegmentPool&) = delete;
  SegmentPool& operator=(const SegmentPool&) = delete;
  SegmentPool(SegmentPool&&) = default;
  SegmentPool& operator=(SegmentPool&&) = default;

  // Mounts a segment. On success returns the names of the segments that were unmounted first
  // because `spec.epoch` is newer than the epoch the node last mounted with (empty otherwise);
  // the caller must drop the replicas those segments held. Fails, changing nothing, with:
  //  - kInvalidParams: empty name or node id, size 0, or base + size overflowing;
  //  - kSegmentAlreadyExists: the name is mounted by another node, or by this node with this
  //    same epoch;
  //  - kInvalidVersion: `spec.epoch` is older than the node's newest epoch (stale incarnation).
  Result<std::vector<std::string>> Mount(const SegmentSpec& spec);

  // Unmounts one segment, discarding its allocations. Fails with kSegmentNotFound for an
  // unknown name and with kInvalidParams when `node`/`epoch` are not its owner's.
  Status Unmount(std::string_view name, const NodeId& node, Epoch epoch);

  // Unmounts every segment of `node` (e.g. it missed its liveness TTL) and returns their names,
  // sorted; empty when it had none. The node's epoch stays remembered.
  std::vector<std::string> UnmountNode(const NodeId& node);

  // Allocates `size` bytes in `segment`. Fails with kSegmentNotFound, kInvalidParams (size 0)
  // or kNoAvailableHandle (no free range large enough).
  Result<Allocation> Allocate(std::string_view segment, uint64_t size);

  // Releases an allocation made by Allocate/AllocateOnMedium/Reserve. Fails, changing nothing,
  // with kSegmentNotFound for an unknown segment and kInvalidParams when no allocation of that
  // length starts at that address. The pool keeps only what each allocation holds (the length
  // rounded up for alignment), so a length that differs by less than the alignment (64 B; 4 KiB
  // on SSD segments, whose allocations start on a block boundary) from
  // the true one is not caught.
  Status Free(const Allocation& allocation);
  // The same, for callers that keep the segment's name apart from the range (no copy of it).
  Status Free(std::string_view segment, uint64_t address, uint64_t length);

  // OK when an allocation of `length` bytes at absolute `address` is held in `segment`
  // exactly as Free would accept it; otherwise the error Free would return. Changes nothing.
  Status CheckHeld(std::string_view segment, uint64_t address, uint64_t length) const;

  // Marks [address, address + length) of `segment` as allocated, `address` absolute
  // (base + offset) — how a node's manifest of what it already holds is adopted. Release it
  // with Free({segment, address, length}). Fails, changing nothing, with kSegmentNotFound, or
  // kInvalidParams when length is 0, the range leaves the segment, or any byte is taken.
  Status Reserve(std::string_view segment, uint64_t address, uint64_t length);

  // Allocates `size` bytes on some segment of `medium`, never another medium, never on a
  // draining segment, never on a segment owned by a node in `excluded_nodes` (so replicas of one
  // object land on distinct nodes). Tries `preferred_segments` first, in order (names that are
  // unknown, of another medium or of an excluded node are skipped), then the remaining segments of
  // the medium, most free bytes first (ties by name). Fails with kInvalidParams for size 0 and with
  // kNoAvailableHandle, naming the medium, the size and the free bytes, when nothing fits.
  Result<Allocation> AllocateOnMedium(Medium medium, uint64_t size,
                                      const std::vector<std::string>& preferred_segments,
                                      const std::set<NodeId>& excluded_nodes);

  // Marks every mounted segment of `node` draining: AllocateOnMedium skips them from now on
  // (Allocate by name and Reserve still work: they serve puts already placed and manifests).
  // Returns their names, sorted; empty when the node has none. Draining ends with the
  // segment (a new mount, even of the same name, starts undrained).
  std::vector<std::string> SetDraining(const NodeId& node);

  // A snapshot of `name`, or nullopt when it is not mounted.
  std::optional<SegmentInfo> Find(std::string_view name) const;
  // Every mounted segment, sorted by name.
  std::vector<SegmentInfo> List() const;
  // Capacity and use summed over the mounted segments of `medium`.
  MediumUsage Usage(Medium medium) const;
  // Nodes with at least one mounted segment.
  std::set<NodeId> Nodes() const;
  // The newest epoch seen from `node` (kept after its segments are gone), or nullopt if the
  // node never mounted anything.
  std::optional<Epoch> NodeEpoch(const NodeId& node) const;

  // Checks the invariants above and each segment's allocator; kInternalError naming the
  // first broken one. For tests and debug checks.
  Status CheckConsistency() const;

 private:
  struct Segment {
    SegmentSpec spec;
    OffsetAllocator allocator;
    bool draining = false;
  };
  struct Node {
    Epoch epoch = 0;
    std::set<std::string, std::less<>> segments;
  };
  using SegmentMap = std::map<std::string, Segment, std::less<>>;

  static SegmentInfo InfoOf(const Segment& segment);
  // Allocates in one segment; `size` > 0.
  static Result<Allocation> AllocateIn(Segment& segment, uint64_t size);
  // The offset of the allocation Free(name, address, length) would release, or its error.
  static Result<uint64_t> HeldOffset(std::string_view name, const Segment& segment,
                                     uint64_t address, uint64_t length);
  // Removes segment `it` from both maps.
  void Erase(SegmentMap::iterator it);

  SegmentMap segments_;
  std::map<NodeId, Node, std::less<>> nodes_;
};

}  // namespace mooncake::master
