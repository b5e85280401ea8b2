#pragma once

// Lookups (GetReplicaList keys) since the master started, split by the tier that served them:
// the one definition behind mooncake_master_tier_hits_total, the status page and `mooncake
// stat`. Hits and misses are the service's lookups_hit/lookups_miss (every key of a single or
// batch GetReplicaList; a miss is any key not answered with a readable object); the per-tier
// counts come from the core's TierStats.

#include <cstdint>

#include "master/core/master_core_types.h"

namespace mooncake {

struct TierHits {
  // Found with a DRAM replica listed (TierStats::dram_hits; an object on DRAM and SSD too).
  uint64_t dram = 0;
  // Found on SSD only (TierStats::ssd_hits).
  uint64_t ssd = 0;
  // Found on neither (VRAM only): lookups_hit - dram - ssd, clamped at 0.
  uint64_t vram = 0;
  // Pool misses the client then read from the object store and put back
  // (TierStats::object_read_throughs).
  uint64_t object = 0;
  // Found nowhere: lookups_miss - object, clamped at 0.
  uint64_t miss = 0;

  uint64_t total() const { return dram + ssd + vram + object + miss; }
};

// The core's counters and the service's are read at slightly different moments, hence the
// clamping.
inline TierHits SplitLookupsByTier(const TierStats& tier, uint64_t lookups_hit,
                                   uint64_t lookups_miss) {
  auto minus = [](uint64_t a, uint64_t b) { return a > b ? a - b : uint64_t{0}; };
  TierHits hits;
  hits.dram = tier.dram_hits;
  hits.ssd = tier.ssd_hits;
  hits.vram = minus(lookups_hit, tier.dram_hits + tier.ssd_hits);
  hits.object = tier.object_read_throughs;
  hits.miss = minus(lookups_miss, tier.object_read_throughs);
  return hits;
}

}  // namespace mooncake
