#pragma once

// The seam that decides on which medium new bytes go: a put's replicas, an evicted object's
// demotion copy, a hot object's promotion copy. MasterCore decides *whether* something moves
// (watermarks, hits, leases, pins, copies in flight) and *which segment* within a medium takes
// it (SegmentPool's allocator, distinct nodes, a holder's own segment for local copies); the
// policy only names the media and their order. One implementation per file
// (dram_first_placement.h is the default).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "master/core/segment_pool.h"
#include "mooncake/store/types.h"

namespace mooncake::master {

// One try of a put's placement.
struct PutStep {
  enum class Room : uint8_t {
    // Only into free space.
    kFreeOnly,
    // Evict on the medium first when nothing fits (see "Eviction" in docs/master.md).
    kEvictFirst,
  };
  Medium medium = Medium::kDram;
  Room room = Room::kFreeOnly;

  friend bool operator==(const PutStep&, const PutStep&) = default;
};

class PlacementPolicy {
 public:
  virtual ~PlacementPolicy() = default;
  // The tries a put that asked for `requested`, with a key of `key_bytes` bytes, makes in
  // order until one places a replica. Must start with {requested, kFreeOnly}, so a put that
  // fits where it asked goes there. `pool` shows what is mounted (capacity per medium).
  virtual std::vector<PutStep> PutSteps(Medium requested, size_t key_bytes,
                                        const SegmentPool& pool) const = 0;
  // Where Tick's eviction of `from` (above its high watermark) copies cold objects instead of
  // dropping them; nullopt: they are dropped.
  virtual std::optional<Medium> DemotionTarget(Medium from, const SegmentPool& pool) const = 0;
  // Where an object whose replicas are all on `on` is copied once it counts promote_after_hits
  // hits; nullopt: it stays.
  virtual std::optional<Medium> PromotionTarget(Medium on) const = 0;
};

}  // namespace mooncake::master
