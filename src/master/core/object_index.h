#pragma once

// The master's object index: every object's record (ObjectTable) and the structures that must
// change together with its replicas — the SegmentIndex members, the deadline index of puts in
// flight, the deferred frees, the below-target set and the segments' manifest journals. Every
// change to replicas goes through this class, so they stay exact; MasterCore decides *what*
// changes (puts, reads, removal, eviction, adoption), the index does it.
//
// Lease-cap rule and put deadline: see master_core.h. Deferred frees: a replica retired while
// a read lease is live (an upsert's PutEnd, a newer adopted version, a corrupt replica) stays
// allocated, unlinked, until the lease lapses (FreeDueDeferred), because readers may still be
// reading it.
//
// Invariants (CheckInvariants):
//  - an object is invisible until its first PutEnd (or adoption); while invisible it has no
//    replica and a put in flight; once visible it has 1..16 replicas, all COMPLETE, and a put
//    in flight (if any) is an upsert of a new version;
//  - every visible or in-flight replica is linked once in its segment's SegmentIndex members
//    and held in the SegmentPool; deferred replicas are held and not linked;
//  - every put in flight has one entry in the deadline index (deadline = started +
//    put_timeout), and nothing else does;
//  - the below-target set holds exactly the visible objects whose replicas are on fewer nodes
//    than their replica_num.
//
// One rule makes SegmentIndex::Unlink correct: a replica is unlinked while it and every other
// linked replica of its record are still reachable through the record (replicas() or
// pending->replicas), because Unlink may move a sibling's entry and must find that sibling to
// update its member_slot. Hence "unlink all, then take/clear", never the other way round.
//
// Not thread-safe; owned by MasterCore.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "master/core/master_core_types.h"
#include "master/core/object_table.h"
#include "master/core/replica_keeper.h"
#include "master/core/segment_index.h"
#include "master/core/segment_pool.h"
#include "master/core/ssd_quarantine.h"
#include "mooncake/common/clock.h"
#include "mooncake/common/status.h"

namespace mooncake::master {

// Who must hear of changes that invalidate pointers or work in flight (MasterCore, on behalf
// of its schedulers).
class ObjectObserver {
 public:
  virtual ~ObjectObserver() = default;
  // `record` is about to be destroyed: nothing may keep a pointer to it.
  virtual void OnErase(ObjectRecord* record) = 0;
  // Some of `record`'s replicas are about to go while it stays (one tier evicted): a copy
  // reading them is moot, and its hits start over.
  virtual void OnReplicasDropped(ObjectRecord* record) = 0;
  // Segments were just marked gone (their replicas not yet dropped): work reading or writing
  // there is moot.
  virtual void OnSegmentsGone() = 0;
};

class ObjectIndex final : public ReplicaKeeper {
 public:
  // What the index reads and changes besides its own state, all owned by MasterCore.
  struct Context {
    const MasterCoreOptions& options;
    const Clock& clock;
    SegmentPool& pool;
    SegmentIndex& segments;
    SsdQuarantine& quarantine;
    ObjectObserver& observer;
  };
  explicit ObjectIndex(Context context) : c_(context) {}

  const ObjectTable& table() const { return table_; }
  ObjectTable& table() { return table_; }
  const BelowTargetSet& below_target() const { return below_set_; }
  size_t PendingPutCount() const { return deadlines_.size(); }
  size_t DeferredFreeCount() const { return deferred_.size(); }
  // Grows with every manifest change journaled and every time segments go.
  uint64_t manifest_changes() const { return manifest_changes_; }
  bool LeaseLive(const ObjectRecord& record) const { return c_.clock.Now() < record.lease_until; }

  // ---- Puts in flight ----
  // Creates `key`'s record (not yet in the table) with `pending` in flight.
  ObjectRecord* CreateWithPending(std::string_view key, std::unique_ptr<PendingPut> pending);
  // Makes `pending` the record's put in flight (it has none): links and indexes it.
  void StartPending(ObjectRecord* record, std::unique_ptr<PendingPut> pending);
  // Takes the record's put in flight out of the deadline index, for PutEnd to seal (its
  // replicas stay linked: the same member entries become the visible replicas').
  std::unique_ptr<PendingPut> TakePendingForSeal(ObjectRecord* record);
  // If the record's put in flight is past its deadline, reclaims it and returns true;
  // `record` is set to nullptr when the object went with it.
  bool ReclaimIfExpired(ObjectRecord*& record);
  // Reclaims the puts whose deadline is <= now; O(expired x log n).
  void ReclaimExpiredPuts(TimePoint now);
  // Frees the record's put in flight; erases the record too when it is not visible.
  void DropPending(ObjectRecord* record);

  // ---- Replicas ----
  // Unlinks the visible replicas (journaled as gone) and frees them now, or at lease_until
  // while a read lease is live.
  void RetireReplicas(ObjectRecord* record);
  // Unlinks visible replica `index` (journaled as gone) and frees it, or defers its free
  // while a read lease is live.
  void RetireReplicaAt(ObjectRecord* record, size_t index);
  // Drops the replicas of `record` (visible, unleased, no put in flight) on `medium`, keeping
  // the others (eviction of an object also held on another medium); returns their bytes.
  uint64_t DropReplicasOn(ObjectRecord* record, Medium medium);
  // Adds `replica`, announced by its node's manifest (so not journaled back to it), as a
  // COMPLETE replica of `record` (visible, or being made visible by the caller); the caller
  // updates the below-target set.
  void AdoptReplica(ObjectRecord* record, const ReplicaRecord& replica);
  // Frees the deferred replicas whose lease lapsed by `now`.
  void FreeDueDeferred(TimePoint now);
  // Journals every visible replica of `record` as added to its segment's manifest.
  void JournalReplicas(const ObjectRecord& record);
  // Frees every replica (visible and in flight) and destroys the record.
  void EraseObject(ObjectRecord* record);
  // Forgets every replica on the named segments (already gone from the pool, so nothing is
  // freed there); objects left with no COMPLETE replica are removed, puts left with no
  // replica are cancelled. O(replicas on them + deferred frees).
  void DropSegments(const std::vector<std::string>& segments);
  // Adds `record` to, or removes it from, the below-target set after a change; `was` is
  // BelowTarget before it.
  void UpdateBelowTarget(bool was, ObjectRecord* record);

  // ---- ReplicaKeeper ----
  // Releases a replica's allocation: to the pool, or to the SSD quarantine while its node may
  // still have to erase a header there; nothing on a gone segment.
  void FreeReplicaSpace(const ReplicaRecord& replica) override;
  // Visible with its replicas on fewer nodes than replica_num (a promoted object's DRAM and
  // SSD replicas on one node are one copy for durability).
  bool BelowTarget(const ObjectRecord& record) const override;
  void AddCopiedReplica(ObjectRecord* record, const ReplicaRecord& destination,
                        CopyKind kind) override;

  // Verifies the invariants above; counts every replica held in the pool (visible, in flight,
  // deferred) per segment in `held_on`, and the deferred ones in `deferred`.
  Status CheckInvariants(std::map<SegmentId, size_t>& held_on, size_t& deferred) const;

 private:
  // Puts in flight by deadline; the put's version (unique) breaks ties.
  using DeadlineIndex = std::map<std::pair<TimePoint, uint64_t>, ObjectRecord*>;
  // Retired replicas kept alive for readers until their lease lapses (unlinked from the
  // SegmentIndex, still held in the pool).
  using DeferredFrees = std::multimap<TimePoint, std::vector<ReplicaRecord>>;

  void JournalReplica(const ObjectRecord& record, const ReplicaRecord& replica);
  void JournalReplicasGone(const ObjectRecord& record);
  void JournalReplicaGone(const ObjectRecord& record, const ReplicaRecord& replica);
  void DropSegmentMembers(SegmentId id);
  Status CheckReplica(const ObjectRecord* record, const ReplicaRecord& r, const char* kind,
                      std::map<SegmentId, size_t>& held_on) const;

  Context c_;
  ObjectTable table_;
  DeadlineIndex deadlines_;
  DeferredFrees deferred_;
  BelowTargetSet below_set_;
  uint64_t manifest_changes_ = 0;
};

}  // namespace mooncake::master
