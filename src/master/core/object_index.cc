#include "master/core/object_index.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace mooncake::master {

// ---- Puts in flight ------------------------------------------------------------------------

ObjectRecord* ObjectIndex::CreateWithPending(std::string_view key,
                                             std::unique_ptr<PendingPut> pending) {
  ObjectRecord* record = table_.Insert(key);
  record->replica_num = static_cast<uint8_t>(pending->replica_num);
  StartPending(record, std::move(pending));
  return record;
}

void ObjectIndex::StartPending(ObjectRecord* record, std::unique_ptr<PendingPut> pending) {
  record->pending = std::move(pending);
  PendingPut& put = *record->pending;
  for (ReplicaRecord& r : put.replicas) c_.segments.Link(record, r);
  deadlines_.emplace(std::make_pair(put.deadline, put.version), record);
}

std::unique_ptr<PendingPut> ObjectIndex::TakePendingForSeal(ObjectRecord* record) {
  std::unique_ptr<PendingPut> pending = std::move(record->pending);
  deadlines_.erase({pending->deadline, pending->version});
  return pending;
}

bool ObjectIndex::ReclaimIfExpired(ObjectRecord*& record) {
  if (!record->pending || c_.clock.Now() < record->pending->deadline) return false;
  const bool visible = record->visible;
  DropPending(record);
  if (!visible) record = nullptr;
  return true;
}

void ObjectIndex::ReclaimExpiredPuts(TimePoint now) {
  // DropPending erases the entry, so each pass removes the front.
  while (!deadlines_.empty() && deadlines_.begin()->first.first <= now) {
    DropPending(deadlines_.begin()->second);
  }
}

void ObjectIndex::DropPending(ObjectRecord* record) {
  PendingPut& pending = *record->pending;
  deadlines_.erase({pending.deadline, pending.version});
  for (ReplicaRecord& r : pending.replicas) {
    c_.segments.Unlink(r);
    FreeReplicaSpace(r);
  }
  record->pending.reset();
  // An invisible object is nothing but its first put: the writer's PutEnd/PutRevoke now find
  // no object. A visible one keeps its old version.
  if (!record->visible) EraseObject(record);
}

// ---- Replicas ------------------------------------------------------------------------------

void ObjectIndex::RetireReplicas(ObjectRecord* record) {
  JournalReplicasGone(*record);
  for (ReplicaRecord& r : record->replicas()) c_.segments.Unlink(r);
  std::vector<ReplicaRecord> old = record->TakeReplicas();
  if (old.empty()) return;
  if (LeaseLive(*record)) {
    deferred_.emplace(record->lease_until, std::move(old));
  } else {
    for (const ReplicaRecord& r : old) FreeReplicaSpace(r);
  }
}

void ObjectIndex::RetireReplicaAt(ObjectRecord* record, size_t index) {
  const ReplicaRecord replica = record->replicas()[index];
  const bool was_below = BelowTarget(*record);
  JournalReplicaGone(*record, replica);
  c_.segments.Unlink(record->replicas()[index]);
  record->EraseReplicaAt(index);
  // A reader holding the replica list may still be reading the range (and a new object's
  // bytes there would pass for its own until its checksum fails): as RetireReplicas does.
  if (LeaseLive(*record)) {
    deferred_.emplace(record->lease_until, std::vector<ReplicaRecord>{replica});
  } else {
    FreeReplicaSpace(replica);
  }
  UpdateBelowTarget(was_below, record);
}

uint64_t ObjectIndex::DropReplicasOn(ObjectRecord* record, Medium medium) {
  c_.observer.OnReplicasDropped(record);
  const bool was_below = BelowTarget(*record);
  uint64_t bytes = 0;
  for (size_t i = record->replicas().size(); i-- > 0;) {
    const ReplicaRecord r = record->replicas()[i];
    if (c_.segments.Get(r.segment).medium != medium) continue;
    JournalReplicaGone(*record, r);
    c_.segments.Unlink(record->replicas()[i]);
    record->EraseReplicaAt(i);
    // Eviction takes no leased object: nobody reads here.
    FreeReplicaSpace(r);
    bytes += r.length;
  }
  UpdateBelowTarget(was_below, record);
  return bytes;
}

void ObjectIndex::AdoptReplica(ObjectRecord* record, const ReplicaRecord& replica) {
  record->AddReplica(replica);
  c_.segments.Link(record, record->replicas().back());
}

void ObjectIndex::AddCopiedReplica(ObjectRecord* record, const ReplicaRecord& destination,
                                   CopyKind kind) {
  const bool was_below = BelowTarget(*record);
  // A demotion's copy replaces the old replicas in this one step: readers see either them or
  // it, never neither (a live read lease defers their frees).
  if (kind == CopyKind::kDemotion) RetireReplicas(record);
  record->AddReplica(destination);
  c_.segments.Link(record, record->replicas().back());
  UpdateBelowTarget(was_below, record);
  JournalReplica(*record, record->replicas().back());
}

void ObjectIndex::FreeDueDeferred(TimePoint now) {
  while (!deferred_.empty() && deferred_.begin()->first <= now) {
    for (const ReplicaRecord& r : deferred_.begin()->second) FreeReplicaSpace(r);
    deferred_.erase(deferred_.begin());
  }
}

void ObjectIndex::EraseObject(ObjectRecord* record) {
  // Nothing may point at the record once it is gone.
  c_.observer.OnErase(record);
  below_set_.erase(record);
  if (record->visible) JournalReplicasGone(*record);
  for (ReplicaRecord& r : record->replicas()) {
    c_.segments.Unlink(r);
    FreeReplicaSpace(r);
  }
  if (record->pending) {
    PendingPut& pending = *record->pending;
    deadlines_.erase({pending.deadline, pending.version});
    for (ReplicaRecord& r : pending.replicas) {
      c_.segments.Unlink(r);
      FreeReplicaSpace(r);
    }
  }
  table_.Erase(record);
}

void ObjectIndex::FreeReplicaSpace(const ReplicaRecord& replica) {
  const SegmentIndex::Segment& segment = c_.segments.Get(replica.segment);
  // A gone segment's allocations went with it (and its name may be mounted anew).
  if (segment.gone) return;
  // The node may still have to erase a header here (a removal it has not acknowledged yet):
  // the range waits until it acknowledges everything journaled so far.
  if (c_.quarantine.HoldIfUnacknowledged(replica.segment, segment, replica.address,
                                         replica.length)) {
    return;
  }
  // Every replica's allocation is held in the pool (invariant), so Free cannot fail; a
  // failure would be a bug here, and the bytes would merely stay allocated.
  c_.pool.Free(segment.name, replica.address, replica.length).IgnoreError();
}

// ---- Below target --------------------------------------------------------------------------

bool ObjectIndex::BelowTarget(const ObjectRecord& record) const {
  if (!record.visible) return false;
  const auto replicas = record.replicas();
  if (replicas.size() < record.replica_num) return true;
  if (replicas.size() <= 1) return false;
  // Few replicas (at most kMaxReplicas): count the distinct nodes by pairs.
  size_t nodes = 0;
  for (size_t i = 0; i < replicas.size(); ++i) {
    const NodeId& node = c_.segments.Get(replicas[i].segment).node;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; ++j) {
      seen = c_.segments.Get(replicas[j].segment).node == node;
    }
    if (!seen) ++nodes;
  }
  return nodes < record.replica_num;
}

void ObjectIndex::UpdateBelowTarget(bool was, ObjectRecord* record) {
  const bool is = BelowTarget(*record);
  if (is && !was) below_set_.insert(record);
  if (was && !is) below_set_.erase(record);
}

// ---- Manifest journals ---------------------------------------------------------------------

void ObjectIndex::JournalReplicas(const ObjectRecord& record) {
  for (const ReplicaRecord& r : record.replicas()) JournalReplica(record, r);
}

void ObjectIndex::JournalReplica(const ObjectRecord& record, const ReplicaRecord& replica) {
  if (c_.segments.Get(replica.segment).gone) return;
  ManifestJournal* journal = c_.segments.Journal(replica.segment);
  if (journal == nullptr) return;
  ++manifest_changes_;
  journal->Append({false, ManifestEntry{std::string(record.key()), replica.address, replica.length,
                                        record.size, record.version, record.checksum,
                                        record.in_object_store, table_.BlockChecksumsOf(&record)}});
}

void ObjectIndex::JournalReplicasGone(const ObjectRecord& record) {
  for (const ReplicaRecord& r : record.replicas()) JournalReplicaGone(record, r);
}

void ObjectIndex::JournalReplicaGone(const ObjectRecord& record, const ReplicaRecord& r) {
  // A gone segment's journal goes with it.
  if (c_.segments.Get(r.segment).gone) return;
  ManifestJournal* journal = c_.segments.Journal(r.segment);
  if (journal == nullptr) return;
  ManifestChange change;
  change.removed = true;
  change.entry.key = std::string(record.key());
  change.entry.address = r.address;
  change.entry.length = r.length;  // what an SSD node erases
  journal->Append(std::move(change));
  ++manifest_changes_;
}

// ---- Losing segments -----------------------------------------------------------------------

void ObjectIndex::DropSegments(const std::vector<std::string>& segments) {
  std::vector<SegmentId> ids;
  for (const std::string& name : segments) {
    if (std::optional<SegmentId> id = c_.segments.Find(name)) ids.push_back(*id);
  }
  if (ids.empty()) return;
  ++manifest_changes_;  // a node waiting for changes of a gone segment must learn it is gone
  // All are gone before any is processed: an object erased while dropping the first must not
  // free its replicas on the others in the pool either.
  for (SegmentId id : ids) c_.segments.MarkGone(id);
  c_.observer.OnSegmentsGone();
  for (SegmentId id : ids) DropSegmentMembers(id);
  // Deferred frees are few (upserts of leased objects, for at most a lease) and not indexed
  // by segment: a scan.
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    std::erase_if(it->second,
                  [&](const ReplicaRecord& r) { return c_.segments.Get(r.segment).gone; });
    it = it->second.empty() ? deferred_.erase(it) : std::next(it);
  }
  for (SegmentId id : ids) {
    c_.quarantine.Forget(id);  // the ranges went with the segment
    c_.segments.Remove(id);
  }
}

void ObjectIndex::DropSegmentMembers(SegmentId id) {
  // An object with several replicas here (say a visible one and an upsert's) is listed once
  // per replica; visit it once.
  std::vector<ObjectRecord*> members = c_.segments.TakeMembers(id);
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
