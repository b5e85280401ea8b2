#include "master/core/master_core.h"

#include <algorithm>
// GCC 12 under -fsanitize=address reports a false -Wmaybe-uninitialized inside libstdc++'s
// <regex> (std::function in the NFA states); silence it for that header only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <utility>

#include "master/core/lru_eviction_policy.h"

namespace mooncake {

namespace {

bool HasVanished(const Replica& replica, const std::set<std::string, std::less<>>& gone) {
  return gone.count(replica.allocation.segment) > 0;
}

// Removes the replicas on vanished segments; returns how many are left.
size_t DropVanished(std::vector<Replica>& replicas,
                    const std::set<std::string, std::less<>>& gone) {
  std::erase_if(replicas, [&](const Replica& r) { return HasVanished(r, gone); });
  return replicas.size();
}

}  // namespace

Status MasterCoreOptions::Validate() const {
  if (default_lease_ttl.count() <= 0) return InvalidParams("default_lease_ttl must be > 0");
  if (max_lease_ttl < default_lease_ttl) {
    return InvalidParams("max_lease_ttl must be >= default_lease_ttl");
  }
  if (put_timeout.count() <= 0) return InvalidParams("put_timeout must be > 0");
  if (client_ttl.count() <= 0) return InvalidParams("client_ttl must be > 0");
  if (max_key_length == 0) return InvalidParams("max_key_length must be > 0");
  if (max_object_size == 0) return InvalidParams("max_object_size must be > 0");
  // Written so that NaN fails every check.
  if (!(eviction_ratio > 0)) return InvalidParams("eviction_ratio must be > 0");
  if (!(eviction_ratio < eviction_high_watermark)) {
    return InvalidParams("eviction_ratio must be < eviction_high_watermark");
  }
  if (!(eviction_high_watermark <= 1)) {
    return InvalidParams("eviction_high_watermark must be <= 1");
  }
  return Status::Ok();
}

Result<std::unique_ptr<MasterCore>> MasterCore::Create(MasterCoreOptions options,
                                                       const Clock& clock) {
  MC_RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<MasterCore>(new MasterCore(std::move(options), clock));
}

MasterCore::MasterCore(MasterCoreOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      eviction_policy_(std::make_unique<LruEvictionPolicy>()) {}

// ---- Segments ----------------------------------------------------------------------------

Status MasterCore::Mount(const SegmentSpec& spec) {
  MC_ASSIGN_OR_RETURN(std::vector<std::string> dropped, pool_.Mount(spec));
  DropSegments(dropped);
  last_seen_[spec.node_id] = clock_.Now();  // A mount is a heartbeat.
  return Status::Ok();
}

Status MasterCore::Unmount(std::string_view name, const NodeId& node, Epoch epoch) {
  MC_RETURN_IF_ERROR(pool_.Unmount(name, node, epoch));
  DropSegments({std::string(name)});
  return Status::Ok();
}

size_t MasterCore::UnmountNode(const NodeId& node) {
  std::vector<std::string> dropped = pool_.UnmountNode(node);
  last_seen_.erase(node);
  DropSegments(dropped);
  return dropped.size();
}

void MasterCore::DropSegments(const std::vector<std::string>& segments) {
  if (segments.empty()) return;
  const std::set<std::string, std::less<>> gone(segments.begin(), segments.end());
  for (auto it = objects_.begin(); it != objects_.end();) {
    ObjectEntry& entry = it->second;
    if (entry.pending && DropVanished(entry.pending->replicas, gone) == 0) {
      // The writer's PutEnd/PutRevoke now finds nothing in flight (or no object).
      entry.pending.reset();
    }
    DropVanished(entry.replicas, gone);
    if (entry.visible ? entry.replicas.empty() : !entry.pending) {
      // Visible with no COMPLETE replica left, or invisible with no put left: gone.
      Erase(it++);
    } else {
      ++it;
    }
  }
  for (Deferred& d : deferred_) DropVanished(d.replicas, gone);
  std::erase_if(deferred_, [](const Deferred& d) { return d.replicas.empty(); });
}

// ---- Puts --------------------------------------------------------------------------------

Status MasterCore::ValidateKey(std::string_view key) const {
  if (key.empty()) return {StatusCode::kInvalidKey, "empty key"};
  if (key.size() > options_.max_key_length) {
    return {StatusCode::kInvalidKey, "key of " + std::to_string(key.size()) +
                                         " bytes exceeds max_key_length " +
                                         std::to_string(options_.max_key_length)};
  }
  return Status::Ok();
}

Status MasterCore::ValidatePut(std::string_view key, uint64_t size,
                               const ReplicateConfig& config) const {
  MC_RETURN_IF_ERROR(ValidateKey(key));
  if (size == 0) return InvalidParams("object size 0");
  if (size > options_.max_object_size) {
    return InvalidParams("object size " + std::to_string(size) + " exceeds max_object_size " +
                         std::to_string(options_.max_object_size));
  }
  if (config.replica_num < 1 || config.replica_num > kMaxReplicaNum) {
    return InvalidParams("replica_num " + std::to_string(config.replica_num) + " outside 1.." +
                         std::to_string(kMaxReplicaNum));
  }
  return Status::Ok();
}

Result<PendingPut> MasterCore::Allocate(uint64_t size, const ReplicateConfig& config) {
  PendingPut pending;
  pending.size = size;
  pending.replica_num = config.replica_num;
  pending.started = clock_.Now();
  pending.pin.hard = config.with_hard_pin;
  if (config.soft_pin_ttl) pending.pin.soft_until = pending.started + *config.soft_pin_ttl;
  std::set<NodeId> used_nodes;
  Status last_error;
  for (int i = 0; i < config.replica_num; ++i) {
    Result<Allocation> allocation =
        pool_.AllocateOnMedium(config.medium, size, config.preferred_segments, used_nodes);
    if (!allocation.ok()) {
      last_error = allocation.status();
      break;  // No further distinct node has room: best effort with what we have.
    }
    std::optional<SegmentInfo> info = pool_.Find(allocation->segment);
    NodeId node = info ? info->node_id : NodeId();
    used_nodes.insert(node);
    pending.replicas.push_back(
        Replica{config.medium, std::move(node), ReplicaStatus::kProcessing, *allocation});
  }
  if (pending.replicas.empty()) {
    if (last_error.code() == StatusCode::kNoAvailableHandle) return last_error;
    return Status(StatusCode::kNoAvailableHandle, "no replica fits: " + last_error.ToString());
  }
  pending.version = next_version_++;
  return pending;
}

PutStartResult MasterCore::ResultOf(const PendingPut& pending) {
  PutStartResult result;
  result.replicas = pending.replicas;
  result.replicas_short = pending.replica_num - static_cast<int>(pending.replicas.size());
  result.version = pending.version;
  return result;
}

Result<PutStartResult> MasterCore::PutStart(std::string_view key, uint64_t size,
                                            const ReplicateConfig& config) {
  MC_RETURN_IF_ERROR(ValidatePut(key, size, config));
  if (objects_.find(key) != objects_.end()) {
    return Status(StatusCode::kObjectAlreadyExists, "object '" + std::string(key) + "' exists");
  }
  MC_ASSIGN_OR_RETURN(PendingPut pending, AllocateOrEvict(size, config, key));
  PutStartResult result = ResultOf(pending);
  ObjectEntry entry;
  entry.replica_num = config.replica_num;
  entry.pending = std::move(pending);
  objects_.emplace(std::string(key), std::move(entry));
  return result;
}

Result<PutStartResult> MasterCore::UpsertStart(std::string_view key, uint64_t size,
                                               const ReplicateConfig& config) {
  MC_RETURN_IF_ERROR(ValidatePut(key, size, config));
  auto it = objects_.find(key);
  if (it == objects_.end()) return PutStart(key, size, config);
  if (it->second.pending) {
    return Status(StatusCode::kReplicaIsNotReady,
                  "a put of '" + std::string(key) + "' is still in flight");
  }
  MC_ASSIGN_OR_RETURN(PendingPut pending, AllocateOrEvict(size, config, key));
  PutStartResult result = ResultOf(pending);
  it->second.pending = std::move(pending);
  return result;
}

Status MasterCore::PutEnd(std::string_view key, uint32_t checksum) {
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return {StatusCode::kObjectNotFound, "no put of '" + std::string(key) + "' in flight"};
  }
  ObjectEntry& entry = it->second;
  if (!entry.pending) {
    return InvalidParams("object '" + std::string(key) + "' is already complete");
  }
  PendingPut pending = std::move(*entry.pending);
  entry.pending.reset();
  if (entry.visible && !entry.replicas.empty()) {
    if (LeaseLive(entry)) {
      deferred_.push_back(Deferred{entry.lease_until, std::move(entry.replicas)});
    } else {
      FreeReplicas(entry.replicas);
    }
  }
  for (Replica& r : pending.replicas) r.status = ReplicaStatus::kComplete;
  entry.replicas = std::move(pending.replicas);
  entry.visible = true;
  entry.size = pending.size;
  entry.version = pending.version;
  entry.checksum = checksum;
  entry.replica_num = pending.replica_num;
  entry.pin = pending.pin;
  // The old version's readers are protected by the deferred free; the new one starts unleased.
  entry.lease_until = TimePoint{};
  entry.lease_streak_start = TimePoint{};
  entry.last_access = clock_.Now();
  return Status::Ok();
}

Status MasterCore::PutRevoke(std::string_view key) {
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return {StatusCode::kObjectNotFound, "no put of '" + std::string(key) + "' in flight"};
  }
  ObjectEntry& entry = it->second;
  if (!entry.pending) {
    return InvalidParams("object '" + std::string(key) + "' is complete; nothing to revoke");
  }
  FreeReplicas(entry.pending->replicas);
  entry.pending.reset();
  if (!entry.visible) objects_.erase(it);
  return Status::Ok();
}

// ---- Reads -------------------------------------------------------------------------------

Result<ObjectView> MasterCore::GetReplicaList(std::string_view key) {
  MC_RETURN_IF_ERROR(ValidateKey(key));
  auto it = objects_.find(key);
  if (it == objects_.end() || !it->second.visible) {
    return Status(StatusCode::kObjectNotFound, "object '" + std::string(key) + "' not found");
  }
  ObjectEntry& entry = it->second;
  const TimePoint now = clock_.Now();
  if (now >= entry.lease_until) entry.lease_streak_start = now;  // A new streak begins.
  entry.lease_until =
      std::min(now + options_.default_lease_ttl, entry.lease_streak_start + options_.max_lease_ttl);
  entry.last_access = now;
  return ObjectView{entry.size, entry.version, entry.checksum, entry.replicas, entry.lease_until};
}

Result<bool> MasterCore::ExistKey(std::string_view key) const {
  MC_RETURN_IF_ERROR(ValidateKey(key));
  auto it = objects_.find(key);
  return it != objects_.end() && it->second.visible;
}

Result<uint64_t> MasterCore::GetSize(std::string_view key) const {
  MC_RETURN_IF_ERROR(ValidateKey(key));
  auto it = objects_.find(key);
  if (it == objects_.end() || !it->second.visible) {
    return Status(StatusCode::kObjectNotFound, "object '" + std::string(key) + "' not found");
  }
  return it->second.size;
}

// ---- Removal -----------------------------------------------------------------------------

Status MasterCore::RemovableStatus(std::string_view key, const ObjectEntry& entry,
                                   RemoveMode mode) const {
  if (entry.pending) {
    return {StatusCode::kReplicaIsNotReady,
            "a put of '" + std::string(key) + "' is in flight; revoke or end it first"};
  }
  if (mode == RemoveMode::kNormal && LeaseLive(entry)) {
    return {StatusCode::kObjectHasLease, "object '" + std::string(key) + "' has a live lease"};
  }
  return Status::Ok();
}

Status MasterCore::Remove(std::string_view key, RemoveMode mode) {
  MC_RETURN_IF_ERROR(ValidateKey(key));
  auto it = objects_.find(key);
  if (it == objects_.end() || !it->second.visible) {
    return {StatusCode::kObjectNotFound, "object '" + std::string(key) + "' not found"};
  }
  MC_RETURN_IF_ERROR(RemovableStatus(key, it->second, mode));
  Erase(it);
  return Status::Ok();
}

Result<size_t> MasterCore::RemoveByRegex(std::string_view pattern, RemoveMode mode) {
  // std::regex reports a bad pattern only by throwing; keep the exception inside this call.
  std::regex re;
  try {
    re = std::regex(pattern.begin(), pattern.end(), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return InvalidParams("invalid regex '" + std::string(pattern) + "': " + e.what());
  }
  size_t removed = 0;
  for (auto it = objects_.begin(); it != objects_.end();) {
    if (it->second.visible && RemovableStatus(it->first, it->second, mode).ok() &&
        std::regex_search(it->first, re)) {
      Erase(it++);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

size_t MasterCore::RemoveAll(RemoveMode mode) {
  size_t removed = 0;
  for (auto it = objects_.begin(); it != objects_.end();) {
    if (it->second.visible && RemovableStatus(it->first, it->second, mode).ok()) {
      Erase(it++);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

void MasterCore::Erase(ObjectMap::iterator it) {
  FreeReplicas(it->second.replicas);
  if (it->second.pending) FreeReplicas(it->second.pending->replicas);
  objects_.erase(it);
}

void MasterCore::FreeReplicas(const std::vector<Replica>& replicas) {
  // Every replica's allocation is held in the pool (invariant), so Free cannot fail; a
  // failure would be a bug in this class, and the bytes would merely stay allocated.
  for (const Replica& r : replicas) pool_.Free(r.allocation).IgnoreError();
}

// ---- Time --------------------------------------------------------------------------------

void MasterCore::Tick() {
  ExpireDeadNodes();
  const TimePoint now = clock_.Now();
  for (auto it = objects_.begin(); it != objects_.end();) {
    ObjectEntry& entry = it->second;
    if (entry.pending && now - entry.pending->started >= options_.put_timeout) {
      FreeReplicas(entry.pending->replicas);
      entry.pending.reset();
      if (!entry.visible) {
        it = objects_.erase(it);
        continue;
      }
    }
    ++it;
  }
  std::erase_if(deferred_, [&](const Deferred& d) {
    if (now < d.until) return false;
    FreeReplicas(d.replicas);
    return true;
  });
  for (Medium medium : {Medium::kDram, Medium::kVram, Medium::kSsd}) {
    const SegmentPool::MediumUsage usage = pool_.Usage(medium);
    if (usage.capacity == 0) continue;
    if (static_cast<double>(usage.used) >
        options_.eviction_high_watermark * static_cast<double>(usage.capacity)) {
      EvictOn(medium, LowWatermarkBytes(usage.capacity), {});
    }
  }
}

// ---- Queries -----------------------------------------------------------------------------

size_t MasterCore::ObjectsBelowReplicaTarget() const {
  return static_cast<size_t>(std::count_if(objects_.begin(), objects_.end(), [](const auto& kv) {
    const ObjectEntry& e = kv.second;
    return e.visible && static_cast<int>(e.replicas.size()) < e.replica_num;
  }));
}

}  // namespace mooncake
