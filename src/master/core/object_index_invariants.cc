// ObjectIndex::CheckInvariants (see "Invariants" in object_index.h). O(n); MasterCore's
// CheckInvariants calls it.
#include <fmt/format.h>

#include <map>
#include <string>

#include "master/core/object_index.h"

namespace mooncake::master {

namespace {

Status Broken(std::string what) {
  return InternalError("master core inconsistent: " + std::move(what));
}

}  // namespace

Status ObjectIndex::CheckReplica(const ObjectRecord* record, const ReplicaRecord& r,
                                 const char* kind, std::map<SegmentId, size_t>& held_on) const {
  if (!c_.segments.Contains(r.segment)) {
    return Broken(
        fmt::format("{} replica of '{}' on unknown segment id {}", kind, record->key(), r.segment));
  }
  const SegmentIndex::Segment& segment = c_.segments.Get(r.segment);
  if (r.member_slot >= segment.members.size() || segment.members[r.member_slot] != record) {
    return Broken(fmt::format("{} replica of '{}' on '{}' is not linked at member slot {}", kind,
                              record->key(), segment.name, r.member_slot));
  }
  ++held_on[r.segment];
  Status held = c_.pool.CheckHeld(segment.name, r.address, r.length);
  if (!held.ok()) {
    return held.WithContext(fmt::format("{} replica of '{}' not held", kind, record->key()));
  }
  return Status::Ok();
}

Status ObjectIndex::CheckInvariants(std::map<SegmentId, size_t>& held_on, size_t& deferred) const {
  MC_RETURN_IF_ERROR(table_.CheckConsistency());
  Status bad;
  // Objects and their replicas.
  size_t pending_puts = 0;
  size_t below = 0;
  table_.ForEach([&](const ObjectRecord* record) {
    if (!bad.ok()) return;
    const std::string_view key = record->key();
    const size_t count = record->replicas().size();
    if (record->visible ? (count == 0 || count > ObjectRecord::kMaxReplicas)
                        : (count != 0 || !record->pending)) {
      bad = Broken(fmt::format("'{}': visible={} with {} replicas and {} put in flight", key,
                               record->visible, count, record->pending ? "a" : "no"));
      return;
    }
    if (record->replica_num < 1 || record->replica_num > ObjectRecord::kMaxReplicas) {
      bad = Broken(fmt::format("'{}': replica_num {}", key, record->replica_num));
      return;
    }
    if (BelowTarget(*record) != below_set_.contains(record)) {
      bad = Broken(fmt::format("'{}': below target is {} but the below-target set says {}", key,
                               BelowTarget(*record), !BelowTarget(*record)));
      return;
    }
    if (BelowTarget(*record)) ++below;
    for (const ReplicaRecord& r : record->replicas()) {
      bad = CheckReplica(record, r, "visible", held_on);
      if (!bad.ok()) return;
    }
    if (!record->pending) return;
    const PendingPut& pending = *record->pending;
    ++pending_puts;
    if (pending.replicas.empty()) {
      bad = Broken(fmt::format("'{}': put in flight with no replica", key));
      return;
    }
    if (pending.deadline != pending.started + c_.options.put_timeout) {
      bad = Broken(fmt::format("'{}': deadline is not started + put_timeout", key));
      return;
    }
    auto entry = deadlines_.find({pending.deadline, pending.version});
    if (entry == deadlines_.end() || entry->second != record) {
      bad = Broken(fmt::format("'{}': put in flight missing from the deadline index", key));
      return;
    }
    for (const ReplicaRecord& r : pending.replicas) {
      bad = CheckReplica(record, r, "in-flight", held_on);
      if (!bad.ok()) return;
    }
  });
  if (!bad.ok()) return bad;
  if (pending_puts != deadlines_.size()) {
    return Broken(
        fmt::format("{} puts in flight, {} deadline entries", pending_puts, deadlines_.size()));
  }
  if (below != below_set_.size()) {
    return Broken(fmt::format("{} objects below their replica target, the set holds {}", below,
                              below_set_.size()));
  }

  // Deferred frees: held, unlinked, on live segments.
  deferred = 0;
  for (const auto& [until, replicas] : deferred_) {
    if (replicas.empty()) return Broken("empty deferred free");
    for (const ReplicaRecord& r : replicas) {
      if (!c_.segments.Contains(r.segment)) {
        return Broken(fmt::format("deferred replica on unknown segment id {}", r.segment));
      }
      const SegmentIndex::Segment& segment = c_.segments.Get(r.segment);
      ++held_on[r.segment];
      ++deferred;
      Status held = c_.pool.CheckHeld(segment.name, r.address, r.length);
      if (!held.ok()) return held.WithContext("deferred replica not held");
    }
  }
  return Status::Ok();
}

}  // namespace mooncake::master
