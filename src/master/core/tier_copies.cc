// RepairScheduler's copies between tiers: demotion (eviction moving cold objects to a lower
// tier instead of dropping them) and promotion (hot SSD-only objects copied to DRAM). See the
// file comment of repair_scheduler.h.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "master/core/repair_scheduler.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::master {

namespace {

// Promotions one SchedulePromotions call looks at, at most, per promotion it may schedule.
constexpr size_t kScanPerPromotion = 4;

// The bytes a copy of an object of `size` bytes takes on `medium`.
uint64_t AllocationBytes(Medium medium, uint64_t size) {
  return medium == Medium::kSsd ? SsdAllocationBytes(size) : std::max<uint64_t>(size, 1);
}

}  // namespace

uint64_t RepairScheduler::DemotingBytes() const {
  uint64_t bytes = 0;
  for (const auto& [id, repair] : repairs_) {
    if (repair.kind == CopyKind::kDemotion && repair.record != nullptr) {
      bytes += repair.demoted_bytes;
    }
  }
  return bytes;
}

RepairScheduler::DemoteResult RepairScheduler::Demote(ObjectRecord* record, Medium from, Medium to,
                                                      TimePoint now) {
  const auto replicas = record->replicas();
  if (!record->visible || record->pending || replicas.empty() ||
      (to == Medium::kSsd && record->key().size() > kSsdMaxKeyBytes)) {
    return DemoteResult::kNotDemotable;
  }
  uint64_t from_bytes = 0;
  for (const ReplicaRecord& r : replicas) {
    if (c_.segments.Get(r.segment).medium != from) return DemoteResult::kNotDemotable;
    from_bytes += r.length;
  }
  if (auto wait = retry_after_.find(record); wait != retry_after_.end()) {
    if (now < wait->second) return DemoteResult::kWaiting;
    retry_after_.erase(wait);
  }
  if (repairs_.size() >= c_.options.max_repairs_in_flight) return DemoteResult::kBusy;
  Repair repair;
  const ReplicaRecord* source = nullptr;
  if (!PlanTierCopy(record, to, AllocationBytes(to, record->size), &repair, &source)) {
    return DemoteResult::kNoRoom;
  }
  repair.kind = CopyKind::kDemotion;
  repair.demoted_bytes = from_bytes;
  Enqueue(std::move(repair), *source, now);
  ++c_.tier_stats.demotions_scheduled;
  return DemoteResult::kScheduled;
}

void RepairScheduler::CountSsdHit(ObjectRecord* record,
                                  std::chrono::steady_clock::duration since_last_access) {
  ++c_.tier_stats.ssd_hits;
  if (c_.options.promote_after_hits == 0 || c_.options.max_repairs_in_flight == 0) return;
  // Hits decay: one long after the object's last lookup (or put) starts the count over.
  if (c_.options.promote_hit_window.count() > 0 &&
      since_last_access > c_.options.promote_hit_window) {
    record->ssd_hits = 0;
  }
  if (record->ssd_hits < UINT8_MAX) ++record->ssd_hits;
  if (record->ssd_hits >= c_.options.promote_after_hits && !repair_of_.contains(record)) {
    promote_queue_.insert(record);
  }
}

void RepairScheduler::SchedulePromotions(size_t max, TimePoint now) {
  if (promote_queue_.empty()) return;
  size_t scheduled = 0;
  size_t scan_budget = kScanPerPromotion * max;  // the rest wait for the next tick
  for (auto it = promote_queue_.begin();
       it != promote_queue_.end() && scheduled < max && scan_budget > 0; --scan_budget) {
    const PromoteResult result = TryPromote(*it, now);
    if (result == PromoteResult::kBusy) break;  // no copy may start now: try next tick
    if (result == PromoteResult::kScheduled) ++scheduled;
    // Scheduled, not promotable, or no room: it leaves the queue; with no room its hits
    // stay, so its next SSD hit queues it again.
    it = promote_queue_.erase(it);
  }
}

RepairScheduler::PromoteResult RepairScheduler::TryPromote(ObjectRecord* record, TimePoint now) {
  const auto replicas = record->replicas();
  const std::optional<Medium> to = c_.placement.PromotionTarget(Medium::kSsd);
  if (!to || !record->visible || record->pending || replicas.empty() ||
      repair_of_.contains(record) || c_.options.max_repairs_in_flight == 0) {
    return PromoteResult::kNotPromotable;
  }
  for (const ReplicaRecord& r : replicas) {
    if (c_.segments.Get(r.segment).medium != Medium::kSsd) return PromoteResult::kNotPromotable;
  }
  // retry_after_ is not consulted: it delays re-replication (which may find no destination for
  // a long time). A failed promotion waits for promote_after_hits fresh hits.
  if (repairs_.size() >= c_.options.max_repairs_in_flight) return PromoteResult::kBusy;
  // Only into room below the high watermark: a promotion must never make Tick evict (or
  // demote) something else.
  const uint64_t bytes = AllocationBytes(*to, record->size);
  const SegmentPool::MediumUsage usage = c_.pool.Usage(*to);
  if (static_cast<double>(usage.used + bytes) >
      c_.options.eviction_high_watermark * static_cast<double>(usage.capacity)) {
    return PromoteResult::kNoRoom;
  }
  Repair repair;
  const ReplicaRecord* source = nullptr;
  if (!PlanTierCopy(record, *to, bytes, &repair, &source)) return PromoteResult::kNoRoom;
  repair.kind = CopyKind::kPromotion;
  Enqueue(std::move(repair), *source, now);
  record->ssd_hits = 0;
  ++c_.tier_stats.promotions_scheduled;
  return PromoteResult::kScheduled;
}

bool RepairScheduler::PlanTierCopy(ObjectRecord* record, Medium medium, uint64_t bytes,
                                   Repair* repair, const ReplicaRecord** source) {
  const auto replicas = record->replicas();
  std::vector<std::string> preferred;  // `medium` segments of the nodes holding a replica
  for (const ReplicaRecord& r : replicas) {
    const NodeId& node = c_.segments.Get(r.segment).node;
    c_.segments.ForEach([&](SegmentId, const SegmentIndex::Segment& segment) {
      if (!segment.gone && segment.medium == medium && segment.node == node) {
        preferred.push_back(segment.name);
      }
    });
  }
  Result<Allocation> destination = c_.pool.AllocateOnMedium(medium, bytes, preferred, {});
  if (!destination.ok()) return false;
  const std::optional<SegmentId> id = c_.segments.Find(destination->segment);
  if (!id) {
    c_.pool.Free(*destination).IgnoreError();  // cannot happen: the index mirrors the pool
    return false;
  }
  const NodeId& dest_node = c_.segments.Get(*id).node;
  // Read from the destination node's own replica when it has one: a local copy.
  *source = &replicas[0];
  for (const ReplicaRecord& r : replicas) {
    if (c_.segments.Get(r.segment).node == dest_node) *source = &r;
  }
  repair->record = record;
  repair->source_segment = (*source)->segment;
  repair->destination = ReplicaRecord{destination->address, destination->length, *id, 0};
  return true;
}

}  // namespace mooncake::master
