// MasterCore::CheckInvariants: walks every structure and cross-checks it against the others
// (see "Invariants" in master_core.h). O(n); tests call it after their operations.
#include <fmt/format.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "master/core/master_core.h"

namespace mooncake::master {

namespace {

Status Broken(std::string what) {
  return InternalError("master core inconsistent: " + std::move(what));
}

}  // namespace

Status MasterCore::CheckInvariants() const {
  Status s = pool_.CheckConsistency();
  if (!s.ok()) return s;
  s = objects_.CheckConsistency();
  if (!s.ok()) return s;

  // Segments: the index mirrors the pool's mounts, and nothing is left half-dropped.
  std::map<SegmentId, size_t> replicas_on;  // replicas (any kind) per segment
  size_t indexed = 0;
  Status bad;
  segments_.ForEach([&](SegmentId id, const SegmentIndex::Segment& segment) {
    ++indexed;
    replicas_on[id] = 0;
    if (!bad.ok()) return;
    if (segment.gone) {
      bad = Broken(fmt::format("segment '{}' (id {}) is gone but still indexed", segment.name, id));
      return;
    }
    if (segments_.Find(segment.name) != id) {
      bad = Broken(fmt::format("segment '{}' (id {}) is not found by name", segment.name, id));
      return;
    }
    const std::optional<SegmentInfo> info = pool_.Find(segment.name);
    if (!info || info->node_id != segment.node || info->medium != segment.medium ||
        info->draining != segment.draining) {
      bad = Broken(fmt::format("indexed segment '{}' is not mounted as indexed", segment.name));
    }
  });
  if (!bad.ok()) return bad;
  if (indexed != pool_.List().size() || segments_.size() != indexed) {
    return Broken(fmt::format("{} segments indexed, {} by name, {} mounted", indexed,
                              segments_.size(), pool_.List().size()));
  }

  // Objects and their replicas.
  size_t pending_puts = 0;
  size_t below = 0;
  auto check_replica = [&](const ObjectRecord* record, const ReplicaRecord& r,
                           const char* kind) -> Status {
    if (!segments_.Contains(r.segment)) {
      return Broken(fmt::format("{} replica of '{}' on unknown segment id {}", kind, record->key(),
                                r.segment));
    }
    const SegmentIndex::Segment& segment = segments_.Get(r.segment);
    if (r.member_slot >= segment.members.size() || segment.members[r.member_slot] != record) {
      return Broken(fmt::format("{} replica of '{}' on '{}' is not linked at member slot {}", kind,
                                record->key(), segment.name, r.member_slot));
    }
    ++replicas_on[r.segment];
    Status held = pool_.CheckHeld(segment.name, r.address, r.length);
    if (!held.ok()) {
      return held.WithContext(fmt::format("{} replica of '{}' not held", kind, record->key()));
    }
    return Status::Ok();
  };
  objects_.ForEach([&](const ObjectRecord* record) {
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
      bad = check_replica(record, r, "visible");
      if (!bad.ok()) return;
    }
    if (!record->pending) return;
    const PendingPut& pending = *record->pending;
    ++pending_puts;
    if (pending.replicas.empty()) {
      bad = Broken(fmt::format("'{}': put in flight with no replica", key));
      return;
    }
    if (pending.deadline != pending.started + options_.put_timeout) {
      bad = Broken(fmt::format("'{}': deadline is not started + put_timeout", key));
      return;
    }
    auto entry = deadlines_.find({pending.deadline, pending.version});
    if (entry == deadlines_.end() || entry->second != record) {
      bad = Broken(fmt::format("'{}': put in flight missing from the deadline index", key));
      return;
    }
    for (const ReplicaRecord& r : pending.replicas) {
      bad = check_replica(record, r, "in-flight");
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
  s = repair_scheduler_.CheckInvariants(replicas_on);
  if (!s.ok()) return s;
  s = write_back_.CheckInvariants();
  if (!s.ok()) return s;

  // Deferred frees: held, unlinked, on live segments.
  for (const auto& [until, replicas] : deferred_) {
    if (replicas.empty()) return Broken("empty deferred free");
    for (const ReplicaRecord& r : replicas) {
      if (!segments_.Contains(r.segment)) {
        return Broken(fmt::format("deferred replica on unknown segment id {}", r.segment));
      }
      const SegmentIndex::Segment& segment = segments_.Get(r.segment);
      ++replicas_on[r.segment];
      Status held = pool_.CheckHeld(segment.name, r.address, r.length);
      if (!held.ok()) return held.WithContext("deferred replica not held");
    }
  }

  // Quarantined SSD ranges: held, on live SSD segments that track a manifest.
  s = quarantine_.CheckInvariants(segments_, pool_, replicas_on);
  if (!s.ok()) return s;
  const size_t quarantined = quarantine_.Ranges();
  s = liveness_.CheckInvariants(pool_.Nodes());
  if (!s.ok()) return s;

  // Every member entry belongs to a replica (counted above), and the pool holds exactly the
  // replicas' allocations: nothing leaked, nothing freed twice.
  size_t linked = 0;
  segments_.ForEach(
      [&](SegmentId, const SegmentIndex::Segment& segment) { linked += segment.members.size(); });
  size_t replicas_total = 0;
  for (const auto& [id, n] : replicas_on) {
    const SegmentIndex::Segment& segment = segments_.Get(id);
    const size_t allocations = pool_.Find(segment.name)->allocations;
    if (allocations != n) {
      return Broken(fmt::format("segment '{}' holds {} allocations for {} replicas", segment.name,
                                allocations, n));
    }
    replicas_total += n;
  }
  size_t deferred_total = 0;
  for (const auto& [until, replicas] : deferred_) deferred_total += replicas.size();
  const size_t repairs = repair_scheduler_.InFlight();
  if (linked + deferred_total + repairs + quarantined != replicas_total) {
    return Broken(
        fmt::format("{} member entries + {} deferred + {} repair destinations + {} quarantined "
                    "for {} replicas",
                    linked, deferred_total, repairs, quarantined, replicas_total));
  }
  return Status::Ok();
}

}  // namespace mooncake::master
