// RepairScheduler::CheckInvariants (see "Invariants" in repair_scheduler.h). O(n + repairs);
// MasterCore::CheckInvariants calls it.
#include <fmt/format.h>

#include <map>
#include <set>
#include <string>

#include "master/core/repair_scheduler.h"

namespace mooncake::master {

namespace {

Status Broken(std::string what) {
  return InternalError("master core inconsistent: " + std::move(what));
}

}  // namespace

Status RepairScheduler::CheckObjects() const {
  size_t queued_for_drain = 0;
  size_t waiting_retry = 0;
  size_t queued_for_promotion = 0;
  size_t repaired = 0;
  Status bad;
  c_.objects.ForEach([&](const ObjectRecord* record) {
    if (!bad.ok()) return;
    const std::string_view key = record->key();
    ObjectRecord* mutable_record = const_cast<ObjectRecord*>(record);  // the sets' key type
    if (drain_queue_.contains(mutable_record)) {
      if (!record->visible) {
        bad = Broken(fmt::format("'{}': queued for drain but not visible", key));
        return;
      }
      ++queued_for_drain;
    }
    if (retry_after_.contains(record)) ++waiting_retry;
    if (promote_queue_.contains(mutable_record)) ++queued_for_promotion;
    auto link = repair_of_.find(record);
    if (link == repair_of_.end()) return;
    ++repaired;
    auto repair = repairs_.find(link->second);
    if (repair == repairs_.end() || repair->second.record != record) {
      bad = Broken(fmt::format("'{}': its repair {} is not in flight for it", key, link->second));
      return;
    }
    const Repair& r = repair->second;
    const NodeId& dest_node = c_.segments.Get(r.destination.segment).node;
    bool source_found = false;
    for (const ReplicaRecord& replica : record->replicas()) {
      // A demotion may land on a node holding a replica (it replaces them all), a promotion
      // on one holding an SSD replica (it joins them).
      if (r.kind == CopyKind::kRepair && c_.segments.Get(replica.segment).node == dest_node) {
        bad = Broken(fmt::format("'{}': repair {} copies to node '{}', which holds a replica", key,
                                 link->second, dest_node));
        return;
      }
      source_found |= replica.segment == r.source_segment &&
                      c_.segments.DataRange(replica, record->size).address == r.task.source.address;
    }
    if (!record->visible || record->pending || record->version != r.task.version || !source_found) {
      bad = Broken(fmt::format(
          "'{}': live repair {} but visible={}, put in flight={}, version {} (repair's {}), "
          "source replica {}",
          key, link->second, record->visible, record->pending != nullptr, record->version,
          r.task.version, source_found ? "present" : "missing"));
    }
  });
  if (!bad.ok()) return bad;
  if (queued_for_drain != drain_queue_.size() || waiting_retry != retry_after_.size() ||
      repaired != repair_of_.size() || queued_for_promotion != promote_queue_.size()) {
    return Broken(fmt::format(
        "stale object pointers: drain queue {} of {}, retry waits {} of {}, repair links {} of {}, "
        "promotion queue {} of {} belong to indexed objects",
        queued_for_drain, drain_queue_.size(), waiting_retry, retry_after_.size(), repaired,
        repair_of_.size(), queued_for_promotion, promote_queue_.size()));
  }
  return Status::Ok();
}

Status RepairScheduler::CheckInvariants(std::map<SegmentId, size_t>& held_on) const {
  MC_RETURN_IF_ERROR(CheckObjects());
  const std::set<uint64_t> queued = outbox_.Queued();
  size_t live = 0;
  for (const auto& [id, repair] : repairs_) {
    if (id != repair.task.task_id) {
      return Broken(fmt::format("repair {} carries task id {}", id, repair.task.task_id));
    }
    const ReplicaRecord& dest = repair.destination;
    if (!c_.segments.Contains(dest.segment) || c_.segments.Get(dest.segment).gone) {
      return Broken(fmt::format("repair {} copies to a segment that is gone", id));
    }
    const SegmentIndex::Segment& segment = c_.segments.Get(dest.segment);
    ++held_on[dest.segment];
    Status held = c_.pool.CheckHeld(segment.name, dest.address, dest.length);
    if (!held.ok()) return held.WithContext(fmt::format("destination of repair {} not held", id));
    if (repair.deadline != repair.scheduled + c_.options.repair_timeout) {
      return Broken(fmt::format("repair {}: deadline is not scheduled + repair_timeout", id));
    }
    if (segment.name != repair.task.destination.segment ||
        segment.node != repair.task.destination_node ||
        c_.segments.DataRange(dest, repair.task.size).address != repair.task.destination.address) {
      return Broken(fmt::format("repair {}: task and destination disagree", id));
    }
    if (!repair.delivered && !queued.contains(id)) {
      return Broken(fmt::format("repair {} is neither handed out nor queued for node '{}'", id,
                                segment.node));
    }
    if (repair.record == nullptr) continue;
    ++live;
    auto link = repair_of_.find(repair.record);
    if (link == repair_of_.end() || link->second != id) {
      return Broken(fmt::format("live repair {} is not its object's repair", id));
    }
    if (segment.draining) {
      return Broken(
          fmt::format("live repair {} copies to draining segment '{}'", id, segment.name));
    }
    if (!c_.segments.Contains(repair.source_segment) ||
        c_.segments.Get(repair.source_segment).gone) {
      return Broken(fmt::format("live repair {} reads from a segment that is gone", id));
    }
  }
  if (live != repair_of_.size()) {
    return Broken(
        fmt::format("{} live repairs, {} objects linked to one", live, repair_of_.size()));
  }
  if (c_.options.max_repairs_in_flight > 0 && repairs_.size() > c_.options.max_repairs_in_flight) {
    return Broken(fmt::format("{} repairs in flight, max_repairs_in_flight is {}", repairs_.size(),
                              c_.options.max_repairs_in_flight));
  }
  return Status::Ok();
}

}  // namespace mooncake::master
