#pragma once

// The changes to one segment's manifest that its node has not yet acknowledged: how a storage
// node keeps an exact list of the objects it holds (its manifest) although clients write into
// its memory directly. The master appends a change whenever a replica on the segment becomes
// visible (PutEnd) or stops being visible (remove, eviction, an upsert superseding it); the
// node fetches them with its heartbeats, applies them in order and acknowledges the last one
// it applied. After a master restart the node re-mounts with its manifest, and the new master
// rebuilds its index from the nodes (MasterCore::MountWithManifest).
//
// Changes are numbered 1, 2, 3… per mount of the segment; Take forgets what the node has
// acknowledged, so a journal holds only the changes in flight to its node.
//
// Not thread-safe; owned by MasterCore (through SegmentIndex).

#include <cstddef>
#include <cstdint>
#include <deque>

#include "store_types/manifest.h"

namespace mooncake::master {

class ManifestJournal {
 public:
  void Append(ManifestChange change);
  // Forgets the changes numbered <= `acked` and returns up to `max` of those after them.
  ManifestBatch Take(uint64_t acked, size_t max);
  // Number of the last change appended (0: none yet).
  uint64_t last_seq() const { return first_seq_ + changes_.size() - 1; }
  // Number of the last change the node acknowledged (0: none).
  uint64_t acked_seq() const { return first_seq_ - 1; }
  // Changes not yet acknowledged.
  size_t size() const { return changes_.size(); }

 private:
  std::deque<ManifestChange> changes_;
  uint64_t first_seq_ = 1;  // number of changes_.front()
};

}  // namespace mooncake::master
