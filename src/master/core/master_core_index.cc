// MasterCore's index upkeep: the only code that adds, moves or frees replicas, so that the
// object table, the SegmentIndex members, the deadline index of puts in flight, the deferred
// frees and the below-target counter change together (see the invariants in master_core.h).
//
// One rule makes SegmentIndex::Unlink correct: a replica is unlinked while it and every other
// linked replica of its record are still reachable through the record (replicas() or
// pending->replicas), because Unlink may move a sibling's entry and must find that sibling to
// update its member_slot. Hence "unlink all, then take/clear", never the other way round.
#include <algorithm>
#include <functional>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "master/core/master_core.h"

namespace mooncake::master {

ObjectRecord* MasterCore::CreateWithPending(std::string_view key,
                                            std::unique_ptr<PendingPut> pending) {
  ObjectRecord* record = objects_.Insert(key);
  record->replica_num = static_cast<uint8_t>(pending->replica_num);
  StartPending(record, std::move(pending));
  return record;
}

void MasterCore::StartPending(ObjectRecord* record, std::unique_ptr<PendingPut> pending) {
  record->pending = std::move(pending);
  PendingPut& put = *record->pending;
  for (ReplicaRecord& r : put.replicas) segments_.Link(record, r);
  deadlines_.emplace(std::make_pair(put.deadline, put.version), record);
}

bool MasterCore::ReclaimIfExpired(ObjectRecord*& record) {
  if (!record->pending || clock_.Now() < record->pending->deadline) return false;
  const bool visible = record->visible;
  DropPending(record);
  if (!visible) record = nullptr;
  return true;
}

void MasterCore::ReclaimExpiredPuts(TimePoint now) {
  // DropPending erases the entry, so each pass removes the front.
  while (!deadlines_.empty() && deadlines_.begin()->first.first <= now) {
    DropPending(deadlines_.begin()->second);
  }
}

void MasterCore::DropPending(ObjectRecord* record) {
  PendingPut& pending = *record->pending;
  deadlines_.erase({pending.deadline, pending.version});
  for (ReplicaRecord& r : pending.replicas) {
    segments_.Unlink(r);
    FreeInPool(r);
  }
  record->pending.reset();
  // An invisible object is nothing but its first put: the writer's PutEnd/PutRevoke now find
  // no object. A visible one keeps its old version.
  if (!record->visible) EraseObject(record);
}

void MasterCore::RetireReplicas(ObjectRecord* record) {
  JournalReplicasGone(*record);
  for (ReplicaRecord& r : record->replicas()) segments_.Unlink(r);
  std::vector<ReplicaRecord> old = record->TakeReplicas();
  if (old.empty()) return;
  if (LeaseLive(*record)) {
    deferred_.emplace(record->lease_until, std::move(old));
  } else {
    for (const ReplicaRecord& r : old) FreeInPool(r);
  }
}

void MasterCore::EraseObject(ObjectRecord* record) {
  // Nothing may point at the record once it is gone.
  repair_scheduler_.Forget(record);
  write_back_.Forget(record);
  below_set_.erase(record);
  if (record->visible) JournalReplicasGone(*record);
  for (ReplicaRecord& r : record->replicas()) {
    segments_.Unlink(r);
    FreeInPool(r);
  }
  if (record->pending) {
    PendingPut& pending = *record->pending;
    deadlines_.erase({pending.deadline, pending.version});
    for (ReplicaRecord& r : pending.replicas) {
      segments_.Unlink(r);
      FreeInPool(r);
    }
  }
  objects_.Erase(record);
}

void MasterCore::FreeInPool(const ReplicaRecord& replica) {
  const SegmentIndex::Segment& segment = segments_.Get(replica.segment);
  // A gone segment's allocations went with it (and its name may be mounted anew).
  if (segment.gone) return;
  // The node may still have to erase a header here (a removal it has not acknowledged yet):
  // the range waits until it acknowledges everything journaled so far.
  if (quarantine_.HoldIfUnacknowledged(replica.segment, segment, replica.address, replica.length)) {
    return;
  }
  // Every replica's allocation is held in the pool (invariant), so Free cannot fail; a
  // failure would be a bug in this class, and the bytes would merely stay allocated.
  pool_.Free(segment.name, replica.address, replica.length).IgnoreError();
}

bool MasterCore::BelowTarget(const ObjectRecord& record) const {
  if (!record.visible) return false;
  const auto replicas = record.replicas();
  if (replicas.size() < record.replica_num) return true;
  if (replicas.size() <= 1) return false;
  // Few replicas (at most kMaxReplicas): count the distinct nodes by pairs.
  size_t nodes = 0;
  for (size_t i = 0; i < replicas.size(); ++i) {
    const NodeId& node = segments_.Get(replicas[i].segment).node;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; ++j) seen = segments_.Get(replicas[j].segment).node == node;
    if (!seen) ++nodes;
  }
  return nodes < record.replica_num;
}

void MasterCore::UpdateBelowTarget(bool was, ObjectRecord* record) {
  const bool is = BelowTarget(*record);
  if (is && !was) below_set_.insert(record);
  if (was && !is) below_set_.erase(record);
}

// ---- Manifest journals ------------------------------------------------------------------

void MasterCore::JournalReplica(const ObjectRecord& record, const ReplicaRecord& replica) {
  if (segments_.Get(replica.segment).gone) return;
  ManifestJournal* journal = segments_.Journal(replica.segment);
  if (journal == nullptr) return;
  ++manifest_changes_;
  journal->Append(
      {false, ManifestEntry{std::string(record.key()), replica.address, replica.length, record.size,
                            record.version, record.checksum, record.in_object_store,
                            objects_.BlockChecksumsOf(&record)}});
}

void MasterCore::JournalReplicasGone(const ObjectRecord& record) {
  for (const ReplicaRecord& r : record.replicas()) JournalReplicaGone(record, r);
}

void MasterCore::JournalReplicaGone(const ObjectRecord& record, const ReplicaRecord& r) {
  // A gone segment's journal goes with it.
  if (segments_.Get(r.segment).gone) return;
  ManifestJournal* journal = segments_.Journal(r.segment);
  if (journal == nullptr) return;
  ManifestChange change;
  change.removed = true;
  change.entry.key = std::string(record.key());
  change.entry.address = r.address;
  change.entry.length = r.length;  // what an SSD node erases
  journal->Append(std::move(change));
  ++manifest_changes_;
}

uint64_t MasterCore::DropReplicasOn(ObjectRecord* record, Medium medium) {
  repair_scheduler_.Cancel(record);  // it may read from one of them
  const bool was_below = BelowTarget(*record);
  uint64_t bytes = 0;
  for (size_t i = record->replicas().size(); i-- > 0;) {
    const ReplicaRecord r = record->replicas()[i];
    if (segments_.Get(r.segment).medium != medium) continue;
    JournalReplicaGone(*record, r);
    segments_.Unlink(record->replicas()[i]);
    record->EraseReplicaAt(i);
    // Eviction takes no leased object: nobody reads here.
    FreeInPool(r);
    bytes += r.length;
  }
  repair_scheduler_.ResetHits(record);  // back on one tier: its hits start over
  UpdateBelowTarget(was_below, record);
  return bytes;
}

// ---- Losing segments ---------------------------------------------------------------------

void MasterCore::DropSegments(const std::vector<std::string>& segments) {
  std::vector<SegmentId> ids;
  for (const std::string& name : segments) {
    if (std::optional<SegmentId> id = segments_.Find(name)) ids.push_back(*id);
  }
  if (ids.empty()) return;
  ++manifest_changes_;  // a node waiting for changes of a gone segment must learn it is gone
  // All are gone before any is processed: an object erased while dropping the first must not
  // free its replicas on the others in the pool either.
  for (SegmentId id : ids) segments_.MarkGone(id);
  repair_scheduler_.DropOnGoneSegments();
  write_back_.DropOnGoneSegments();
  for (SegmentId id : ids) DropSegmentMembers(id);
  // Deferred frees are few (upserts of leased objects, for at most a lease) and not indexed
  // by segment: a scan.
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    std::erase_if(it->second,
                  [&](const ReplicaRecord& r) { return segments_.Get(r.segment).gone; });
    it = it->second.empty() ? deferred_.erase(it) : std::next(it);
  }
  for (SegmentId id : ids) {
    quarantine_.Forget(id);  // the ranges went with the segment
    segments_.Remove(id);
  }
}

void MasterCore::DropSegmentMembers(SegmentId id) {
  // An object with several replicas here (say a visible one and an upsert's) is listed once
  // per replica; visit it once.
  std::vector<ObjectRecord*> members = segments_.TakeMembers(id);
  std::sort(members.begin(), members.end(), std::less<ObjectRecord*>());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  for (ObjectRecord* record : members) {
    const bool was_below = BelowTarget(*record);
    // Their member entries went with TakeMembers: remove without unlinking.
    for (size_t i = record->replicas().size(); i-- > 0;) {
      if (record->replicas()[i].segment == id) record->EraseReplicaAt(i);
    }
    if (record->pending) {
      PendingPut& pending = *record->pending;
      std::erase_if(pending.replicas, [id](const ReplicaRecord& r) { return r.segment == id; });
      if (pending.replicas.empty()) {
        // The writer's PutEnd/PutRevoke now finds nothing in flight (or no object).
        deadlines_.erase({pending.deadline, pending.version});
        record->pending.reset();
      }
    }
    UpdateBelowTarget(was_below, record);
    // Visible with no COMPLETE replica left, or invisible with no put left: gone.
    if (record->visible ? record->replicas().empty() : !record->pending) EraseObject(record);
  }
}

}  // namespace mooncake::master
