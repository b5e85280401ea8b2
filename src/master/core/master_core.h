#pragma once

// The master's pure core: the object index (key -> size, version, checksum, replicas, lease)
// on top of the SegmentPool. Two-phase puts, upserts, read leases with a cap, removal, and the
// reaction to segments vanishing. No threads, no sockets, no clock reads of its own: time
// comes from the injected Clock, so tests drive it with a FakeClock.
//
// Not thread-safe: the service that owns a MasterCore serialises every call.
//
// Lease-cap rule (why reads can never hold an object forever):
//   A lease is live while now < lease_until. A lease streak is a run of back-to-back leases.
//   GetReplicaList at `now`:
//     - if the lease has lapsed (now >= lease_until), a new streak begins: streak_start = now;
//     - lease_until = min(now + default_lease_ttl, streak_start + max_lease_ttl).
//   So however often an object is read, its lease lapses at the latest max_lease_ttl after
//   the streak began; at that instant Remove (and, later, eviction) succeeds, and only a read
//   after it may start a new streak. ExistKey and GetSize take no lease at all.
//
// Eviction (per medium; order from the EvictionPolicy, LRU by default):
//   When used / capacity > eviction_high_watermark (checked by Tick), or a PutStart/UpsertStart
//   finds no room, whole visible objects with a replica on that medium are evicted until
//   used / capacity <= high - eviction_ratio (for a put: also until the put's bytes would
//   fit). Never evicted: objects with a live read lease, hard-pinned objects, objects with a
//   put/upsert in flight. Soft-pinned objects go only after every unpinned candidate. Only
//   GetReplicaList and PutEnd refresh an object's place in the LRU order; ExistKey and
//   GetSize are probes, so polling keys can neither keep them resident nor starve puts.
//
// Put deadline: a put or upsert not ended or revoked within put_timeout of its PutStart counts
// as reclaimed from that instant, whether or not Tick has run: PutEnd/PutRevoke of its key
// reclaim it and fail (kObjectNotFound, "timed out"), so a writer can never believe a put
// landed in space the master may already have handed to another; PutStart, UpsertStart,
// Remove, RemoveByRegex, RemoveAll and MountWithManifest first reclaim every put past its
// deadline (O(expired), via the deadline index), as Tick does.
//
// Invariants (CheckInvariants verifies them all):
//  - an object is invisible until its first PutEnd (or adoption); while invisible it has no
//    replica and a put in flight; once visible it has 1..16 replicas, all COMPLETE, and a put
//    in flight (if any) is an upsert of a new version;
//  - every replica (visible, in flight, or awaiting a deferred free) holds its allocation in
//    the SegmentPool, and the pool holds no other allocation;
//  - every visible or in-flight replica is linked once in its segment's SegmentIndex members;
//  - every put in flight has one entry in the deadline index, and nothing else does;
//  - the below-target set holds exactly the visible objects whose replicas are on fewer nodes
//    than their replica_num;
//  - every repair in flight holds its destination's allocation in the pool (counted with the
//    replicas above) on a mounted segment, and has a deadline of scheduled + repair_timeout;
//    a live (not cancelled) one belongs to a visible object with no put in flight, at the
//    version it was scheduled for, whose source replica still exists, on a node holding none
//    of its replicas (a demotion or promotion excepted) and not draining; an object has
//    at most one live repair; a repair not yet handed out is queued for its destination node.
//
// Re-replication (master_core_repair.cc): Tick schedules, for objects below their replica
// target (or whose every replica is on a draining segment), a copy from a COMPLETE replica to
// a node holding none of the object's replicas. The destination is allocated at once (a
// *repair*, held like a put's replica, never readable) and handed to its node as a CopyTask
// with its next heartbeat; the node pulls the bytes, checks their CRC32C and reports
// (CompleteRepair): the destination then becomes a COMPLETE replica. A remove, eviction,
// upsert or adoption of the object, or the loss of the source's segment, cancels the repair;
// a cancelled repair already handed out keeps its destination allocated until the node
// reports or the deadline passes, because the node may still be writing there. Losing the
// destination's segment drops the repair with the segment.
//
// Demotion (master_core_repair.cc, TryScheduleDemotion): with an SSD tier, Tick's eviction of
// DRAM above the high watermark schedules copies of the coldest DRAM objects to an SSD segment
// (preferably on the node of one of their replicas) instead of dropping them; it counts their
// DRAM bytes as freed, so it neither demotes more than needed nor drops anything while the
// copies run. A demotion is a repair whose completion retires every DRAM replica in the same
// step that makes the SSD one COMPLETE; it fails, times out and is cancelled like one (the
// object then simply stays in DRAM). An object no SSD segment has room for is dropped as
// before; when max_repairs_in_flight copies are in flight, eviction waits for them.
//
// Promotion (master_core_repair.cc, SchedulePromotions): a GetReplicaList that finds an
// object only on SSD counts an SSD hit; at promote_after_hits hits the object is queued, and
// Tick (bounded by repairs_per_tick, after the repairs) schedules a copy of it from an SSD
// replica to DRAM (preferably on the same node) when DRAM stays at or below its high
// watermark with it. A promotion is a repair whose completion adds the DRAM replica and keeps
// the SSD one: the object is then on both tiers. It fails, times out and is cancelled like a
// repair (the object then simply stays on SSD). Evicting a medium from an object that also
// has a replica on another medium drops only the replicas on the evicted medium (no
// demotion: DRAM eviction of a promoted object leaves its SSD copy).
//
// Write-back (master_core_upload.cc, object_tier kWriteBack): a PutEnd'd object is not yet in
// the object store (unless its put came from the object store: a read-through's put-back). It
// waits in the upload queue until Tick hands an upload to a node holding a COMPLETE replica
// (DRAM preferred, at most max_uploads_per_node per node); the node's report marks it
// in_object_store at that version. Until then eviction never drops it (demotion to SSD still
// moves it), so a full pool of such objects refuses puts rather than lose data. One upload per
// key is in flight at a time, across versions and removals: an upload that lands after its
// object was upserted is followed by the new version's; one that lands after its object was
// removed is followed by a delete of the key (the key's next upload waits for it). A failed
// upload is retried after upload_retry_delay (doubling, at most 30 s). Objects adopted from a
// manifest start not in the object store, with check_first uploads.
//
// Drain (Drain): a leaving node's segments stop taking allocations, and every object whose
// replicas are all on draining segments is queued for a copy; the node unmounts once the
// count it gets back reaches 0.
//
// SSD segments (medium kSsd, a node's file segment): an object's allocation there is a 4 KiB
// header block plus its bytes padded to 4 KiB (SsdAllocationBytes), block-aligned; a replica
// record holds the whole allocation, and readers, writers and copies see only the bytes past
// the header (DataRange). The node writes the header when its manifest learns of the replica
// and erases it when the manifest loses it, so a node restarted after kill -9 finds its objects
// by scanning the file. A freed SSD range of a node that tracks a manifest is therefore
// quarantined, still held in the pool, until the node acknowledges the manifest change that
// told it to erase the header there: no new object's bytes can land in the range before the
// old header is gone, and no stale header outlives its object. Placement stays DRAM-first:
// a DRAM put that does not fit goes to free SSD space; failing that, DRAM objects are evicted
// as without an SSD tier, and SSD objects last (AllocateOrEvict).
//
// Cost (n objects): Tick is O(expired puts + lapsed deferred frees + nodes + media + repairs
// in flight) plus eviction when a medium is over its watermark (which scans the candidates:
// O(n log n)) plus scheduling repairs: O(repairs_per_tick x (log n + segments)).
// Losing a segment is O(replicas on it + deferred frees). Puts, ends, reads and removes are
// O(key length + replicas) expected; RemoveByRegex, RemoveAll and ListKeys scan, in chunks of
// bounded work that a caller may interleave with other calls (key_scan.h).
//
// Memory: an object is one ObjectRecord block (fixed fields, the key, its first replica; see
// object_record.h) plus a slot in the ObjectTable, a member entry per replica in the
// SegmentIndex and an allocation in its segment's OffsetAllocator: ~205 B of RSS per object
// of 4 KiB with a 40-byte key at 1M objects (bench/micro/master_core_memory_bench).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "master/core/eviction_policy.h"
#include "master/core/key_scan.h"
#include "master/core/master_core_types.h"
#include "master/core/node_liveness.h"
#include "master/core/object_index.h"
#include "master/core/object_record.h"
#include "master/core/object_table.h"
#include "master/core/object_view.h"
#include "master/core/placement_policy.h"
#include "master/core/repair_scheduler.h"
#include "master/core/segment_index.h"
#include "master/core/segment_pool.h"
#include "master/core/ssd_quarantine.h"
#include "master/core/task_ids.h"
#include "master/core/write_back_scheduler.h"
#include "mooncake/common/clock.h"
#include "mooncake/common/status.h"

namespace mooncake {
class KeyPattern;  // common/key_pattern.h
}  // namespace mooncake

namespace mooncake::master {

// The seams of MasterCore's choices; a null one gets the default (LRU eviction, DRAM-first
// placement).
struct MasterCorePolicies {
  std::unique_ptr<EvictionPolicy> eviction;
  std::unique_ptr<PlacementPolicy> placement;
};

class MasterCore : private ObjectObserver {
 public:
  // Fails with kInvalidParams when `options` do not validate. `clock` must outlive the core.
  static Result<std::unique_ptr<MasterCore>> Create(MasterCoreOptions options, const Clock& clock,
                                                    MasterCorePolicies policies = {});

  MasterCore(const MasterCore&) = delete;
  MasterCore& operator=(const MasterCore&) = delete;

  // ---- Segments -------------------------------------------------------------------------
  // Mounts a segment (errors as SegmentPool::Mount). When the mount is from a newer epoch of
  // its node, the older epoch's segments are dropped first, with every replica they held
  // (see DropSegments).
  Status Mount(const SegmentSpec& spec);
  // Unmounts one segment (errors as SegmentPool::Unmount) and drops its replicas.
  Status Unmount(std::string_view name, const NodeId& node, Epoch epoch);
  // Unmounts every segment of `node` (e.g. missed liveness) and drops their replicas; returns
  // how many segments went.
  size_t UnmountNode(const NodeId& node);
  // Mount, then adopts each entry of the node's manifest as a COMPLETE replica on that
  // segment, reserving its range so no allocation can overlap it. A key the index lacks is
  // created with the entry's size, version and checksum; a key known at the same version,
  // size and checksum gains the replica; of two versions the higher is kept (a lower known
  // version is dropped, like an upsert's old one). Bad or conflicting entries are skipped and
  // counted in the report, never failing the mount; only the Mount itself can fail. Versions
  // handed to later puts are above every adopted one. An adopted object starts with a read
  // lease of default_lease_ttl (clients may still read locations the previous master leased).
  Result<MountReport> MountWithManifest(const SegmentSpec& spec,
                                        const std::vector<ManifestEntry>& manifest);

  // The manifest changes of segment `segment` (mounted by `node`, with track_manifest) after
  // the node's last acknowledged change `acked`: forgets those up to `acked` and returns up
  // to `max` of the rest (see manifest_journal.h). Errors: kSegmentNotFound (not mounted, or
  // not `node`'s), kInvalidParams (the segment does not track a manifest).
  Result<ManifestBatch> TakeManifestChanges(std::string_view segment, const NodeId& node,
                                            uint64_t acked, size_t max);
  // Manifest changes not yet acknowledged, over every segment. O(segments).
  size_t ManifestBacklog() const;
  // Grows with every manifest change appended (over every segment) and every segment
  // dropped: a counter for heartbeats waiting for changes.
  uint64_t ManifestChangeCount() const { return index_.manifest_changes(); }
  // Grows whenever a node may have something new to fetch with its heartbeat: a manifest
  // change (ManifestChangeCount) or a copy task queued for it.
  uint64_t NodeEventCount() const {
    return index_.manifest_changes() + repair_scheduler_.TasksQueued() + write_back_.TasksQueued();
  }

  // ---- Liveness (master_core_liveness.cc) -----------------------------------------------
  // A node's Mount or MountWithManifest counts as its first heartbeat. Heartbeat records that
  // `node` is alive now. Errors: kClientNotFound (the node has no mounted segment, e.g. it
  // already expired, or `epoch` is newer than its mounted incarnation: it must mount again),
  // kInvalidVersion (`epoch` is older than the node's current incarnation).
  Status Heartbeat(const NodeId& node, Epoch epoch);
  // Nodes Tick() declared dead (no heartbeat for client_ttl) since the last call, in the order
  // they expired; clears the list.
  std::vector<NodeId> TakeExpiredNodes() { return liveness_.TakeExpired(); }

  // ---- Puts -----------------------------------------------------------------------------
  // Allocates config.replica_num replicas of `size` bytes on distinct nodes (an empty object,
  // size 0, takes one byte per replica); the object stays invisible until PutEnd. Places fewer
  // replicas (best effort, `replicas_short` > 0) when too few distinct nodes have room, as long as
  // one fits. Errors, changing nothing:
  //  kInvalidKey (empty or too long key), kInvalidParams (size > max_object_size,
  //  replica_num outside 1..16), kObjectAlreadyExists (the key exists, visible or not),
  //  kNoAvailableHandle (no replica fits anywhere, even after evicting synchronously on the
  //  medium once; see Eviction in the file comment).
  Result<PutStartResult> PutStart(std::string_view key, uint64_t size,
                                  const ReplicateConfig& config);
  // Like PutStart, but an existing visible key is allowed: the new version's replicas are
  // allocated alongside the old ones, which stay readable until PutEnd swaps the versions
  // atomically. A key whose put or upsert is still in flight is kReplicaIsNotReady.
  Result<PutStartResult> UpsertStart(std::string_view key, uint64_t size,
                                     const ReplicateConfig& config);
  // Seals the put (or upsert) in flight for `key`: its replicas become COMPLETE and visible
  // with `checksum`. For an upsert the old version's replicas are freed now if no read lease
  // is live, else when the lease lapses (Tick), and the new version starts unleased.
  // Errors: kObjectNotFound (unknown key, or the put was revoked or reclaimed — including a
  // put past its put_timeout deadline that Tick has not reclaimed yet: this call reclaims it,
  // and the message says the put timed out), kInvalidParams (no put in flight: the object is
  // already complete).
  // `blocks`: the per-block CRC32Cs (null for objects of at most one block, or when the writer
  // computed none); a table that does not match the pending size and `checksum` is refused
  // with kInvalidParams, changing nothing.
  Status PutEnd(std::string_view key, uint32_t checksum, BlockChecksums blocks = nullptr);
  // Abandons the put (or upsert) in flight for `key`, freeing its allocations; an upserted
  // object keeps its old version. Errors: kObjectNotFound (as PutEnd: a put past its deadline
  // is reclaimed and reported as timed out), kInvalidParams (nothing in flight).
  Status PutRevoke(std::string_view key);

  // ---- Reads ----------------------------------------------------------------------------
  // The COMPLETE replicas of a visible object (memory ones before SSD ones), granting or
  // extending its read lease under the lease-cap rule; finding them all on SSD counts an SSD
  // hit (see Promotion). kObjectNotFound for unknown or never-completed keys; kInvalidKey for
  // bad keys.
  Result<ObjectView> GetReplicaList(std::string_view key);
  // Whether a visible object exists. Takes no lease. kInvalidKey for bad keys.
  Result<bool> ExistKey(std::string_view key) const;
  // The size of a visible object; kObjectNotFound otherwise. Takes no lease.
  Result<uint64_t> GetSize(std::string_view key) const;

  // ---- Removal --------------------------------------------------------------------------
  // Removes a visible object and frees its replicas. Errors: kObjectNotFound,
  // kObjectHasLease (lease live, kNormal), kReplicaIsNotReady (a put or upsert is in flight:
  // its writer owns it until PutEnd/PutRevoke/timeout; even kForce refuses).
  Status Remove(std::string_view key, RemoveMode mode);
  // Removes every visible object whose key contains a match of `pattern` (RE2 syntax,
  // searched anywhere in the key: common/key_pattern.h) and returns how many; objects that
  // Remove would refuse are skipped. kInvalidParams naming the pattern and RE2's reason for
  // a pattern RE2 rejects. Scans the whole index in one call; the service uses the chunks.
  Result<size_t> RemoveByRegex(std::string_view pattern, RemoveMode mode);
  // Removes every visible object Remove would accept and returns how many.
  size_t RemoveAll(RemoveMode mode);

  // ---- Chunked admin scans (master_core_scan.cc, key_scan.h) ------------------------------
  // Each call does the next chunk of a scan that `cursor` tracks, visiting at most
  // `max_slots` (> 0) slots of the index (more after a restart, see key_scan.h), and marks
  // the cursor done after the last one. Between calls the caller may make any other call.
  // Removes the visible objects in the chunk whose key `pattern` matches (nullptr: every
  // key) and that Remove would accept; returns how many.
  size_t RemoveMatchingChunk(const KeyPattern* pattern, RemoveMode mode, size_t max_slots,
                             KeyScanCursor& cursor);
  // Offers the chunk's visible keys to `listing`.
  void ListKeysChunk(KeyListing& listing, size_t max_slots, KeyScanCursor& cursor) const;

  // ---- Integrity (master_core_integrity.cc) ----------------------------------------------
  // A client read the replica of `key` at `version` whose first slice GetReplicaList gave as
  // (segment, address) and found it not to match the checksum: counts it and drops it (see
  // CorruptReplicaOutcome; its free waits for a live read lease), so Tick re-replicates from
  // a remaining replica. Errors, changing nothing: kInvalidKey, kObjectNotFound (not
  // visible), kInvalidVersion (not the visible version: a stale report), kInvalidReplica (no
  // visible replica there, e.g. already dropped).
  Result<CorruptReplicaOutcome> ReportCorruptReplica(std::string_view key, uint64_t version,
                                                     std::string_view segment, uint64_t address);
  const IntegrityStats& integrity_stats() const { return integrity_stats_; }

  // ---- Re-replication and drain (master_core_repair.cc) -----------------------------------
  // Schedules up to `max` repairs (see the file comment), drain copies first, then objects
  // below target in round-robin order, never more than max_repairs_in_flight in flight, and
  // returns how many. Objects with a put in flight, a repair in flight, or a failed try within
  // repair_retry_delay are skipped; so are objects every eligible node already holds, and
  // objects no eligible node has room for (counted in no_destination, tried again after
  // repair_retry_delay). Tick calls it with repairs_per_tick after reclaiming repairs past
  // their deadline. O(segments + max x (log n + segments)).
  size_t ScheduleRepairs(size_t max);
  // Up to `max` copy tasks scheduled for `node` and not yet handed out (each is handed out
  // once; a task lost on the way expires at its deadline).
  std::vector<CopyTask> TakeCopyTasks(const NodeId& node, size_t max);
  // `node` reports copy task `task_id`: `result` OK when the bytes are in place and their
  // checksum matched. The outcome says what became of it. Errors, changing nothing:
  // kObjectNotFound (no such task: already reported, expired, or scheduled by an earlier
  // master), kInvalidParams (the task is another node's).
  Result<RepairOutcome> CompleteRepair(uint64_t task_id, const NodeId& node, const Status& result);
  // Begins (or continues: idempotent) draining `node`, whose mounted incarnation is `epoch`:
  // its segments take no new allocation, repairs heading there are cancelled, and every
  // visible object whose replicas are all on draining segments is queued for a copy. Returns
  // how many of the node's objects still need one (or have a put in flight there): the node
  // may unmount without losing anything once this is 0. O(replicas on the node). Errors:
  // kClientNotFound (no mounted segment), kInvalidVersion (`epoch` is not the mounted one).
  Result<size_t> Drain(const NodeId& node, Epoch epoch);
  // Repairs in flight (cancelled ones still holding their destination included).
  size_t RepairsInFlight() const { return repair_scheduler_.InFlight(); }
  const RepairStats& repair_stats() const { return repair_stats_; }

  // ---- Write-back (master_core_upload.cc) -------------------------------------------------
  // Schedules up to `max` uploads of objects not yet in the object store (see Write-back);
  // returns how many. Tick calls it. Looks at no more than 16 x max queued objects, round
  // robin. O(max x (log n + replicas)).
  size_t ScheduleUploads(size_t max);
  // Up to `max` upload tasks scheduled for `node` and not yet handed out.
  std::vector<UploadTask> TakeUploadTasks(const NodeId& node, size_t max);
  // `node` reports upload task `task_id`. Errors, changing nothing: kObjectNotFound (no such
  // task: already reported, expired, or an earlier master's), kInvalidParams (another node's).
  Status CompleteUpload(uint64_t task_id, const NodeId& node, const Status& result);
  // Uploads handed out or queued for a node, not yet reported.
  size_t UploadsInFlight() const { return write_back_.InFlight(); }

  // ---- Time -----------------------------------------------------------------------------
  // Reclaims puts/upserts in flight for >= put_timeout and frees old upsert replicas whose
  // protecting lease has lapsed. Call periodically (the service's timer).
  // First unmounts every node whose last heartbeat is >= client_ttl ago (as UnmountNode).
  // Then evicts on every medium above eviction_high_watermark. Last, frees repairs past their
  // deadline and schedules up to repairs_per_tick new ones (ScheduleRepairs).
  void Tick();
  // Counters of every eviction run so far.
  const EvictionStats& eviction_stats() const { return eviction_stats_; }
  // Counters of the SSD tier (puts placed on SSD, demotions).
  const TierStats& tier_stats() const { return tier_stats_; }
  // SSD ranges waiting for their node to erase the header there (see "SSD segments").
  size_t QuarantinedRanges() const { return quarantine_.Ranges(); }

  // ---- Queries --------------------------------------------------------------------------
  // Visible objects whose COMPLETE replicas are on fewer nodes than their replica_num (for
  // re-replication).
  // O(1): the size of the below-target set kept as replicas come and go.
  size_t ObjectsBelowReplicaTarget() const { return index_.below_target().size(); }
  // Keys in the index, visible or not.
  size_t ObjectCount() const { return index_.table().size(); }
  // Up to `limit` visible keys starting with `prefix` and sorting after `start_after` (empty:
  // from the first), in bytewise order; `truncated` when more match. An admin call: it scans
  // the whole index in one call, O(n log limit) time, O(limit) memory; the service pages it
  // through ListKeysChunk (master_core_scan.cc). kInvalidParams when limit is 0.
  Result<KeyPage> ListKeys(std::string_view prefix, std::string_view start_after,
                           size_t limit) const;
  // Old upsert replicas waiting for a lease to lapse.
  size_t DeferredFreeCount() const { return index_.DeferredFreeCount(); }
  const SegmentPool& segment_pool() const { return pool_; }
  // Puts and upserts in flight (not yet ended, revoked or reclaimed).
  size_t PendingPutCount() const { return index_.PendingPutCount(); }

  // Verifies every invariant in the file comment, the object table's and the pool's own;
  // kInternalError naming the first broken one. O(n); for tests and debug checks.
  Status CheckInvariants() const;

 private:
  MasterCore(MasterCoreOptions options, const Clock& clock, MasterCorePolicies policies);

  Status ValidateKey(std::string_view key) const;
  Status ValidatePut(std::string_view key, uint64_t size, const ReplicateConfig& config) const;
  // Allocates up to config.replica_num replicas on distinct nodes; kNoAvailableHandle (with
  // nothing held) when none fits.
  Result<std::unique_ptr<PendingPut>> Allocate(uint64_t size, const ReplicateConfig& config);
  // Allocate, and when nothing fits, reclaim expired puts and evict on config.medium (never
  // `protected_key`) to make room for replica_num x size bytes, and try once more.
  Result<std::unique_ptr<PendingPut>> AllocateOrEvict(uint64_t size, const ReplicateConfig& config,
                                                      std::string_view protected_key);
  // Evicts on config.medium to make room for replica_num objects of `size` (at least down to
  // the low watermark) and allocates again.
  Result<std::unique_ptr<PendingPut>> EvictAndAllocate(uint64_t size, const ReplicateConfig& config,
                                                       std::string_view protected_key);
  enum class EvictWay : uint8_t {
    // Drop the objects (a put needs the room now).
    kDrop,
    // On DRAM with an SSD tier: schedule demotions (copies to SSD) of the coldest objects,
    // dropping only those no SSD segment has room for (Tick).
    kDemoteFirst,
  };
  // Evicts on `medium` until its used bytes are <= target_used (or no candidate is left);
  // never `protected_key`. One eviction run in the stats.
  void EvictOn(Medium medium, uint64_t target_used, std::string_view protected_key,
               EvictWay way = EvictWay::kDrop);
  // Drops visible replica `index` of `record`, corrupt (ReportCorruptReplica): unlinks and
  // journals it, frees it (at lease_until while leased), cancels a copy or upload reading it.
  void DropCorruptReplica(ObjectRecord* record, size_t index);
  // used / capacity <= high - ratio, in bytes.
  uint64_t LowWatermarkBytes(uint64_t capacity) const;
  PutStartResult ResultOf(const PendingPut& pending) const;
  ReplicaView ViewOf(const ReplicaRecord& replica, uint64_t size, ReplicaStatus status) const;
  // Why Remove would refuse a visible `record` (OK when it would not).
  Status RemovableStatus(const ObjectRecord& record, RemoveMode mode) const;
  // Whether RemoveByRegex/RemoveAll take `record` (visible and RemovableStatus OK).
  bool Removable(const ObjectRecord& record, RemoveMode mode) const;
  // The slots [begin, end) the next chunk of `cursor`'s scan visits; advances the cursor
  // (starting over after a table rebuild, see key_scan.h).
  std::pair<size_t, size_t> NextScanRange(KeyScanCursor& cursor, size_t max_slots) const;

  // Unmounts the nodes past client_ttl (the liveness part of Tick).
  void ExpireDeadNodes();
  // Adopts one manifest entry on the just-mounted segment `spec` (MountWithManifest).
  void Adopt(const SegmentSpec& spec, const ManifestEntry& entry, MountReport& report);

  // ---- ObjectObserver (master_core_repair.cc): the object index tells the schedulers.
  void OnErase(ObjectRecord* record) override;
  void OnReplicasDropped(ObjectRecord* record) override;
  void OnSegmentsGone() override;

  MasterCoreOptions options_;
  const Clock& clock_;
  SegmentPool pool_;
  SegmentIndex segments_;
  TaskIds task_ids_;
  RepairStats repair_stats_;
  IntegrityStats integrity_stats_;
  uint64_t next_version_ = 1;
  std::unique_ptr<EvictionPolicy> eviction_policy_;
  EvictionStats eviction_stats_;
  TierStats tier_stats_;
  NodeLiveness liveness_;
  SsdQuarantine quarantine_;
  std::unique_ptr<PlacementPolicy> placement_;
  // The collaborators below come after the members their contexts name.
  ObjectIndex index_;
  WriteBackScheduler write_back_;
  RepairScheduler repair_scheduler_;
};

}  // namespace mooncake::master
