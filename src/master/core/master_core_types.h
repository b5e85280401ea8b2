#pragma once

// The plain value types of MasterCore's API (master_core.h) that only the master uses: its
// options, eviction counters, what a reported copy became and what a corrupt-replica report
// did. The types it shares with nodes and clients (segments, manifests, node tasks, tier
// counters, ReplicateConfig, PutMode, RemoveMode) are in src/store_types/ and
// include/mooncake/store/types.h.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "mooncake/common/status.h"
#include "mooncake/store/types.h"
#include "store_types/cluster_stats.h"
#include "store_types/key_page.h"
#include "store_types/manifest.h"
#include "store_types/node_tasks.h"
#include "store_types/object_tier.h"
#include "store_types/segment.h"

namespace mooncake::master {

struct MasterCoreOptions {
  // Read lease granted by GetReplicaList. Default 5 s; > 0 and <= max_lease_ttl.
  std::chrono::milliseconds default_lease_ttl{5000};
  // How long one streak of back-to-back leases may last in total (see the lease-cap rule in
  // the file comment). Default 30 s; >= default_lease_ttl.
  std::chrono::milliseconds max_lease_ttl{30000};
  // A PutStart/UpsertStart not ended or revoked within this long is reclaimed (by Tick(), or
  // by the next call that touches its key; see "Put deadline"). Default 30 s; > 0.
  std::chrono::milliseconds put_timeout{30000};
  // Longest accepted key, in bytes; empty and longer keys are kInvalidKey. Default 4096;
  // 1..2^32-1.
  size_t max_key_length = 4096;
  // Largest accepted object, in bytes; larger sizes are kInvalidParams. Default 1 TiB; > 0.
  uint64_t max_object_size = uint64_t{1} << 40;
  // Eviction starts on a medium once used / capacity exceeds this. Default 0.95; <= 1.
  double eviction_high_watermark = 0.95;
  // Eviction frees down to used / capacity <= eviction_high_watermark - eviction_ratio.
  // Default 0.05; 0 < eviction_ratio < eviction_high_watermark.
  double eviction_ratio = 0.05;
  // A node whose last Mount or Heartbeat is this long ago is declared dead by Tick(): all its
  // segments are unmounted and their replicas dropped. Default 10 s; > 0.
  std::chrono::milliseconds client_ttl{10000};
  // Objects to size the index for at creation. The index grows by doubling, rehashing every
  // key once per doubling (tens of ms at millions of objects); sizing it up front avoids
  // that. Default 0 (grow as needed).
  size_t expected_objects = 0;
  // Version of the first put. Versions only grow, and must grow across master restarts too:
  // after a restart, a node that re-mounts late announces objects with the old master's
  // versions, and a newer put of the same key must win. The service passes the wall clock in
  // nanoseconds. Copy task ids start here too, so a node's late report of an earlier master's
  // task never names one of this master's. Default 1; > 0.
  uint64_t first_version = 1;
  // Re-replication (repair_scheduler.h): at most this many repairs — copies of an object
  // to a further node — in flight at once. 0 turns re-replication and drain copies off.
  // Default 256.
  size_t max_repairs_in_flight = 256;
  // Repairs Tick() schedules at most per call. Default 64; > 0.
  size_t repairs_per_tick = 64;
  // A repair not reported within this long of its scheduling is abandoned: its destination is
  // freed and the object is scheduled again. It bounds how long a destination range stays
  // reserved for a node that went quiet. Default 30 s; > 0.
  std::chrono::milliseconds repair_timeout{30000};
  // After a repair failed, or found no destination with room, the object is not tried again
  // for this long. Default 1 s; >= 0.
  std::chrono::milliseconds repair_retry_delay{1000};
  // Promotion (tier_copies.cc): an object whose COMPLETE replicas are all on SSD gets
  // a copy in DRAM once this many GetReplicaList calls found it there (SSD hits), if DRAM has
  // room below eviction_high_watermark. 0 turns promotion off; so does
  // max_repairs_in_flight 0. Default 2; <= 255.
  uint32_t promote_after_hits = 2;
  // SSD hits decay: a hit on an object not looked up for longer than this starts its count
  // over, so objects read now and then over days are not promoted as if they were hot.
  // 0 = hits never age. Default 60 s; >= 0.
  std::chrono::milliseconds promote_hit_window{60000};
  // The object tier's policy (write_back_scheduler.h). kWriteThrough: every PutEnd'd object is
  // in the object store (its writer uploaded it first), so nothing changes here but counters.
  // kWriteBack: an object is acknowledged before it reaches the object store; Tick hands its
  // upload to a node holding a replica, and until the node reports it done the object is never
  // dropped by eviction (it may still be demoted to SSD). Default kNone.
  ObjectTierPolicy object_tier = ObjectTierPolicy::kNone;
  // Write-back: uploads handed to one node and not yet reported, at most. Default 8; > 0.
  size_t max_uploads_per_node = 8;
  // Write-back: an upload not reported within this long is abandoned and scheduled again.
  // Default 120 s; > 0.
  std::chrono::milliseconds upload_timeout{120000};
  // Write-back: after a failed upload the object waits this long before the next try, doubling
  // per failure up to 30 s. Default 1 s; > 0.
  std::chrono::milliseconds upload_retry_delay{1000};

  // kInvalidParams naming the first field out of range.
  Status Validate() const;
};

// What eviction has done since the core was created. Every candidate a run looks at is
// either evicted or counted in exactly one skipped_* field.
struct EvictionStats {
  // Eviction runs that found a medium over its watermark, or a put that did not fit.
  uint64_t runs = 0;
  uint64_t evicted_objects = 0;
  // Object bytes freed (size x replicas; allocation padding excluded).
  uint64_t evicted_bytes = 0;
  // Passed over because a read lease was live.
  uint64_t skipped_leased = 0;
  // Passed over because hard-pinned.
  uint64_t skipped_pinned = 0;
  // Passed over because a put or upsert of the key was in flight.
  uint64_t skipped_in_flight = 0;
  // Kept because write-back has not uploaded it yet (the pool holds its only copy).
  uint64_t skipped_not_uploaded = 0;
};

// What CompleteRepair did with a reported copy.
enum class RepairOutcome : uint8_t {
  // The destination is now a COMPLETE replica (journaled for its node's manifest).
  kAdded,
  // The node reported a failure: the destination was freed; the object is tried again after
  // repair_retry_delay.
  kFailed,
  // The copy was moot (object removed or replaced, a segment gone, destination draining) or
  // past its deadline: the destination was freed.
  kDropped,
};

// What ReportCorruptReplica did with a replica a client found not to match its checksum.
enum class CorruptReplicaOutcome : uint8_t {
  // The replica was dropped; the object keeps its other replicas and re-replication (Tick)
  // copies one of them to restore the replica target.
  kDropped,
  // It was the object's last replica: the object was erased (a later Get misses and may read
  // through the object store).
  kObjectErased,
  // It was the object's last replica and an upsert of the key is in flight: the replica is
  // kept (the object cannot be erased under its writer); the upsert's PutEnd replaces it.
  kKept,
};

// "dropped", "object erased", "kept".
const char* CorruptReplicaOutcomeName(CorruptReplicaOutcome outcome);

}  // namespace mooncake::master
