// MasterCore's eviction (see "Eviction" in master_core.h): when a medium is over its high
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
  Result<std::unique_ptr<PendingPut>> pending = Allocate(size, config);
  if (pending.ok() || pending.status().code() != StatusCode::kNoAvailableHandle) {
    return pending;
  }
  // With an SSD tier below DRAM, a DRAM put that does not fit goes to free SSD space before
  // anything is dropped (Tick demotes cold DRAM objects so that new puts land in DRAM again).
  // Then DRAM objects are dropped as without an SSD tier, and only when that cannot help,
  // SSD objects: space they free on a node tracking its manifest is quarantined until the
  // node erased their headers, so it serves the next puts, not this one.
  const bool ssd_below = config.medium == Medium::kDram &&
                         protected_key.size() <= kSsdMaxKeyBytes &&
                         pool_.Usage(Medium::kSsd).capacity > 0;
  if (ssd_below) {
    ReplicateConfig on_ssd = config;
    on_ssd.medium = Medium::kSsd;
    on_ssd.preferred_segments.clear();  // DRAM segment names
    Result<std::unique_ptr<PendingPut>> placed = Allocate(size, on_ssd);
    if (placed.ok()) {
      ++tier_stats_.ssd_puts;
      return placed;
    }
    Result<std::unique_ptr<PendingPut>> in_dram = EvictAndAllocate(size, config, protected_key);
    if (in_dram.ok() || in_dram.status().code() != StatusCode::kNoAvailableHandle) {
      return in_dram;
    }
    placed = EvictAndAllocate(size, on_ssd, protected_key);
    if (placed.ok()) {
      ++tier_stats_.ssd_puts;
      return placed;
    }
    return Status(StatusCode::kNoAvailableHandle,
                  "neither DRAM nor SSD can hold " + std::to_string(size) +
                      " bytes, even after eviction: DRAM: " + in_dram.status().message() +
                      "; SSD: " + placed.status().message());
  }
  return EvictAndAllocate(size, config, protected_key);
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
  objects_.ForEach([&](const ObjectRecord* record) {
    const std::string_view key = record->key();
    if (!record->visible || key == protected_key || !HasReplicaOn(segments_, *record, medium)) {
      return;
    }
    if (record->pending) {
      ++eviction_stats_.skipped_in_flight;
    } else if (record->hard_pin) {
      ++eviction_stats_.skipped_pinned;
    } else if (LeaseLive(*record)) {
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
  const bool demote = way == EvictWay::kDemoteFirst && medium == Medium::kDram &&
                      options_.max_repairs_in_flight > 0 && pool_.Usage(Medium::kSsd).capacity > 0;
  if (demote) leaving += DemotingBytes();
  for (const EvictionCandidate& candidate : candidates) {
    const uint64_t used = pool_.Usage(medium).used;
    if (used <= target_used || used - std::min(used, leaving) <= target_used) break;
    // Each candidate's key lives in its own record, erased only on its own turn.
    ObjectRecord* record = objects_.Find(candidate.key);
    if (HasReplicaOffMedium(segments_, *record, medium)) {
      // Also held on another tier (a promoted object): it only leaves this one.
      const uint64_t bytes = DropReplicasOn(record, medium);
      ++eviction_stats_.evicted_objects;
      eviction_stats_.evicted_bytes += bytes;
      continue;
    }
    if (demote) {
      if (repair_of_.contains(record)) continue;  // a copy (or its demotion) is in flight
      const DemoteResult demoted = TryScheduleDemotion(record, now);
      if (demoted == DemoteResult::kScheduled) {
        leaving += ObjectBytes(*record);
        continue;
      }
      // No copy may start now: wait for the ones in flight rather than drop data.
      if (demoted == DemoteResult::kBusy) break;
      if (demoted == DemoteResult::kWaiting) continue;
      // kNoRoom / kNotDemotable: dropped, as without an SSD tier.
    }
    if (!write_back_.SafeToDrop(*record)) {
      // Write-back: its only copy in the pool; it goes once its upload is done.
      ++eviction_stats_.skipped_not_uploaded;
      continue;
    }
    ++eviction_stats_.evicted_objects;
    eviction_stats_.evicted_bytes += ObjectBytes(*record);
    EraseObject(record);
  }
}

}  // namespace mooncake::master
