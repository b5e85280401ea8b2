#pragma once

// The state of the whole cluster as the master reports it (GetClusterInfo): its segments, its
// object counts and the counters of its tiers, re-replication and corrupt replicas. Read by
// `mooncake stat`, the status page, the benchmarks and the tests.

#include <cstdint>
#include <string>
#include <vector>

#include "store_types/cluster_stats.h"
#include "store_types/segment.h"

namespace mooncake {

struct ClusterInfo {
  // capacity, used, epoch, medium and draining are filled; base and the allocator's figures
  // are not.
  std::vector<SegmentInfo> segments;
  uint64_t objects = 0;
  uint64_t objects_below_replica_target = 0;
  // GetReplicaList keys found / not found since the master started.
  uint64_t lookups_hit = 0;
  uint64_t lookups_miss = 0;
  // Manifest changes not yet acknowledged by their nodes.
  uint64_t manifest_backlog = 0;
  // Re-replication: copies in flight now, and the counters since the master started.
  uint64_t repairs_in_flight = 0;
  RepairStats repairs;  // no_destination is not reported
  // The SSD and object tiers' counters since the master started.
  TierStats tier;
  // Corrupt replicas reported by clients since the master started.
  IntegrityStats integrity;
  // The object tier's policy ("write-through", "write-back", "none"); "" when none is set.
  std::string object_store_policy;
};

}  // namespace mooncake
