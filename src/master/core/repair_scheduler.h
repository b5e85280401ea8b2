#pragma once

// Copies of objects between nodes and tiers, for MasterCore: re-replication, drain, demotion
// and promotion. The master only allocates and bookkeeps; the destination node moves the
// bytes, checks their CRC32C and reports (Complete), and only then does the copy become a
// readable replica (ReplicaKeeper::AddCopiedReplica).
//
// Re-replication: Schedule takes objects below their replica target (the core's below-target
// set) or left only on draining segments (the drain queue, first), and copies each from a
// COMPLETE replica to a node holding none of its replicas. The destination is allocated at
// once (a *repair*, held like a put's replica, never readable) and handed to its node as a
// CopyTask with its next heartbeat. A remove, eviction, upsert or adoption of the object, or
// the loss of the source's segment, cancels the repair; a cancelled repair already handed out
// keeps its destination allocated until the node reports or the deadline passes, because the
// node may still be writing there. Losing the destination's segment drops the repair with it.
//
// Demotion (Demote): with a lower tier (PlacementPolicy::DemotionTarget), Tick's eviction of a
// medium above its high watermark copies its coldest objects there (preferably onto the node
// of one of their replicas) instead of dropping them, and counts their bytes as freed
// (DemotingBytes), so it neither demotes more than needed nor drops anything while the copies
// run. Completion retires every old replica in the same step that adds the new one; failure,
// timeout and cancellation leave the object where it was.
//
// Promotion: a GetReplicaList that finds an object only on SSD counts a hit (CountSsdHit); at
// promote_after_hits hits the object is queued, and SchedulePromotions copies it to the
// policy's PromotionTarget (preferably on the same node) when that medium stays at or below
// its high watermark with it. Completion adds the new replica next to the old ones.
//
// Drain (OnDrain): a leaving node's objects whose replicas are all on draining segments are
// queued for a copy; copies heading to the node are cancelled.
//
// Invariants (CheckInvariants): every repair holds its destination's allocation in the pool on
// a mounted segment, with deadline scheduled + repair_timeout, and is either handed out or
// queued for its node; a live (not cancelled) one belongs to a visible object with no put in
// flight, at the version it was scheduled for, whose source replica still exists, on a node
// holding none of its replicas (a demotion or promotion excepted) and not draining; an object
// has at most one live repair; every object pointer held (queues, retry waits, repair links)
// belongs to an indexed object.
//
// Holds ObjectRecord pointers: MasterCore calls Forget before erasing a record and Cancel
// before changing one. Not thread-safe; owned by MasterCore.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <vector>

#include "master/core/master_core_types.h"
#include "master/core/node_outbox.h"
#include "master/core/object_table.h"
#include "master/core/placement_policy.h"
#include "master/core/replica_keeper.h"
#include "master/core/segment_index.h"
#include "master/core/segment_pool.h"
#include "master/core/task_ids.h"
#include "mooncake/common/status.h"

namespace mooncake::master {

class RepairScheduler {
 public:
  // What the scheduler reads and changes, all owned by MasterCore.
  struct Context {
    const MasterCoreOptions& options;
    SegmentPool& pool;
    const SegmentIndex& segments;
    const ObjectTable& objects;
    const BelowTargetSet& below_target;
    const PlacementPolicy& placement;
    TaskIds& task_ids;
    RepairStats& repair_stats;
    TierStats& tier_stats;
    ReplicaKeeper& keeper;
  };
  explicit RepairScheduler(Context context) : c_(context) {}

  // ---- Object lifecycle ----
  // Cancels `record`'s live copy, if any (the object changes under it).
  void Cancel(const ObjectRecord* record);
  // `record` is going: cancels its copy and forgets it in every queue.
  void Forget(ObjectRecord* record);
  // `record` got a new version or lost a tier: its hits start over.
  void ResetHits(ObjectRecord* record);
  // The replica of `record` in `segment` whose data starts at `data_address` is dropped as
  // corrupt: a copy reading it (or a demotion, which counts its bytes) is cancelled.
  void OnReplicaDropped(const ObjectRecord* record, SegmentId segment, uint64_t data_address);
  // Drops copies whose destination segment is gone and cancels those whose source is.
  void DropOnGoneSegments();
  // `node` is gone: its undelivered tasks' queue goes (the tasks went with its segments).
  void ForgetNode(const NodeId& node) { outbox_.Forget(node); }
  // `node` is draining `segments` (already marked): cancels copies heading there and queues
  // its objects that live only on draining segments; returns how many still need a copy or
  // have a put in flight there.
  size_t OnDrain(const NodeId& node, const std::vector<SegmentId>& segments);
  // Whether a copy (of any kind) of `record` is in flight.
  bool HasCopyInFlight(const ObjectRecord* record) const { return repair_of_.contains(record); }

  // ---- Scheduling ----
  // Frees repairs past their deadline, then schedules up to `max` repairs, drain copies first,
  // then below-target objects round robin (see MasterCore::ScheduleRepairs); returns how many.
  size_t Schedule(size_t max, TimePoint now);
  enum class DemoteResult : uint8_t {
    kScheduled,
    // The object cannot go (a replica not on `from`, its key too long for an SSD header).
    kNotDemotable,
    // Its last copy failed within repair_retry_delay.
    kWaiting,
    // max_repairs_in_flight copies are in flight.
    kBusy,
    // No segment of `to` has room.
    kNoRoom,
  };
  // Schedules the demotion of `record` (visible, no put or copy in flight) from `from` to `to`.
  DemoteResult Demote(ObjectRecord* record, Medium from, Medium to, TimePoint now);
  // The bytes the demotions in flight free when they complete.
  uint64_t DemotingBytes() const;
  // Counts a GetReplicaList that found `record` only on SSD, `since_last_access` after its
  // previous lookup or put (a hit after more than promote_hit_window starts the count over).
  void CountSsdHit(ObjectRecord* record, std::chrono::steady_clock::duration since_last_access);
  // Schedules up to `max` promotions of queued objects.
  void SchedulePromotions(size_t max, TimePoint now);

  // ---- Nodes' side ----
  // Up to `max` copy tasks for `node` not yet handed out (each is handed out once).
  std::vector<CopyTask> TakeTasks(const NodeId& node, size_t max, TimePoint now);
  // `node` reports copy task `task_id` (see MasterCore::CompleteRepair).
  Result<RepairOutcome> Complete(uint64_t task_id, const NodeId& node, const Status& result,
                                 TimePoint now);
  // Repairs in flight (cancelled ones still holding their destination included).
  size_t InFlight() const { return repairs_.size(); }
  // Grows with every copy task queued for a node (for heartbeats waiting for work).
  uint64_t TasksQueued() const { return tasks_queued_; }

  // Verifies the invariants above; counts each destination in `held_on` (per segment).
  Status CheckInvariants(std::map<SegmentId, size_t>& held_on) const;

 private:
  struct Repair {
    // The object; null once the repair is cancelled (then only the destination allocation is
    // kept, until the node reports or the deadline passes).
    ObjectRecord* record = nullptr;
    // Where the copy reads (a visible replica of `record` while live).
    SegmentId source_segment = 0;
    // The destination: an allocation held in the pool, not linked in the SegmentIndex and not
    // readable (member_slot unused).
    ReplicaRecord destination;
    TimePoint scheduled;
    TimePoint deadline;
    // Handed to the destination node (TakeTasks); until then it sits in outbox_.
    bool delivered = false;
    CopyKind kind = CopyKind::kRepair;
    // For a demotion: the bytes it will free.
    uint64_t demoted_bytes = 0;
    CopyTask task;
  };
  using RepairMap = std::map<uint64_t, Repair>;
  using ObjectSet = std::set<ObjectRecord*, std::less<>>;

  bool OnlyOnDraining(const ObjectRecord& record) const;
  // Visible, no put in flight, and below target or only on draining segments.
  bool NeedsRepair(const ObjectRecord& record) const;
  // Schedules one repair of `record` if it needs one and can have one now. `takers`: the
  // nodes with a mounted segment that is not draining.
  bool TryRepair(ObjectRecord* record, const std::set<NodeId>& takers, TimePoint now);
  // kNotPromotable: not (or no longer) visible with every replica on SSD and no put or copy in
  // flight; kBusy: max_repairs_in_flight copies in flight; kNoRoom: the target medium would go
  // above its high watermark, or none of its segments has room.
  enum class PromoteResult : uint8_t { kScheduled, kNotPromotable, kBusy, kNoRoom };
  PromoteResult TryPromote(ObjectRecord* record, TimePoint now);
  // A tier copy's destination: allocates `bytes` on `medium` (preferring the nodes that hold
  // a replica) and fills `repair`; `source` is the destination node's own replica when it has
  // one (a local copy). False, with nothing allocated, when no segment of `medium` has room.
  bool PlanTierCopy(ObjectRecord* record, Medium medium, uint64_t bytes, Repair* repair,
                    const ReplicaRecord** source);
  // Fills in `repair`'s task (copying from `source`), deadline and id; queues it for its node.
  void Enqueue(Repair repair, const ReplicaRecord& source, TimePoint now);
  // Cancels the repair at `it`; returns the next iterator (the entry itself goes when it was
  // never handed out, freeing its destination).
  RepairMap::iterator CancelAt(RepairMap::iterator it);
  // Frees the destination of the repair at `it` and erases it (and its record's link).
  RepairMap::iterator Erase(RepairMap::iterator it);
  void ReclaimExpired(TimePoint now);
  // Part of CheckInvariants: the object pointers held belong to indexed objects, and each
  // live repair matches its object.
  Status CheckObjects() const;

  Context c_;
  // Repairs in flight by task id, the live one of each object, and the ones not yet handed
  // out per destination node (ids of repairs since dropped are skipped).
  RepairMap repairs_;
  std::map<const ObjectRecord*, uint64_t> repair_of_;
  NodeOutbox outbox_;
  // Round-robin position in the below-target set (compared, never dereferenced).
  const ObjectRecord* below_cursor_ = nullptr;
  // Objects queued by a drain because every replica is on a draining segment; entries that no
  // longer qualify are dropped as the scheduler meets them.
  ObjectSet drain_queue_;
  const ObjectRecord* drain_cursor_ = nullptr;
  // Objects that reached promote_after_hits SSD hits, waiting for SchedulePromotions.
  ObjectSet promote_queue_;
  // Objects whose last repair failed or found no destination: not tried before this time.
  std::map<const ObjectRecord*, TimePoint> retry_after_;
  uint64_t tasks_queued_ = 0;
};

}  // namespace mooncake::master
