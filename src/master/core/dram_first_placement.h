#pragma once

// The default PlacementPolicy: DRAM first, SSD below it.
//  - A DRAM put that does not fit goes to free SSD space before anything is dropped (Tick
//    demotes cold DRAM objects, so new puts land in DRAM again); failing that, DRAM objects are
//    evicted to make room, and SSD objects only last: space they free on a node tracking its
//    manifest is quarantined until the node erased their headers, so it serves later puts,
//    not this one. Keys too long for an SSD header, and puts asking for VRAM or SSD, stay on
//    the medium they asked for.
//  - Eviction of DRAM demotes to SSD when an SSD tier is mounted; nothing else is demoted.
//  - Objects only on SSD are promoted to DRAM.

#include "master/core/placement_policy.h"

namespace mooncake::master {

class DramFirstPlacement final : public PlacementPolicy {
 public:
  std::vector<PutStep> PutSteps(Medium requested, size_t key_bytes,
                                const SegmentPool& pool) const override;
  std::optional<Medium> DemotionTarget(Medium from, const SegmentPool& pool) const override;
  std::optional<Medium> PromotionTarget(Medium on) const override;
};

}  // namespace mooncake::master
