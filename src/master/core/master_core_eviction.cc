// MasterCore's eviction (see "Eviction" in master_core.h): when a medium is over its high
// watermark, or a put does not fit, whole objects go in the EvictionPolicy's order.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "master/core/master_core.h"

namespace mooncake {

namespace {

bool HasReplicaOn(const ObjectEntry& entry, Medium medium) {
  return std::any_of(entry.replicas.begin(), entry.replicas.end(),
                     [&](const Replica& r) { return r.medium == medium; });
}

uint64_t ObjectBytes(const ObjectEntry& entry) {
  uint64_t bytes = 0;
  for (const Replica& r : entry.replicas) bytes += r.allocation.length;
  return bytes;
}

// Whether some segment of `medium` could hold `size` bytes if it were empty.
bool CouldEverFit(const SegmentPool& pool, Medium medium, uint64_t size) {
  const std::vector<SegmentInfo> segments = pool.List();
  return std::any_of(segments.begin(), segments.end(), [&](const SegmentInfo& s) {
    return s.medium == medium && s.capacity >= size;
  });
}

}  // namespace

uint64_t MasterCore::LowWatermarkBytes(uint64_t capacity) const {
  const double fraction = options_.eviction_high_watermark - options_.eviction_ratio;
  // Rounded to the nearest byte: 0.95 - 0.05 is 0.8999…, which must still mean 90%.
  return static_cast<uint64_t>(std::llround(fraction * static_cast<double>(capacity)));
}

Result<PendingPut> MasterCore::AllocateOrEvict(uint64_t size, const ReplicateConfig& config,
                                               std::string_view protected_key) {
  Result<PendingPut> pending = Allocate(size, config);
  if (pending.ok() || pending.status().code() != StatusCode::kNoAvailableHandle) {
    return pending;
  }
  const SegmentPool::MediumUsage usage = pool_.Usage(config.medium);
  // Evicting cannot help an object larger than every segment of the medium (or a medium
  // with no segment): fail without emptying the cache for nothing.
  if (!CouldEverFit(pool_, config.medium, size)) return pending;
  // Room for every replica wanted, and at least down to the low watermark. Fragmentation or
  // the distinct-node rule may still leave no fitting range; then the retry fails.
  const uint64_t wanted = size * static_cast<uint64_t>(config.replica_num);
  const uint64_t room_target = usage.capacity > wanted ? usage.capacity - wanted : 0;
  EvictOn(config.medium, std::min(room_target, LowWatermarkBytes(usage.capacity)), protected_key);
  return Allocate(size, config);
}

void MasterCore::EvictOn(Medium medium, uint64_t target_used, std::string_view protected_key) {
  ++eviction_stats_.runs;
  const TimePoint now = clock_.Now();
  std::vector<EvictionCandidate> candidates;
  for (const auto& [key, entry] : objects_) {
    if (!entry.visible || key == protected_key || !HasReplicaOn(entry, medium)) continue;
    if (entry.pending) {
      ++eviction_stats_.skipped_in_flight;
    } else if (entry.pin.hard) {
      ++eviction_stats_.skipped_pinned;
    } else if (LeaseLive(entry)) {
      ++eviction_stats_.skipped_leased;
    } else {
      candidates.push_back(EvictionCandidate{key, entry.last_access, now < entry.pin.soft_until});
    }
  }
  eviction_policy_->Order(candidates);
  for (const EvictionCandidate& candidate : candidates) {
    if (pool_.Usage(medium).used <= target_used) break;
    auto it = objects_.find(candidate.key);
    ++eviction_stats_.evicted_objects;
    eviction_stats_.evicted_bytes += ObjectBytes(it->second);
    Erase(it);
  }
}

}  // namespace mooncake
