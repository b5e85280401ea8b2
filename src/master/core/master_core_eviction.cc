// MasterCore's eviction (see "Eviction" in docs/master.md): when a medium is over its high
// watermark, or a put does not fit, whole objects go in the EvictionPolicy's order.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "master/core/master_core.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::master {

namespace {

bool HasReplicaOn(const SegmentIndex& segments, const ObjectRecord& record, Medium medium) {
  const auto replicas = record.replicas();
  return std::any_of(replicas.begin(), replicas.end(), [&](const ReplicaRecord& r) {
    return segments.Get(r.segment).medium == medium;
  });
}

bool HasReplicaOffMedium(const SegmentIndex& segments, const ObjectRecord& record, Medium medium) {
  const auto replicas = record.replicas();
  return std::any_of(replicas.begin(), replicas.end(), [&](const ReplicaRecord& r) {
    return segments.Get(r.segment).medium != medium;
  });
}

uint64_t ObjectBytes(const ObjectRecord& record) {
  uint64_t bytes = 0;
  for (const ReplicaRecord& r : record.replicas()) bytes += r.length;
  return bytes;
}

// Whether some segment of `medium` could hold `size` bytes if it were empty. Draining
// segments take no allocation: evicting there makes no room for a put.
bool CouldEverFit(const SegmentPool& pool, Medium medium, uint64_t size) {
  const std::vector<SegmentInfo> segments = pool.List();
  return std::any_of(segments.begin(), segments.end(), [&](const SegmentInfo& s) {
    return s.medium == medium && !s.draining && s.capacity >= size;
  });
}

}  // namespace

uint64_t MasterCore::LowWatermarkBytes(uint64_t capacity) const {
  const double fraction = options_.eviction_high_watermark - options_.eviction_ratio;
  // Rounded to the nearest byte: 0.95 - 0.05 is 0.8999…, which must still mean 90%.
  return static_cast<uint64_t>(std::llround(fraction * static_cast<double>(capacity)));
}

Result<std::unique_ptr<PendingPut>> MasterCore::AllocateOrEvict(uint64_t size,
                                                                const ReplicateConfig& config,
                                                                std::string_view protected_key) {
  // The fast path, and the placement policy's first step: free room where the put asked.
  Result<std::unique_ptr<PendingPut>> pending = Allocate(size, config);
  if (pending.ok() || pending.status().code() != StatusCode::kNoAvailableHandle) {
    return pending;
  }
  // The policy's further steps (dram_first_placement.h: free SSD space, then eviction).
  const std::vector<PutStep> steps =
      placement_->PutSteps(config.medium, protected_key.size(), pool_);
  // The last refusal per medium, in the order the steps first name them, for the message.
  std::vector<std::pair<Medium, Status>> refused{{config.medium, pending.status()}};
  for (size_t i = 1; i < steps.size(); ++i) {
    const PutStep& step = steps[i];
    ReplicateConfig at = config;
    if (step.medium != config.medium) {
      at.medium = step.medium;
      at.preferred_segments.clear();  // names of segments on the medium asked for
    }
    Result<std::unique_ptr<PendingPut>> placed = step.room == PutStep::Room::kFreeOnly
                                                     ? Allocate(size, at)
                                                     : EvictAndAllocate(size, at, protected_key);
    if (placed.ok()) {
      if (step.medium == Medium::kSsd && config.medium != Medium::kSsd) ++tier_stats_.ssd_puts;
      return placed;
    }
    if (placed.status().code() != StatusCode::kNoAvailableHandle) return placed;
    auto known = std::find_if(refused.begin(), refused.end(),
                              [&](const auto& r) { return r.first == step.medium; });
    if (known == refused.end()) {
      refused.emplace_back(step.medium, placed.status());
    } else {
      known->second = placed.status();
    }
  }
  if (refused.size() == 1) return refused.front().second;
  std::string media;
  std::string reasons;
  for (size_t i = 0; i < refused.size(); ++i) {
    const char* name = MediumName(refused[i].first);
    media += i == 0 ? std::string("neither ") + name : std::string(" nor ") + name;
    reasons += (i == 0 ? "" : "; ") + std::string(name) + ": " + refused[i].second.message();
  }
  return Status(StatusCode::kNoAvailableHandle, media + " can hold " + std::to_string(size) +
                                                    " bytes, even after eviction: " + reasons);
}

Result<std::unique_ptr<PendingPut>> MasterCore::EvictAndAllocate(uint64_t size,
                                                                 const ReplicateConfig& config,
                                                                 std::string_view protected_key) {
  const uint64_t bytes =
      config.medium == Medium::kSsd ? SsdAllocationBytes(size) : std::max<uint64_t>(size, 1);
  // Evicting cannot help an object larger than every segment of the medium (or a medium
  // with no segment): fail without emptying the cache for nothing.
  if (!CouldEverFit(pool_, config.medium, bytes)) return Allocate(size, config);
  const SegmentPool::MediumUsage usage = pool_.Usage(config.medium);
  // Room for every replica wanted, and at least down to the low watermark. Fragmentation or
  // the distinct-node rule may still leave no fitting range; then the retry fails.
  const uint64_t wanted = bytes * static_cast<uint64_t>(config.replica_num);
  const uint64_t room_target = usage.capacity > wanted ? usage.capacity - wanted : 0;
  EvictOn(config.medium, std::min(room_target, LowWatermarkBytes(usage.capacity)), protected_key);
  Result<std::unique_ptr<PendingPut>> placed = Allocate(size, config);
  if (!placed.ok() && tier_stats_.upload_backlog_objects > 0) {
    return Status(placed.status().code(),
                  placed.status().message() + " (" +
                      std::to_string(tier_stats_.upload_backlog_objects) +
                      " objects wait for their write-back upload and cannot be evicted yet)");
  }
  return placed;
}

void MasterCore::EvictOn(Medium medium, uint64_t target_used, std::string_view protected_key,
                         EvictWay way) {
  ++eviction_stats_.runs;
  const TimePoint now = clock_.Now();
  // A scan of every object: eviction runs only above the high watermark (or for a put that
  // does not fit) and then frees eviction_ratio of the medium, so the scan is amortised over
  // many puts. The EvictionPolicy seam orders whatever candidates it is given.
  std::vector<EvictionCandidate> candidates;
  index_.table().ForEach([&](const ObjectRecord* record) {
    const std::string_view key = record->key();
    if (!record->visible || key == protected_key || !HasReplicaOn(segments_, *record, medium)) {
      return;
    }
    if (record->pending) {
      ++eviction_stats_.skipped_in_flight;
    } else if (record->hard_pin) {
      ++eviction_stats_.skipped_pinned;
    } else if (index_.LeaseLive(*record)) {
      ++eviction_stats_.skipped_leased;
    } else {
      candidates.push_back(EvictionCandidate{key, record->last_access, now < record->soft_until});
    }
  });
  eviction_policy_->Order(candidates);
  // Bytes that are as good as free: quarantined SSD ranges (free once their node acknowledges)
  // and DRAM objects whose demotion is in flight (free once it completes). Evicting more for
  // them would only empty the tier.
  uint64_t leaving = medium == Medium::kSsd ? quarantine_.Bytes() : 0;
  // Demote to the placement policy's lower tier rather than drop (Tick only: a put needs the
  // room now).
  const std::optional<Medium> lower =
      way == EvictWay::kDemoteFirst ? placement_->DemotionTarget(medium, pool_) : std::nullopt;
  const bool demote = lower.has_value() && options_.max_repairs_in_flight > 0;
  if (demote) leaving += repair_scheduler_.DemotingBytes();
  for (const EvictionCandidate& candidate : candidates) {
    const uint64_t used = pool_.Usage(medium).used;
    if (used <= target_used || used - std::min(used, leaving) <= target_used) break;
    // Each candidate's key lives in its own record, erased only on its own turn.
    ObjectRecord* record = index_.table().Find(candidate.key);
    if (HasReplicaOffMedium(segments_, *record, medium)) {
      // Also held on another tier (a promoted object): it only leaves this one.
      const uint64_t bytes = index_.DropReplicasOn(record, medium);
      ++eviction_stats_.evicted_objects;
      eviction_stats_.evicted_bytes += bytes;
      continue;
    }
    if (demote) {
      // A copy (or its demotion) is in flight.
      if (repair_scheduler_.HasCopyInFlight(record)) continue;
      using DemoteResult = RepairScheduler::DemoteResult;
      const DemoteResult demoted = repair_scheduler_.Demote(record, medium, *lower, now);
      if (demoted == DemoteResult::kScheduled) {
        leaving += ObjectBytes(*record);
        continue;
      }
      // No copy may start now: wait for the ones in flight rather than drop data.
      if (demoted == DemoteResult::kBusy) break;
      if (demoted == DemoteResult::kWaiting) continue;
      // kNoRoom / kNotDemotable: dropped, as without a lower tier.
    }
    if (!write_back_.SafeToDrop(*record)) {
      // Write-back: its only copy in the pool; it goes once its upload is done.
      ++eviction_stats_.skipped_not_uploaded;
      continue;
    }
    ++eviction_stats_.evicted_objects;
    eviction_stats_.evicted_bytes += ObjectBytes(*record);
    index_.EraseObject(record);
  }
}

}  // namespace mooncake::master
