// RepairScheduler: re-replication, drain, the copies' lifecycle and the nodes' reports
// (demotion and promotion planning: tier_copies.cc).
#include "master/core/repair_scheduler.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mooncake::master {

namespace {

// How many candidates one Schedule call may look at per repair it may schedule: a bound on
// the scan when most candidates cannot be repaired now (no destination, a repair already in
// flight, waiting out a failure).
constexpr size_t kScanPerRepair = 4;

// Visits up to `budget` entries of `set` round robin, starting after `cursor` and wrapping
// once; `fn(record, drop)` returns false to stop, and sets `drop` to erase the entry (only
// from a set the scheduler owns).
template <typename Set, typename Fn>
void RoundRobin(Set& set, const ObjectRecord*& cursor, size_t budget, Fn&& fn) {
  if (set.empty()) return;
  auto it = set.upper_bound(cursor);
  for (size_t visited = 0, total = set.size(); visited < total && visited < budget; ++visited) {
    if (set.empty()) return;
    if (it == set.end()) it = set.begin();
    ObjectRecord* record = *it;
    cursor = record;
    bool drop = false;
    if (!fn(record, drop)) return;
    if constexpr (std::is_const_v<Set>) {
      it = std::next(it);
    } else {
      it = drop ? set.erase(it) : std::next(it);
    }
  }
}

}  // namespace

bool RepairScheduler::OnlyOnDraining(const ObjectRecord& record) const {
  const auto replicas = record.replicas();
  return !replicas.empty() && std::all_of(replicas.begin(), replicas.end(), [&](const auto& r) {
    return c_.segments.Get(r.segment).draining;
  });
}

bool RepairScheduler::NeedsRepair(const ObjectRecord& record) const {
  return record.visible && !record.pending &&
         (c_.keeper.BelowTarget(record) || OnlyOnDraining(record));
}

// ---- Object lifecycle ------------------------------------------------------------------------

void RepairScheduler::Cancel(const ObjectRecord* record) {
  if (repair_of_.empty()) return;  // the common case: nothing in flight
  auto link = repair_of_.find(record);
  if (link == repair_of_.end()) return;
  auto it = repairs_.find(link->second);
  if (it != repairs_.end()) CancelAt(it);
}

void RepairScheduler::Forget(ObjectRecord* record) {
  Cancel(record);
  drain_queue_.erase(record);
  promote_queue_.erase(record);
  retry_after_.erase(record);
}

void RepairScheduler::ResetHits(ObjectRecord* record) {
  record->ssd_hits = 0;
  promote_queue_.erase(record);
}

void RepairScheduler::OnReplicaDropped(const ObjectRecord* record, SegmentId segment,
                                       uint64_t data_address) {
  auto link = repair_of_.find(record);
  if (link == repair_of_.end()) return;
  auto it = repairs_.find(link->second);
  if (it == repairs_.end()) return;
  const Repair& repair = it->second;
  if ((repair.source_segment == segment && repair.task.source.address == data_address) ||
      repair.kind == CopyKind::kDemotion) {
    CancelAt(it);
  }
}

RepairScheduler::RepairMap::iterator RepairScheduler::CancelAt(RepairMap::iterator it) {
  Repair& repair = it->second;
  if (repair.record == nullptr) return std::next(it);
  ++c_.repair_stats.cancelled;
  // Never handed out: nobody writes there, free it now.
  if (!repair.delivered) return Erase(it);
  repair_of_.erase(repair.record);
  repair.record = nullptr;
  return std::next(it);
}

RepairScheduler::RepairMap::iterator RepairScheduler::Erase(RepairMap::iterator it) {
  Repair& repair = it->second;
  if (repair.record != nullptr) repair_of_.erase(repair.record);
  c_.keeper.FreeReplicaSpace(repair.destination);  // a no-op on a gone segment
  return repairs_.erase(it);
}

void RepairScheduler::DropOnGoneSegments() {
  for (auto it = repairs_.begin(); it != repairs_.end();) {
    Repair& repair = it->second;
    if (c_.segments.Get(repair.destination.segment).gone) {
      if (repair.record != nullptr) ++c_.repair_stats.cancelled;
      it = Erase(it);  // the allocation went with the segment
    } else if (repair.record != nullptr && c_.segments.Get(repair.source_segment).gone) {
      it = CancelAt(it);
    } else {
      ++it;
    }
  }
}

void RepairScheduler::ReclaimExpired(TimePoint now) {
  // Few (at most max_repairs_in_flight): a scan.
  for (auto it = repairs_.begin(); it != repairs_.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    if (it->second.record != nullptr) ++c_.repair_stats.timed_out;
    it = Erase(it);
  }
}

size_t RepairScheduler::OnDrain(const NodeId& node, const std::vector<SegmentId>& segments) {
  // Copies heading to the node would only have to leave again.
  for (auto it = repairs_.begin(); it != repairs_.end();) {
    const Repair& repair = it->second;
    const bool live_here = repair.record != nullptr && repair.task.destination_node == node;
    it = live_here ? CancelAt(it) : std::next(it);
  }
  std::set<const ObjectRecord*> seen;
  size_t remaining = 0;
  for (SegmentId id : segments) {
    for (ObjectRecord* record : c_.segments.Get(id).members) {
      if (!seen.insert(record).second) continue;
      const bool put_here =
          record->pending &&
          std::any_of(record->pending->replicas.begin(), record->pending->replicas.end(),
                      [&](const ReplicaRecord& r) { return c_.segments.Get(r.segment).draining; });
      if (record->visible && OnlyOnDraining(*record)) {
        drain_queue_.insert(record);
        ++remaining;
      } else if (put_here) {
        ++remaining;  // its writer is still writing here: wait for PutEnd (then it is queued)
      }
    }
  }
  return remaining;
}

// ---- Re-replication --------------------------------------------------------------------------

size_t RepairScheduler::Schedule(size_t max, TimePoint now) {
  ReclaimExpired(now);
  if (c_.options.max_repairs_in_flight == 0 || max == 0) return 0;
  // Nodes that could take a copy at all: an object every one of them already holds is passed
  // over without an allocation attempt (the common case of fewer nodes than replica_num).
  std::set<NodeId> takers;
  c_.segments.ForEach([&](SegmentId, const SegmentIndex::Segment& segment) {
    if (!segment.gone && !segment.draining) takers.insert(segment.node);
  });
  size_t scheduled = 0;
  size_t scan_budget = kScanPerRepair * max;
  auto visit = [&](ObjectRecord* record, bool& drop, bool draining) {
    if (scheduled >= max || repairs_.size() >= c_.options.max_repairs_in_flight ||
        scan_budget == 0) {
      return false;
    }
    --scan_budget;
    // A drain entry that no longer needs its copy (it got one, or a replica elsewhere, or it
    // went invisible) leaves the queue.
    if (draining && !(record->visible && OnlyOnDraining(*record))) {
      drop = true;
      return true;
    }
    if (TryRepair(record, takers, now)) ++scheduled;
    return true;
  };
  // Drain copies first: those objects are about to lose their last replica.
  RoundRobin(drain_queue_, drain_cursor_, drain_queue_.size(),
             [&](ObjectRecord* r, bool& drop) { return visit(r, drop, true); });
  RoundRobin(c_.below_target, below_cursor_, c_.below_target.size(),
             [&](ObjectRecord* r, bool& drop) { return visit(r, drop, false); });
  return scheduled;
}

bool RepairScheduler::TryRepair(ObjectRecord* record, const std::set<NodeId>& takers,
                                TimePoint now) {
  if (!NeedsRepair(*record) || repair_of_.contains(record)) return false;
  if (auto wait = retry_after_.find(record); wait != retry_after_.end()) {
    if (now < wait->second) return false;
    retry_after_.erase(wait);
  }
  const auto replicas = record->replicas();
  // Read from a replica that stays, if there is one: a draining node has enough to send.
  const ReplicaRecord* source = &replicas[0];
  for (const ReplicaRecord& r : replicas) {
    if (!c_.segments.Get(r.segment).draining) {
      source = &r;
      break;
    }
  }
  std::set<NodeId> holders;
  for (const ReplicaRecord& r : replicas) holders.insert(c_.segments.Get(r.segment).node);
  if (std::includes(holders.begin(), holders.end(), takers.begin(), takers.end())) return false;
  const SegmentIndex::Segment& source_segment = c_.segments.Get(source->segment);
  Result<Allocation> destination =
      c_.pool.AllocateOnMedium(source_segment.medium, source->length, {}, holders);
  if (!destination.ok()) {
    ++c_.repair_stats.no_destination;
    retry_after_[record] = now + c_.options.repair_retry_delay;
    return false;
  }
  const std::optional<SegmentId> id = c_.segments.Find(destination->segment);
  if (!id) {
    // The index mirrors the pool's mounts, so this is a bug here; give the bytes back.
    c_.pool.Free(*destination).IgnoreError();
    return false;
  }
  Repair repair;
  repair.record = record;
  repair.source_segment = source->segment;
  repair.destination = ReplicaRecord{destination->address, destination->length, *id, 0};
  Enqueue(std::move(repair), *source, now);
  ++c_.repair_stats.scheduled;
  return true;
}

void RepairScheduler::Enqueue(Repair repair, const ReplicaRecord& source, TimePoint now) {
  ObjectRecord* record = repair.record;
  const uint64_t task_id = c_.task_ids.Next();
  repair.scheduled = now;
  repair.deadline = now + c_.options.repair_timeout;
  CopyTask& task = repair.task;
  task.task_id = task_id;
  task.key = std::string(record->key());
  task.version = record->version;
  task.size = record->size;
  task.checksum = record->checksum;
  // Readers' view of both ends: on SSD, the bytes past the header block.
  task.source = c_.segments.DataRange(source, record->size);
  task.destination = c_.segments.DataRange(repair.destination, record->size);
  task.destination_node = c_.segments.Get(repair.destination.segment).node;
  outbox_.Push(task.destination_node, task_id);
  repairs_.emplace(task_id, std::move(repair));
  repair_of_[record] = task_id;
  ++tasks_queued_;
}

// ---- Nodes' side -----------------------------------------------------------------------------

std::vector<CopyTask> RepairScheduler::TakeTasks(const NodeId& node, size_t max, TimePoint now) {
  std::vector<CopyTask> tasks;
  outbox_.Take(node, max, [&](uint64_t id) {
    auto it = repairs_.find(id);
    // Dropped since it was queued (cancelled before delivery, segment gone, expired).
    if (it == repairs_.end() || it->second.delivered) return false;
    Repair& repair = it->second;
    repair.delivered = true;
    CopyTask task = repair.task;
    task.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(repair.deadline - now);
    tasks.push_back(std::move(task));
    return true;
  });
  return tasks;
}

Result<RepairOutcome> RepairScheduler::Complete(uint64_t task_id, const NodeId& node,
                                                const Status& result, TimePoint now) {
  auto it = repairs_.find(task_id);
  if (it == repairs_.end()) {
    return Status(StatusCode::kObjectNotFound,
                  "no copy task " + std::to_string(task_id) +
                      " in flight (already reported, past its deadline, or scheduled by an "
                      "earlier master)");
  }
  Repair& repair = it->second;
  if (repair.task.destination_node != node) {
    return InvalidParams("copy task " + std::to_string(task_id) + " belongs to node '" +
                         repair.task.destination_node + "', not '" + node + "'");
  }
  if (now >= repair.deadline) {
    // As if Tick had reclaimed it already.
    if (repair.record != nullptr) ++c_.repair_stats.timed_out;
    Erase(it);
    return RepairOutcome::kDropped;
  }
  ObjectRecord* record = repair.record;
  if (record == nullptr) {
    Erase(it);  // cancelled: the node is done writing, the range is free again
    return RepairOutcome::kDropped;
  }
  if (!result.ok()) {
    ++(repair.kind == CopyKind::kDemotion    ? c_.tier_stats.demotions_failed
       : repair.kind == CopyKind::kPromotion ? c_.tier_stats.promotions_failed
                                             : c_.repair_stats.failed);
    // A promotion is tried again after fresh hits instead (its hits started over).
    if (repair.kind != CopyKind::kPromotion) {
      retry_after_[record] = now + c_.options.repair_retry_delay;
    }
    Erase(it);
    return RepairOutcome::kFailed;
  }
  // The invariants say a live repair's object is unchanged since scheduling (every change
  // cancels it); check the cheap parts anyway rather than adopt a wrong replica.
  const auto replicas = record->replicas();
  const NodeId& dest_node = c_.segments.Get(repair.destination.segment).node;
  const bool node_has_one = std::any_of(replicas.begin(), replicas.end(), [&](const auto& r) {
    return c_.segments.Get(r.segment).node == dest_node;
  });
  if (!record->visible || record->pending || record->version != repair.task.version ||
      (repair.kind == CopyKind::kRepair && node_has_one) ||
      replicas.size() >= ObjectRecord::kMaxReplicas) {
    ++c_.repair_stats.cancelled;
    Erase(it);
    return RepairOutcome::kDropped;
  }
  ++(repair.kind == CopyKind::kDemotion    ? c_.tier_stats.demotions_completed
     : repair.kind == CopyKind::kPromotion ? c_.tier_stats.promotions_completed
                                           : c_.repair_stats.completed);
  c_.keeper.AddCopiedReplica(record, repair.destination, repair.kind);
  if (!OnlyOnDraining(*record)) drain_queue_.erase(record);
  retry_after_.erase(record);
  repair_of_.erase(record);
  repairs_.erase(it);  // the allocation now belongs to the replica
  return RepairOutcome::kAdded;
}

}  // namespace mooncake::master
