// MasterCore's re-replication and drain (see "Re-replication" and "Drain" in master_core.h):
// objects below their replica target, or left only on draining segments, get a copy on a
// further node. The master only allocates and bookkeeps; the destination node moves the bytes
// and reports, and only then does the copy become a readable replica.
#include <algorithm>
#include <iterator>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "master/core/master_core.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::master {

namespace {

// How many candidates one ScheduleRepairs call may look at per repair it may schedule: a
// bound on the scan when most candidates cannot be repaired now (no destination, a repair
// already in flight, waiting out a failure).
constexpr size_t kScanPerRepair = 4;

// Visits up to `budget` entries of `set` round robin, starting after `cursor` and wrapping
// once; `fn(record)` returns false to stop. Entries may be erased by `fn` only through the
// iterator it is handed back (fn returns the next iterator via `erase`).
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
    it = drop ? set.erase(it) : std::next(it);
  }
}

}  // namespace

bool MasterCore::OnlyOnDraining(const ObjectRecord& record) const {
  const auto replicas = record.replicas();
  return !replicas.empty() && std::all_of(replicas.begin(), replicas.end(), [&](const auto& r) {
    return segments_.Get(r.segment).draining;
  });
}

bool MasterCore::NeedsRepair(const ObjectRecord& record) const {
  return record.visible && !record.pending && (BelowTarget(record) || OnlyOnDraining(record));
}

size_t MasterCore::ScheduleRepairs(size_t max) {
  const TimePoint now = clock_.Now();
  ReclaimExpiredRepairs(now);
  if (options_.max_repairs_in_flight == 0 || max == 0) return 0;
  // Nodes that could take a copy at all: an object every one of them already holds is passed
  // over without an allocation attempt (the common case of fewer nodes than replica_num).
  std::set<NodeId> takers;
  segments_.ForEach([&](SegmentId, const SegmentIndex::Segment& segment) {
    if (!segment.gone && !segment.draining) takers.insert(segment.node);
  });
  size_t scheduled = 0;
  size_t scan_budget = kScanPerRepair * max;
  auto visit = [&](ObjectRecord* record, bool& drop, bool draining) {
    if (scheduled >= max || repairs_.size() >= options_.max_repairs_in_flight || scan_budget == 0) {
      return false;
    }
    --scan_budget;
    // A drain entry that no longer needs its copy (it got one, or a replica elsewhere, or it
    // went invisible) leaves the queue.
    if (draining && !(record->visible && OnlyOnDraining(*record))) {
      drop = true;
      return true;
    }
    if (TryScheduleRepair(record, takers, now)) ++scheduled;
    return true;
  };
  // Drain copies first: those objects are about to lose their last replica.
  RoundRobin(drain_queue_, drain_cursor_, drain_queue_.size(),
             [&](ObjectRecord* r, bool& drop) { return visit(r, drop, true); });
  RoundRobin(below_set_, below_cursor_, below_set_.size(),
             [&](ObjectRecord* r, bool& drop) { return visit(r, drop, false); });
  return scheduled;
}

bool MasterCore::TryScheduleRepair(ObjectRecord* record, const std::set<NodeId>& takers,
                                   TimePoint now) {
  if (!NeedsRepair(*record) || repair_of_.contains(record)) return false;
  if (auto wait = repair_retry_after_.find(record); wait != repair_retry_after_.end()) {
    if (now < wait->second) return false;
    repair_retry_after_.erase(wait);
  }
  const auto replicas = record->replicas();
  // Read from a replica that stays, if there is one: a draining node has enough to send.
  const ReplicaRecord* source = &replicas[0];
  for (const ReplicaRecord& r : replicas) {
    if (!segments_.Get(r.segment).draining) {
      source = &r;
      break;
    }
  }
  std::set<NodeId> holders;
  for (const ReplicaRecord& r : replicas) holders.insert(segments_.Get(r.segment).node);
  if (std::includes(holders.begin(), holders.end(), takers.begin(), takers.end())) return false;
  const SegmentIndex::Segment& source_segment = segments_.Get(source->segment);
  Result<Allocation> destination =
      pool_.AllocateOnMedium(source_segment.medium, source->length, {}, holders);
  if (!destination.ok()) {
    ++repair_stats_.no_destination;
    repair_retry_after_[record] = now + options_.repair_retry_delay;
    return false;
  }
  const std::optional<SegmentId> id = segments_.Find(destination->segment);
  if (!id) {
    // The index mirrors the pool's mounts, so this is a bug here; give the bytes back.
    pool_.Free(*destination).IgnoreError();
    return false;
  }
  Repair repair;
  repair.record = record;
  repair.source_segment = source->segment;
  repair.destination = ReplicaRecord{destination->address, destination->length, *id, 0};
  EnqueueRepair(std::move(repair), *source, now);
  ++repair_stats_.scheduled;
  return true;
}

uint64_t MasterCore::DemotingBytes() const {
  uint64_t bytes = 0;
  for (const auto& [id, repair] : repairs_) {
    if (repair.demotion && repair.record != nullptr) bytes += repair.demoted_bytes;
  }
  return bytes;
}

MasterCore::DemoteResult MasterCore::TryScheduleDemotion(ObjectRecord* record, TimePoint now) {
  const auto replicas = record->replicas();
  if (!record->visible || record->pending || replicas.empty() ||
      record->key().size() > kSsdMaxKeyBytes) {
    return DemoteResult::kNotDemotable;
  }
  uint64_t dram_bytes = 0;
  for (const ReplicaRecord& r : replicas) {
    const SegmentIndex::Segment& segment = segments_.Get(r.segment);
    if (segment.medium != Medium::kDram) return DemoteResult::kNotDemotable;
    dram_bytes += r.length;
  }
  if (auto wait = repair_retry_after_.find(record); wait != repair_retry_after_.end()) {
    if (now < wait->second) return DemoteResult::kWaiting;
    repair_retry_after_.erase(wait);
  }
  if (repairs_.size() >= options_.max_repairs_in_flight) return DemoteResult::kBusy;
  Repair repair;
  const ReplicaRecord* source = nullptr;
  if (!PlanTierCopy(record, Medium::kSsd, SsdAllocationBytes(record->size), &repair, &source)) {
    return DemoteResult::kNoRoom;
  }
  repair.demotion = true;
  repair.demoted_bytes = dram_bytes;
  EnqueueRepair(std::move(repair), *source, now);
  ++tier_stats_.demotions_scheduled;
  return DemoteResult::kScheduled;
}

void MasterCore::CountSsdHit(ObjectRecord* record,
                             std::chrono::steady_clock::duration since_last_access) {
  ++tier_stats_.ssd_hits;
  if (options_.promote_after_hits == 0 || options_.max_repairs_in_flight == 0) return;
  // Hits decay: one long after the object's last lookup (or put) starts the count over.
  if (options_.promote_hit_window.count() > 0 && since_last_access > options_.promote_hit_window) {
    record->ssd_hits = 0;
  }
  if (record->ssd_hits < UINT8_MAX) ++record->ssd_hits;
  if (record->ssd_hits >= options_.promote_after_hits && !repair_of_.contains(record)) {
    promote_queue_.insert(record);
  }
}

void MasterCore::SchedulePromotions(size_t max) {
  if (promote_queue_.empty()) return;
  const TimePoint now = clock_.Now();
  size_t scheduled = 0;
  size_t scan_budget = kScanPerRepair * max;  // the rest wait for the next tick
  for (auto it = promote_queue_.begin();
       it != promote_queue_.end() && scheduled < max && scan_budget > 0; --scan_budget) {
    const PromoteResult result = TrySchedulePromotion(*it, now);
    if (result == PromoteResult::kBusy) break;  // no copy may start now: try next tick
    if (result == PromoteResult::kScheduled) ++scheduled;
    // Scheduled, not promotable, or no room: it leaves the queue; with no room its hits
    // stay, so its next SSD hit queues it again.
    it = promote_queue_.erase(it);
  }
}

MasterCore::PromoteResult MasterCore::TrySchedulePromotion(ObjectRecord* record, TimePoint now) {
  const auto replicas = record->replicas();
  if (!record->visible || record->pending || replicas.empty() || repair_of_.contains(record) ||
      options_.max_repairs_in_flight == 0) {
    return PromoteResult::kNotPromotable;
  }
  for (const ReplicaRecord& r : replicas) {
    if (segments_.Get(r.segment).medium != Medium::kSsd) return PromoteResult::kNotPromotable;
  }
  // repair_retry_after_ is not consulted: it delays re-replication (which may find no
  // destination for a long time). A failed promotion waits for promote_after_hits fresh hits.
  if (repairs_.size() >= options_.max_repairs_in_flight) return PromoteResult::kBusy;
  // Only into room below the high watermark: a promotion must never make Tick evict (or
  // demote) something else.
  const uint64_t bytes = std::max<uint64_t>(record->size, 1);
  const SegmentPool::MediumUsage usage = pool_.Usage(Medium::kDram);
  if (static_cast<double>(usage.used + bytes) >
      options_.eviction_high_watermark * static_cast<double>(usage.capacity)) {
    return PromoteResult::kNoRoom;
  }
  Repair repair;
  const ReplicaRecord* source = nullptr;
  if (!PlanTierCopy(record, Medium::kDram, bytes, &repair, &source)) {
    return PromoteResult::kNoRoom;
  }
  repair.promotion = true;
  EnqueueRepair(std::move(repair), *source, now);
  record->ssd_hits = 0;
  ++tier_stats_.promotions_scheduled;
  return PromoteResult::kScheduled;
}

bool MasterCore::PlanTierCopy(ObjectRecord* record, Medium medium, uint64_t bytes, Repair* repair,
                              const ReplicaRecord** source) {
  const auto replicas = record->replicas();
  std::vector<std::string> preferred;  // `medium` segments of the nodes holding a replica
  for (const ReplicaRecord& r : replicas) {
    const NodeId& node = segments_.Get(r.segment).node;
    segments_.ForEach([&](SegmentId, const SegmentIndex::Segment& segment) {
      if (!segment.gone && segment.medium == medium && segment.node == node) {
        preferred.push_back(segment.name);
      }
    });
  }
  Result<Allocation> destination = pool_.AllocateOnMedium(medium, bytes, preferred, {});
  if (!destination.ok()) return false;
  const std::optional<SegmentId> id = segments_.Find(destination->segment);
  if (!id) {
    pool_.Free(*destination).IgnoreError();  // cannot happen: the index mirrors the pool
    return false;
  }
  const NodeId& dest_node = segments_.Get(*id).node;
  // Read from the destination node's own replica when it has one: a local copy.
  *source = &replicas[0];
  for (const ReplicaRecord& r : replicas) {
    if (segments_.Get(r.segment).node == dest_node) *source = &r;
  }
  repair->record = record;
  repair->source_segment = (*source)->segment;
  repair->destination = ReplicaRecord{destination->address, destination->length, *id, 0};
  return true;
}

void MasterCore::EnqueueRepair(Repair repair, const ReplicaRecord& source, TimePoint now) {
  ObjectRecord* record = repair.record;
  const uint64_t task_id = task_ids_.Next();
  repair.scheduled = now;
  repair.deadline = now + options_.repair_timeout;
  CopyTask& task = repair.task;
  task.task_id = task_id;
  task.key = std::string(record->key());
  task.version = record->version;
  task.size = record->size;
  task.checksum = record->checksum;
  // Readers' view of both ends: on SSD, the bytes past the header block.
  task.source = segments_.DataRange(source, record->size);
  task.destination = segments_.DataRange(repair.destination, record->size);
  task.destination_node = segments_.Get(repair.destination.segment).node;
  copy_outbox_[task.destination_node].push_back(task_id);
  repairs_.emplace(task_id, std::move(repair));
  repair_of_[record] = task_id;
  ++copy_tasks_queued_;
}

std::vector<CopyTask> MasterCore::TakeCopyTasks(const NodeId& node, size_t max) {
  std::vector<CopyTask> tasks;
  auto outbox = copy_outbox_.find(node);
  if (outbox == copy_outbox_.end()) return tasks;
  const TimePoint now = clock_.Now();
  std::deque<uint64_t>& queue = outbox->second;
  while (!queue.empty() && tasks.size() < max) {
    const uint64_t id = queue.front();
    queue.pop_front();
    auto it = repairs_.find(id);
    // Dropped since it was queued (cancelled before delivery, segment gone, expired).
    if (it == repairs_.end() || it->second.delivered) continue;
    Repair& repair = it->second;
    repair.delivered = true;
    CopyTask task = repair.task;
    task.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(repair.deadline - now);
    tasks.push_back(std::move(task));
  }
  if (queue.empty()) copy_outbox_.erase(outbox);
  return tasks;
}

Result<RepairOutcome> MasterCore::CompleteRepair(uint64_t task_id, const NodeId& node,
                                                 const Status& result) {
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
  const TimePoint now = clock_.Now();
  if (now >= repair.deadline) {
    // As if Tick had reclaimed it already.
    if (repair.record != nullptr) ++repair_stats_.timed_out;
    EraseRepair(it);
    return RepairOutcome::kDropped;
  }
  ObjectRecord* record = repair.record;
  if (record == nullptr) {
    EraseRepair(it);  // cancelled: the node is done writing, the range is free again
    return RepairOutcome::kDropped;
  }
  if (!result.ok()) {
    ++(repair.demotion    ? tier_stats_.demotions_failed
       : repair.promotion ? tier_stats_.promotions_failed
                          : repair_stats_.failed);
    // A promotion is tried again after fresh hits instead (its hits started over).
    if (!repair.promotion) repair_retry_after_[record] = now + options_.repair_retry_delay;
    EraseRepair(it);
    return RepairOutcome::kFailed;
  }
  // The invariants say a live repair's object is unchanged since scheduling (every change
  // cancels it); check the cheap parts anyway rather than adopt a wrong replica.
  const auto replicas = record->replicas();
  const NodeId& dest_node = segments_.Get(repair.destination.segment).node;
  const bool node_has_one = std::any_of(replicas.begin(), replicas.end(), [&](const auto& r) {
    return segments_.Get(r.segment).node == dest_node;
  });
  if (!record->visible || record->pending || record->version != repair.task.version ||
      (!repair.demotion && !repair.promotion && node_has_one) ||
      replicas.size() >= ObjectRecord::kMaxReplicas) {
    ++repair_stats_.cancelled;
    EraseRepair(it);
    return RepairOutcome::kDropped;
  }
  const bool was_below = BelowTarget(*record);
  if (repair.demotion) {
    // The SSD replica replaces the DRAM ones in this one step: readers see either the DRAM
    // replicas or the SSD one, never neither (a live read lease defers the DRAM frees).
    RetireReplicas(record);
    ++tier_stats_.demotions_completed;
  } else if (repair.promotion) {
    // The DRAM replica joins the SSD ones: the object is on both tiers now.
    ++tier_stats_.promotions_completed;
  } else {
    ++repair_stats_.completed;
  }
  record->AddReplica(repair.destination);
  segments_.Link(record, record->replicas().back());
  UpdateBelowTarget(was_below, record);
  JournalReplica(*record, record->replicas().back());
  if (!OnlyOnDraining(*record)) drain_queue_.erase(record);
  repair_retry_after_.erase(record);
  repair_of_.erase(record);
  repairs_.erase(it);  // the allocation now belongs to the replica
  return RepairOutcome::kAdded;
}

void MasterCore::CancelRepairOf(const ObjectRecord* record) {
  if (repair_of_.empty()) return;  // the common case: nothing in flight
  auto link = repair_of_.find(record);
  if (link == repair_of_.end()) return;
  auto it = repairs_.find(link->second);
  if (it != repairs_.end()) CancelRepairAt(it);
}

MasterCore::RepairMap::iterator MasterCore::CancelRepairAt(RepairMap::iterator it) {
  Repair& repair = it->second;
  if (repair.record == nullptr) return std::next(it);
  ++repair_stats_.cancelled;
  // Never handed out: nobody writes there, free it now.
  if (!repair.delivered) return EraseRepair(it);
  repair_of_.erase(repair.record);
  repair.record = nullptr;
  return std::next(it);
}

MasterCore::RepairMap::iterator MasterCore::EraseRepair(RepairMap::iterator it) {
  Repair& repair = it->second;
  if (repair.record != nullptr) repair_of_.erase(repair.record);
  FreeInPool(repair.destination);  // a no-op on a gone segment
  return repairs_.erase(it);
}

void MasterCore::DropRepairsOnGoneSegments() {
  for (auto it = repairs_.begin(); it != repairs_.end();) {
    Repair& repair = it->second;
    if (segments_.Get(repair.destination.segment).gone) {
      if (repair.record != nullptr) ++repair_stats_.cancelled;
      it = EraseRepair(it);  // the allocation went with the segment
    } else if (repair.record != nullptr && segments_.Get(repair.source_segment).gone) {
      it = CancelRepairAt(it);
    } else {
      ++it;
    }
  }
}

void MasterCore::ReclaimExpiredRepairs(TimePoint now) {
  // Few (at most max_repairs_in_flight): a scan.
  for (auto it = repairs_.begin(); it != repairs_.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    if (it->second.record != nullptr) ++repair_stats_.timed_out;
    it = EraseRepair(it);
  }
}

Result<size_t> MasterCore::Drain(const NodeId& node, Epoch epoch) {
  const std::optional<Epoch> current = pool_.NodeEpoch(node);
  if (!current || !pool_.Nodes().contains(node)) {
    return Status(StatusCode::kClientNotFound, "drain: node '" + node + "' has no mounted segment");
  }
  if (*current != epoch) {
    return Status(StatusCode::kInvalidVersion, "drain: node '" + node + "' epoch " +
                                                   std::to_string(epoch) + " is not its mounted " +
                                                   std::to_string(*current));
  }
  const std::vector<std::string> names = pool_.SetDraining(node);
  std::vector<SegmentId> ids;
  for (const std::string& name : names) {
    if (std::optional<SegmentId> id = segments_.Find(name)) {
      segments_.MarkDraining(*id);
      ids.push_back(*id);
    }
  }
  // Copies heading to the node would only have to leave again.
  for (auto it = repairs_.begin(); it != repairs_.end();) {
    const Repair& repair = it->second;
    const bool live_here = repair.record != nullptr && repair.task.destination_node == node;
    it = live_here ? CancelRepairAt(it) : std::next(it);
  }
  std::set<const ObjectRecord*> seen;
  size_t remaining = 0;
  for (SegmentId id : ids) {
    for (ObjectRecord* record : segments_.Get(id).members) {
      if (!seen.insert(record).second) continue;
      const bool put_here =
          record->pending &&
          std::any_of(record->pending->replicas.begin(), record->pending->replicas.end(),
                      [&](const ReplicaRecord& r) { return segments_.Get(r.segment).draining; });
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

}  // namespace mooncake::master
