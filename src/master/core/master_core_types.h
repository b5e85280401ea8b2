#pragma once

// The plain value types of MasterCore's API (master_core.h): its options, how a put is
// placed, eviction counters, manifest entries and what adopting them did, removal modes.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "master/core/master_types.h"
#include "mooncake/common/status.h"

namespace mooncake {

// How the master treats the object-storage tier (see MasterCoreOptions::object_tier).
enum class ObjectTierMode : uint8_t { kNone, kWriteThrough, kWriteBack };

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
  // Re-replication (master_core_repair.cc): at most this many repairs — copies of an object
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
  // Promotion (master_core_repair.cc): an object whose COMPLETE replicas are all on SSD gets
  // a copy in DRAM once this many GetReplicaList calls found it there (SSD hits), if DRAM has
  // room below eviction_high_watermark. 0 turns promotion off; so does
  // max_repairs_in_flight 0. Default 2; <= 255.
  uint32_t promote_after_hits = 2;
  // SSD hits decay: a hit on an object not looked up for longer than this starts its count
  // over, so objects read now and then over days are not promoted as if they were hot.
  // 0 = hits never age. Default 60 s; >= 0.
  std::chrono::milliseconds promote_hit_window{60000};
  // The object tier's policy (master_core_upload.cc). kWriteThrough: every PutEnd'd object is
  // in the object store (its writer uploaded it first), so nothing changes here but counters.
  // kWriteBack: an object is acknowledged before it reaches the object store; Tick hands its
  // upload to a node holding a replica, and until the node reports it done the object is never
  // dropped by eviction (it may still be demoted to SSD). Default kNone.
  ObjectTierMode object_tier = ObjectTierMode::kNone;
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

// How PutStart/UpsertStart place an object.
struct ReplicateConfig {
  // Copies wanted, each on a distinct node; 1..16.
  int replica_num = 1;
  // Segments to try first, in order (see SegmentPool::AllocateOnMedium).
  std::vector<std::string> preferred_segments;
  // Every replica goes to a segment of this medium.
  Medium medium = Medium::kDram;
  // Never evict the object (Remove still may).
  bool with_hard_pin = false;
  // Evict the object only after every unpinned one, for this long after PutStart; then it is
  // ordinary. Unset: no soft pin. An upsert's PutEnd replaces the object's pins with these.
  std::optional<std::chrono::milliseconds> soft_pin_ttl;
  // The bytes come from the object store (a client's read-through putting a pool miss back):
  // counted as a read-through, and with write-back the object needs no upload.
  bool from_object_store = false;
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

// What the SSD tier has done since the core was created.
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

// What re-replication has done since the core was created.
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

// Write-back: one upload of an object's bytes to the object store by a node holding a COMPLETE
// replica (MasterCore::TakeUploadTasks). The node reads `source` (its own segment), checks the
// CRC32C of the `size` bytes against `checksum`, puts them under `key` and reports
// (MasterCore::CompleteUpload). `check_first` (objects adopted after a master restart, which
// may be there already): a HEAD showing the same size and CRC32C is reported done without
// uploading. `remove_only`: delete `key` from the object store instead (a late upload of an
// object removed meanwhile); source, size and checksum are then unused.
struct UploadTask {
  uint64_t task_id = 0;
  std::string key;
  uint64_t version = 0;
  uint64_t size = 0;
  uint32_t checksum = 0;
  Allocation source;
  NodeId node;
  bool check_first = false;
  bool remove_only = false;
  // What remains of upload_timeout when the task is handed out.
  std::chrono::milliseconds timeout{0};
};

// A node's report of one upload task.
struct UploadResult {
  uint64_t task_id = 0;
  // OK: the object store holds the object's bytes (or, remove_only, no longer holds the key).
  Status status;
  // For the node's own use (not sent): the key and version a successful upload put there
  // (version 0 otherwise), so that its manifest can say so to a restarted master.
  std::string key;
  uint64_t version = 0;
};

// One copy of an object's bytes from a node holding a COMPLETE replica to a node that holds
// none, pulled by the destination node (MasterCore::TakeCopyTasks): it reads `source` with
// the Transfer Engine straight into its own segment at `destination`, checks the CRC32C of
// the first `size` bytes against `checksum`, and reports (MasterCore::CompleteRepair).
struct CopyTask {
  // Unique per master process; names the task in CompleteRepair.
  uint64_t task_id = 0;
  std::string key;
  // The object's version, size and checksum when the copy was scheduled.
  uint64_t version = 0;
  uint64_t size = 0;
  uint32_t checksum = 0;
  // Where the bytes are read (a COMPLETE replica) and written; same length.
  Allocation source;
  Allocation destination;
  // The node that owns `destination` and runs the copy.
  NodeId destination_node;
  // What remains of repair_timeout when the task is handed out: a result after that is
  // ignored.
  std::chrono::milliseconds timeout{0};
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

// One object a storage node already holds, as its manifest announces it when it (re)mounts a
// segment: how a restarted master regains its index from the nodes (see MountWithManifest).
struct ManifestEntry {
  std::string key;
  // The replica's absolute address (segment base + offset) and the bytes it occupies there.
  uint64_t address = 0;
  uint64_t length = 0;
  // The object's size (<= length), version and checksum as sealed by its PutEnd.
  uint64_t size = 0;
  uint64_t version = 0;
  uint32_t checksum = 0;
  // Write-back: this version is in the object store (see MasterCore "Write-back").
  bool in_object_store = false;
};

// What MountWithManifest did with each manifest entry: every entry is counted exactly once.
struct MountReport {
  // Adopted as a COMPLETE replica (of a new object, or of one already known).
  size_t adopted = 0;
  // Lost to another claim on the key: an older version than the one kept, a different
  // size/checksum at the same version, a put of the key in flight, or a second replica on a
  // node that already holds one.
  size_t skipped_conflict = 0;
  // Malformed: bad key, length 0, size above max_object_size, length < size, version 0, or a range
  // outside the segment or overlapping one already taken.
  size_t skipped_invalid = 0;
  // The keys of the skipped entries, in manifest order: the node drops them from its
  // manifest (the master does not count those bytes as its objects).
  std::vector<std::string> rejected_keys;
};

// One page of MasterCore::ListKeys.
struct KeyPage {
  // Visible keys, sorted bytewise ascending.
  std::vector<std::string> keys;
  // More matching keys follow keys.back(): ask again with start_after = keys.back().
  bool truncated = false;
};

enum class RemoveMode : uint8_t {
  // Refuse (kObjectHasLease) while a read lease is live.
  kNormal,
  // Remove even while leased: the caller accepts that readers may see their bytes vanish.
  kForce,
};

}  // namespace mooncake
