#pragma once

// The master's pure core: a facade over collaborators that each own their state and check
// their own invariants. No threads, no sockets, no clock reads of its own: time comes from
// the injected Clock, so tests drive it with a FakeClock. Not thread-safe: the service that
// owns a MasterCore serialises every call.
//
// Collaborators:
//   SegmentPool (segment_pool.h)        mounted segments and their allocators
//   SegmentIndex (segment_index.h)      segment ids, members per segment, manifest journals
//   ObjectIndex (object_index.h)        records, puts in flight, deferred frees, below-target
//                                       set; every change to replicas goes through it
//   RepairScheduler (repair_scheduler.h) re-replication, drain, demotion, promotion copies
//   WriteBackScheduler (write_back_scheduler.h) uploads to the object store (write-back)
//   NodeLiveness (node_liveness.h)      heartbeats and expiry
//   SsdQuarantine (ssd_quarantine.h)    freed SSD ranges waiting for their node's ack
//   EvictionPolicy / PlacementPolicy    the order of eviction; which medium new bytes go to
// MasterCore itself validates calls and decides puts, reads, removal, eviction and adoption.
//
// The rules the core keeps — the lease cap, eviction, the put deadline, SSD segments — and
// its cost and memory are in docs/master.md ("The pure core").

#include <cstddef>
#include <cstdint>
#include <memory>
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

  // ---- Segments and manifests ---------------------------------------------------------------
  // Mounts a segment (errors as SegmentPool::Mount); a mount from a newer epoch of its node
  // first drops the older epoch's segments with every replica they held. A mount counts as a
  // heartbeat.
  Status Mount(const SegmentSpec& spec);
  // Unmounts one segment (errors as SegmentPool::Unmount) and drops its replicas.
  Status Unmount(std::string_view name, const NodeId& node, Epoch epoch);
  // Unmounts every segment of `node` and drops their replicas; returns how many went.
  size_t UnmountNode(const NodeId& node);
  // Mount, then adopts each manifest entry as a COMPLETE replica, reserving its range: a new
  // key is created; a key known at the same version, size and checksum gains the replica; of
  // two versions the higher wins. Bad or conflicting entries are skipped and counted in the
  // report (only the Mount can fail). Later versions are above every adopted one. An adopted
  // object starts leased for default_lease_ttl (readers may hold the last master's leases).
  Result<MountReport> MountWithManifest(const SegmentSpec& spec,
                                        const std::vector<ManifestEntry>& manifest);
  // The changes of `segment` (mounted by `node`, with track_manifest) after its node's last
  // acknowledged change `acked`: forgets those up to `acked` and returns up to `max` of the
  // rest (manifest_journal.h). Errors: kSegmentNotFound (not mounted, or not `node`'s),
  // kInvalidParams (the segment does not track a manifest).
  Result<ManifestBatch> TakeManifestChanges(std::string_view segment, const NodeId& node,
                                            uint64_t acked, size_t max);
  // Manifest changes not yet acknowledged, over every segment. O(segments).
  size_t ManifestBacklog() const;
  // Grows with every manifest change and every segment dropped.
  uint64_t ManifestChangeCount() const { return index_.manifest_changes(); }
  // Grows whenever a node may have something new to fetch with its heartbeat: a manifest
  // change, or a copy or upload task queued for it.
  uint64_t NodeEventCount() const {
    return index_.manifest_changes() + repair_scheduler_.TasksQueued() + write_back_.TasksQueued();
  }

  // ---- Liveness (master_core_liveness.cc, node_liveness.h) ----------------------------------
  // `node` is alive now. Errors: kClientNotFound (no mounted segment, e.g. it expired, or
  // `epoch` is newer than its mounted incarnation: it must mount again), kInvalidVersion
  // (`epoch` is older than its current incarnation).
  Status Heartbeat(const NodeId& node, Epoch epoch);
  // Nodes Tick() declared dead since the last call, in the order they expired.
  std::vector<NodeId> TakeExpiredNodes() { return liveness_.TakeExpired(); }

  // ---- Puts -------------------------------------------------------------------------------
  // Allocates config.replica_num replicas of `size` bytes (an empty object takes one byte per
  // replica) on distinct nodes, on the media the PlacementPolicy names; the object stays
  // invisible until PutEnd. Places fewer replicas (`replicas_short` > 0) when too few distinct
  // nodes have room, as long as one fits. Errors, changing nothing: kInvalidKey (empty or too
  // long), kInvalidParams (size > max_object_size, replica_num outside 1..16),
  // kObjectAlreadyExists (visible or not), kNoAvailableHandle (nothing fits even after
  // evicting).
  Result<PutStartResult> PutStart(std::string_view key, uint64_t size,
                                  const ReplicateConfig& config);
  // PutStart for an existing visible key too: the new version's replicas are allocated beside
  // the old ones, which stay readable until PutEnd swaps them atomically. A key with a put in
  // flight is kReplicaIsNotReady.
  Result<PutStartResult> UpsertStart(std::string_view key, uint64_t size,
                                     const ReplicateConfig& config);
  // Seals the put in flight for `key`: its replicas become COMPLETE and visible with
  // `checksum` and `blocks` (per-block CRC32Cs; null for objects of one block or when none
  // were computed). An upsert's old replicas are freed now, or when their read lease lapses.
  // Errors: kObjectNotFound (unknown, revoked or reclaimed — a put past its deadline is
  // reclaimed here and reported as timed out), kInvalidParams (nothing in flight, or a block
  // table that does not match the size and checksum; that changes nothing).
  Status PutEnd(std::string_view key, uint32_t checksum, BlockChecksums blocks = nullptr);
  // Abandons the put in flight for `key`, freeing its allocations (an upserted object keeps
  // its old version). Errors as PutEnd.
  Status PutRevoke(std::string_view key);

  // ---- Reads and removal -----------------------------------------------------------------
  // The COMPLETE replicas of a visible object (memory before SSD), granting or extending its
  // read lease under the lease-cap rule: lease_until = min(now + default_lease_ttl,
  // streak_start + max_lease_ttl), a streak starting at a read after the lease lapsed. Finding
  // them all on SSD counts an SSD hit (promotion). kObjectNotFound, kInvalidKey.
  Result<ObjectView> GetReplicaList(std::string_view key);
  // Whether a visible object exists; its size. Probes: no lease, no LRU refresh.
  Result<bool> ExistKey(std::string_view key) const;
  Result<uint64_t> GetSize(std::string_view key) const;
  // Removes a visible object and frees its replicas. Errors: kObjectNotFound, kObjectHasLease
  // (lease live, kNormal), kReplicaIsNotReady (a put in flight: even kForce refuses).
  Status Remove(std::string_view key, RemoveMode mode);
  // Removes every visible object whose key contains a match of `pattern` (RE2, anywhere in
  // the key) and Remove would accept; returns how many. kInvalidParams naming RE2's reason
  // for a bad pattern. One call scans everything; the service uses the chunks below.
  Result<size_t> RemoveByRegex(std::string_view pattern, RemoveMode mode);
  // Removes every visible object Remove would accept and returns how many.
  size_t RemoveAll(RemoveMode mode);
  // Chunked admin scans (master_core_scan.cc, key_scan.h): each call visits at most
  // `max_slots` (> 0) slots of the index after `cursor` and marks it done after the last; any
  // call may come between. Removes the chunk's visible objects matching `pattern` (nullptr:
  // all) that Remove would accept; returns how many.
  size_t RemoveMatchingChunk(const KeyPattern* pattern, RemoveMode mode, size_t max_slots,
                             KeyScanCursor& cursor);
  // Offers the chunk's visible keys to `listing`.
  void ListKeysChunk(KeyListing& listing, size_t max_slots, KeyScanCursor& cursor) const;
  // Up to `limit` visible keys starting with `prefix`, after `start_after`, bytewise;
  // `truncated` when more match. Scans everything in one call (O(n log limit)); the service
  // pages it through ListKeysChunk. kInvalidParams when limit is 0.
  Result<KeyPage> ListKeys(std::string_view prefix, std::string_view start_after,
                           size_t limit) const;

  // ---- Integrity (master_core_integrity.cc) ----------------------------------------------
  // A client found the replica of `key` at `version` that GetReplicaList listed at (segment,
  // address) not to match its checksum: counts it and drops it (its free waits for a live
  // read lease), so Tick re-replicates. Errors, changing nothing: kInvalidKey,
  // kObjectNotFound, kInvalidVersion (a stale report), kInvalidReplica (no replica there).
  Result<CorruptReplicaOutcome> ReportCorruptReplica(std::string_view key, uint64_t version,
                                                     std::string_view segment, uint64_t address);
  const IntegrityStats& integrity_stats() const { return integrity_stats_; }

  // ---- Copies and uploads: the nodes' tasks (repair_scheduler.h, write_back_scheduler.h) --
  // Schedules up to `max` repairs, drain copies first, then objects below their replica
  // target round robin (RepairScheduler::Schedule); returns how many. Tick calls it.
  size_t ScheduleRepairs(size_t max);
  // Up to `max` copy tasks for `node` not yet handed out (each once; a lost one expires).
  std::vector<CopyTask> TakeCopyTasks(const NodeId& node, size_t max);
  // `node` reports copy task `task_id` (`result` OK: the bytes are in place and matched their
  // checksum). Errors, changing nothing: kObjectNotFound (no such task in flight),
  // kInvalidParams (another node's task).
  Result<RepairOutcome> CompleteRepair(uint64_t task_id, const NodeId& node, const Status& result);
  // Begins (idempotent) draining `node` at `epoch`: its segments take no new allocation and
  // its objects held nowhere else are queued for a copy. Returns how many still need one (or
  // have a put in flight there): 0 means it may unmount. Errors: kClientNotFound,
  // kInvalidVersion (`epoch` is not the mounted one).
  Result<size_t> Drain(const NodeId& node, Epoch epoch);
  // Repairs in flight (cancelled ones still holding their destination included).
  size_t RepairsInFlight() const { return repair_scheduler_.InFlight(); }
  const RepairStats& repair_stats() const { return repair_stats_; }
  // Write-back: schedules up to `max` uploads (Tick calls it); returns how many.
  size_t ScheduleUploads(size_t max);
  // Up to `max` upload tasks for `node` not yet handed out.
  std::vector<UploadTask> TakeUploadTasks(const NodeId& node, size_t max);
  // `node` reports upload task `task_id`. Errors as CompleteRepair.
  Status CompleteUpload(uint64_t task_id, const NodeId& node, const Status& result);
  // Uploads handed out or queued for a node, not yet reported.
  size_t UploadsInFlight() const { return write_back_.InFlight(); }

  // ---- Time and counters -------------------------------------------------------------------
  // Call periodically (the service's timer): expires dead nodes, reclaims puts past their
  // deadline and lapsed deferred frees, evicts (or demotes) on media above their high
  // watermark, then schedules repairs, promotions and uploads.
  void Tick();
  const EvictionStats& eviction_stats() const { return eviction_stats_; }
  const TierStats& tier_stats() const { return tier_stats_; }
  // SSD ranges waiting for their node to erase the header there (ssd_quarantine.h).
  size_t QuarantinedRanges() const { return quarantine_.Ranges(); }
  // Visible objects on fewer nodes than their replica_num. O(1).
  size_t ObjectsBelowReplicaTarget() const { return index_.below_target().size(); }
  // Keys in the index, visible or not.
  size_t ObjectCount() const { return index_.table().size(); }
  // Retired replicas waiting for a read lease to lapse.
  size_t DeferredFreeCount() const { return index_.DeferredFreeCount(); }
  const SegmentPool& segment_pool() const { return pool_; }
  // Puts and upserts in flight (not yet ended, revoked or reclaimed).
  size_t PendingPutCount() const { return index_.PendingPutCount(); }

  // Verifies every collaborator's invariants and that the pool holds exactly the allocations
  // they account for; kInternalError naming the first broken one. O(n); for tests.
  Status CheckInvariants() const;

 private:
  MasterCore(MasterCoreOptions options, const Clock& clock, MasterCorePolicies policies);

  Status ValidateKey(std::string_view key) const;
  Status ValidatePut(std::string_view key, uint64_t size, const ReplicateConfig& config) const;
  // Allocates up to config.replica_num replicas on distinct nodes; kNoAvailableHandle (with
  // nothing held) when none fits.
  Result<std::unique_ptr<PendingPut>> Allocate(uint64_t size, const ReplicateConfig& config);
  // Allocate, and when nothing fits, the PlacementPolicy's further steps: free room on other
  // media, eviction (never of `protected_key`) to make room for replica_num x size bytes.
  Result<std::unique_ptr<PendingPut>> AllocateOrEvict(uint64_t size, const ReplicateConfig& config,
                                                      std::string_view protected_key);
  // Evicts on config.medium to make room for replica_num objects of `size` (at least to the
  // low watermark) and allocates again.
  Result<std::unique_ptr<PendingPut>> EvictAndAllocate(uint64_t size, const ReplicateConfig& config,
                                                       std::string_view protected_key);
  enum class EvictWay : uint8_t {
    // Drop the objects (a put needs the room now).
    kDrop,
    // Demote the coldest objects to the placement policy's lower tier, dropping only those
    // it has no room for (Tick).
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
