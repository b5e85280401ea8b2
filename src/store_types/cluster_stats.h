#pragma once

// Counters the master keeps about its tiers, re-replication and corrupt replicas, as
// GetClusterInfo reports them and the metrics, the status page and `mooncake stat` show them;
// and the one definition of how lookups split over the tiers that served them.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mooncake/store/types.h"

namespace mooncake {

// What the SSD and object tiers have done since the master started.
struct TierStats {
  // Puts (and upserts) asked for DRAM and placed on SSD because DRAM had no room.
  uint64_t ssd_puts = 0;
  // Demotions: copies of a cold DRAM object to SSD scheduled by eviction instead of dropping
  // it; completed ones (the SSD replica replaced the DRAM ones), and those that failed, timed
  // out or were cancelled (the object stays in DRAM, or went another way).
  uint64_t demotions_scheduled = 0;
  uint64_t demotions_completed = 0;
  uint64_t demotions_failed = 0;
  // GetReplicaList calls that found an object only on SSD.
  uint64_t ssd_hits = 0;
  // Promotions: copies of an SSD-only object to DRAM after promote_after_hits SSD hits;
  // completed ones (the object is now in DRAM and on SSD), and those its node reported failed
  // (the object stays on SSD only).
  uint64_t promotions_scheduled = 0;
  uint64_t promotions_completed = 0;
  uint64_t promotions_failed = 0;
  // GetReplicaList calls that found a DRAM replica.
  uint64_t dram_hits = 0;
  // ---- Object tier ----
  // Pool misses read through from the object store (counted from the clients' put-backs).
  uint64_t object_read_throughs = 0;
  // Objects known to be in the object store by an upload: the writer's (write-through) or a
  // node's (write-back); and write-back uploads a node reported failed or that timed out.
  uint64_t object_uploads = 0;
  uint64_t object_upload_failures = 0;
  // Write-back backlog (gauges): visible objects not yet in the object store, their bytes,
  // and uploads handed to nodes and not yet reported.
  uint64_t upload_backlog_objects = 0;
  uint64_t upload_backlog_bytes = 0;
  uint64_t uploads_in_flight = 0;
};

// What re-replication has done since the master started.
struct RepairStats {
  // Copies handed to a destination (MasterCore::ScheduleRepairs).
  uint64_t scheduled = 0;
  // Copies reported done and verified: the destination became a COMPLETE replica.
  uint64_t completed = 0;
  // Copies the destination node reported failed (unreachable source, checksum mismatch...).
  uint64_t failed = 0;
  // Copies not reported within repair_timeout.
  uint64_t timed_out = 0;
  // Copies made moot while in flight: the object was removed, evicted or replaced, its source
  // or destination segment went, or the destination node began draining.
  uint64_t cancelled = 0;
  // Attempts that found no room on any node not already holding the object (objects that
  // every node already holds are not attempted, nor counted).
  uint64_t no_destination = 0;
};

// Corrupt replicas on one node's medium: replicas clients read and found not to match their
// object's CRC32C.
struct CorruptReplicaCounts {
  std::string node;
  Medium medium = Medium::kDram;
  // Reports the master accepted for a replica here.
  uint64_t detected = 0;
  // Replicas here the master dropped for them (an object's last replica with an upsert in
  // flight is kept).
  uint64_t dropped = 0;
};

// What the master did with clients' reports of corrupt replicas since it started
// (MasterCore::ReportCorruptReplica). A report the master refused (stale version, replica
// already gone) is counted nowhere.
struct IntegrityStats {
  // Reports accepted: the replica was one of its object's visible replicas.
  uint64_t corrupt_reports = 0;
  // Replicas dropped for them; re-replication copies a remaining one.
  uint64_t corrupt_replicas_dropped = 0;
  // Objects erased because their last replica was corrupt.
  uint64_t objects_lost_to_corruption = 0;
  // Per node and medium with a report, sorted by (node, medium).
  std::vector<CorruptReplicaCounts> per_node;

  // The entry of (node, medium), inserted in order when missing.
  CorruptReplicaCounts& At(std::string_view node, Medium medium) {
    auto before = [&](const CorruptReplicaCounts& c) {
      return std::string_view(c.node) < node || (c.node == node && c.medium < medium);
    };
    auto it = std::partition_point(per_node.begin(), per_node.end(), before);
    if (it == per_node.end() || it->node != node || it->medium != medium) {
      it = per_node.insert(it, CorruptReplicaCounts{std::string(node), medium});
    }
    return *it;
  }
};

// Lookups (GetReplicaList keys) since the master started, split by the tier that served them:
// the one definition behind mooncake_master_tier_hits_total, the status page and `mooncake
// stat`. Hits and misses are the service's lookups_hit/lookups_miss (every key of a single or
// batch GetReplicaList; a miss is any key not answered with a readable object); the per-tier
// counts come from TierStats.
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
