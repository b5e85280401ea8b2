#include "master/core/master_core.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <utility>

#include "master/core/dram_first_placement.h"
#include "master/core/lru_eviction_policy.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::master {

Status MasterCoreOptions::Validate() const {
  if (default_lease_ttl.count() <= 0) return InvalidParams("default_lease_ttl must be > 0");
  if (max_lease_ttl < default_lease_ttl) {
    return InvalidParams("max_lease_ttl must be >= default_lease_ttl");
  }
  if (put_timeout.count() <= 0) return InvalidParams("put_timeout must be > 0");
  if (client_ttl.count() <= 0) return InvalidParams("client_ttl must be > 0");
  if (max_key_length == 0) return InvalidParams("max_key_length must be > 0");
  if (max_key_length > std::numeric_limits<uint32_t>::max()) {
    return InvalidParams("max_key_length must be < 2^32");
  }
  if (expected_objects > (size_t{1} << 32)) {
    return InvalidParams("expected_objects must be <= 2^32");
  }
  if (max_object_size == 0) return InvalidParams("max_object_size must be > 0");
  if (first_version == 0) return InvalidParams("first_version must be > 0");
  if (repairs_per_tick == 0) return InvalidParams("repairs_per_tick must be > 0");
  if (repair_timeout.count() <= 0) return InvalidParams("repair_timeout must be > 0");
  if (repair_retry_delay.count() < 0) return InvalidParams("repair_retry_delay must be >= 0");
  if (promote_after_hits > 255) return InvalidParams("promote_after_hits must be <= 255");
  if (promote_hit_window.count() < 0) return InvalidParams("promote_hit_window must be >= 0");
  if (max_uploads_per_node == 0) return InvalidParams("max_uploads_per_node must be > 0");
  if (upload_timeout.count() <= 0) return InvalidParams("upload_timeout must be > 0");
  if (upload_retry_delay.count() <= 0) return InvalidParams("upload_retry_delay must be > 0");
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
                                                       const Clock& clock,
                                                       MasterCorePolicies policies) {
  MC_RETURN_IF_ERROR(options.Validate());
  if (policies.eviction == nullptr) policies.eviction = std::make_unique<LruEvictionPolicy>();
  if (policies.placement == nullptr) policies.placement = std::make_unique<DramFirstPlacement>();
  return std::unique_ptr<MasterCore>(
      new MasterCore(std::move(options), clock, std::move(policies)));
}

MasterCore::MasterCore(MasterCoreOptions options, const Clock& clock, MasterCorePolicies policies)
    : options_(std::move(options)),
      clock_(clock),
      // Seeded like versions (the wall clock in ns, from the service): a node reporting a
      // task of the previous master can never name one of this master's tasks.
      task_ids_(options_.first_version),
      next_version_(options_.first_version),
      eviction_policy_(std::move(policies.eviction)),
      placement_(std::move(policies.placement)),
      index_({options_, clock_, pool_, segments_, quarantine_, *this}),
      write_back_({options_, segments_, index_.table(), task_ids_, tier_stats_}),
      repair_scheduler_({options_, pool_, segments_, index_.table(), index_.below_target(),
                         *placement_, task_ids_, repair_stats_, tier_stats_, index_}) {
  index_.table().Reserve(options_.expected_objects);
}

// ---- Segments ----------------------------------------------------------------------------

Status MasterCore::Mount(const SegmentSpec& spec) {
  MC_ASSIGN_OR_RETURN(std::vector<std::string> dropped, pool_.Mount(spec));
  // Dropped first: the new mount may reuse the name of a segment of the node's old epoch.
  index_.DropSegments(dropped);
  segments_.Add(spec);
  liveness_.Seen(spec.node_id, clock_.Now());  // A mount is a heartbeat.
  return Status::Ok();
}

Status MasterCore::Unmount(std::string_view name, const NodeId& node, Epoch epoch) {
  MC_RETURN_IF_ERROR(pool_.Unmount(name, node, epoch));
  index_.DropSegments({std::string(name)});
  return Status::Ok();
}

size_t MasterCore::UnmountNode(const NodeId& node) {
  std::vector<std::string> dropped = pool_.UnmountNode(node);
  liveness_.Forget(node);
  index_.DropSegments(dropped);
  repair_scheduler_.ForgetNode(node);  // its tasks were dropped with its segments
  return dropped.size();
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

Result<std::unique_ptr<PendingPut>> MasterCore::Allocate(uint64_t size,
                                                         const ReplicateConfig& config) {
  auto pending = std::make_unique<PendingPut>();
  pending->size = size;
  pending->replica_num = config.replica_num;
  pending->started = clock_.Now();
  pending->deadline = pending->started + options_.put_timeout;
  pending->pin.hard = config.with_hard_pin;
  pending->from_object_store = config.from_object_store;
  if (config.soft_pin_ttl) pending->pin.soft_until = pending->started + *config.soft_pin_ttl;
  std::set<NodeId> used_nodes;
  Status last_error;
  for (int i = 0; i < config.replica_num; ++i) {
    // An empty object still takes one byte: its replica is a real, distinct allocation. On
    // SSD the allocation also holds the object's header block.
    const uint64_t bytes =
        config.medium == Medium::kSsd ? SsdAllocationBytes(size) : std::max<uint64_t>(size, 1);
    Result<Allocation> allocation =
        pool_.AllocateOnMedium(config.medium, bytes, config.preferred_segments, used_nodes);
    if (!allocation.ok()) {
      last_error = allocation.status();
      break;  // No further distinct node has room: best effort with what we have.
    }
    const std::optional<SegmentId> id = segments_.Find(allocation->segment);
    if (!id) {
      // The index mirrors the pool's mounts, so this is a bug here; give the bytes back.
      pool_.Free(*allocation).IgnoreError();
      last_error = InternalError("segment '" + allocation->segment + "' is not indexed");
      break;
    }
    used_nodes.insert(segments_.Get(*id).node);
    pending->replicas.push_back(ReplicaRecord{allocation->address, allocation->length, *id, 0});
  }
  if (pending->replicas.empty()) {
    if (last_error.code() == StatusCode::kNoAvailableHandle) return last_error;
    return Status(StatusCode::kNoAvailableHandle, "no replica fits: " + last_error.ToString());
  }
  pending->version = next_version_++;
  return pending;
}

ReplicaView MasterCore::ViewOf(const ReplicaRecord& replica, uint64_t size,
                               ReplicaStatus status) const {
  const SegmentIndex::Segment& segment = segments_.Get(replica.segment);
  return ReplicaView{segment.medium, segment.node, status, segments_.DataRange(replica, size)};
}

PutStartResult MasterCore::ResultOf(const PendingPut& pending) const {
  PutStartResult result;
  result.replicas.reserve(pending.replicas.size());
  for (const ReplicaRecord& r : pending.replicas) {
    result.replicas.push_back(ViewOf(r, pending.size, ReplicaStatus::kProcessing));
  }
  result.replicas_short = pending.replica_num - static_cast<int>(pending.replicas.size());
  result.version = pending.version;
  return result;
}

Result<PutStartResult> MasterCore::PutStart(std::string_view key, uint64_t size,
                                            const ReplicateConfig& config) {
  if (config.from_object_store) ++tier_stats_.object_read_throughs;
  MC_RETURN_IF_ERROR(ValidatePut(key, size, config));
  index_.ReclaimExpiredPuts(clock_.Now());  // an expired put of this key no longer holds it
  if (index_.table().Find(key) != nullptr) {
    return Status(StatusCode::kObjectAlreadyExists, "object '" + std::string(key) + "' exists");
  }
  MC_ASSIGN_OR_RETURN(std::unique_ptr<PendingPut> pending, AllocateOrEvict(size, config, key));
  PutStartResult result = ResultOf(*pending);
  index_.CreateWithPending(key, std::move(pending));
  return result;
}

Result<PutStartResult> MasterCore::UpsertStart(std::string_view key, uint64_t size,
                                               const ReplicateConfig& config) {
  MC_RETURN_IF_ERROR(ValidatePut(key, size, config));
  index_.ReclaimExpiredPuts(clock_.Now());
  ObjectRecord* record = index_.table().Find(key);
  if (record == nullptr) return PutStart(key, size, config);
  if (config.from_object_store) ++tier_stats_.object_read_throughs;
  if (record->pending) {
    return Status(StatusCode::kReplicaIsNotReady,
                  "a put of '" + std::string(key) + "' is still in flight");
  }
  // `record` survives: eviction never takes the protected key, and it has no put to reclaim.
  MC_ASSIGN_OR_RETURN(std::unique_ptr<PendingPut> pending, AllocateOrEvict(size, config, key));
  // The copy of the old version would land after the new one: moot.
  repair_scheduler_.Cancel(record);
  PutStartResult result = ResultOf(*pending);
  index_.StartPending(record, std::move(pending));
  return result;
}

namespace {

Status TimedOut(std::string_view key, std::chrono::milliseconds put_timeout) {
  return {StatusCode::kObjectNotFound,
          "put of '" + std::string(key) + "' timed out: not ended within put_timeout (" +
              std::to_string(put_timeout.count()) + " ms) of its start; its space was reclaimed"};
}

}  // namespace

Status MasterCore::PutEnd(std::string_view key, uint32_t checksum, BlockChecksums blocks) {
  ObjectRecord* record = index_.table().Find(key);
  if (record == nullptr) {
    return {StatusCode::kObjectNotFound, "no put of '" + std::string(key) + "' in flight"};
  }
  if (!record->pending) {
    return InvalidParams("object '" + std::string(key) + "' is already complete");
  }
  if (index_.ReclaimIfExpired(record)) return TimedOut(key, options_.put_timeout);
  // A table that does not describe the bytes would fail every ranged read of a good replica
  // and get it dropped: refused, and the put stays open for a correct PutEnd or a revoke.
  if (Status table = ValidateBlockChecksums(record->pending->size, checksum, blocks); !table.ok()) {
    return table.WithContext("PutEnd of '" + std::string(key) + "'");
  }
  const bool was_below = index_.BelowTarget(*record);
  write_back_.LeaveBacklog(record);  // the old version's share, if any
  // The old version goes while the new one is still reachable through the record (the
  // SegmentIndex may move the new replicas' entries while unlinking the old ones).
  if (record->visible) index_.RetireReplicas(record);
  std::unique_ptr<PendingPut> pending = index_.TakePendingForSeal(record);
  // Same replicas, same member entries: only their list changes.
  record->SetReplicas(pending->replicas);
  record->visible = true;
  record->size = pending->size;
  record->version = pending->version;
  record->checksum = checksum;
  index_.table().SetBlockChecksums(record, std::move(blocks));
  record->replica_num = static_cast<uint8_t>(pending->replica_num);
  record->hard_pin = pending->pin.hard;
  record->soft_until = pending->pin.soft_until;
  // The old version's readers are protected by the deferred free; the new one starts unleased.
  record->lease_until = TimePoint{};
  record->lease_streak_start = TimePoint{};
  record->last_access = clock_.Now();
  repair_scheduler_.ResetHits(record);  // a new version: its hits start over
  index_.UpdateBelowTarget(was_below, record);
  // Before journaling: the nodes' manifests learn whether it is in the object store.
  write_back_.OnNewVersion(record, pending->from_object_store ? WriteBackScheduler::Origin::kPutBack
                                                              : WriteBackScheduler::Origin::kPut);
  index_.JournalReplicas(*record);
  return Status::Ok();
}

Status MasterCore::PutRevoke(std::string_view key) {
  ObjectRecord* record = index_.table().Find(key);
  if (record == nullptr) {
    return {StatusCode::kObjectNotFound, "no put of '" + std::string(key) + "' in flight"};
  }
  if (!record->pending) {
    return InvalidParams("object '" + std::string(key) + "' is complete; nothing to revoke");
  }
  if (index_.ReclaimIfExpired(record)) return TimedOut(key, options_.put_timeout);
  index_.DropPending(record);
  return Status::Ok();
}

// ---- Reads -------------------------------------------------------------------------------

Result<ObjectView> MasterCore::GetReplicaList(std::string_view key) {
  MC_RETURN_IF_ERROR(ValidateKey(key));
  ObjectRecord* record = index_.table().Find(key);
  if (record == nullptr || !record->visible) {
    return Status(StatusCode::kObjectNotFound, "object '" + std::string(key) + "' not found");
  }
  const TimePoint now = clock_.Now();
  if (now >= record->lease_until) record->lease_streak_start = now;  // A new streak begins.
  record->lease_until = std::min(now + options_.default_lease_ttl,
                                 record->lease_streak_start + options_.max_lease_ttl);
  const TimePoint previous_access = record->last_access;
  record->last_access = now;
  ObjectView view{record->size, record->version,     record->checksum,
                  {},           record->lease_until, index_.table().BlockChecksumsOf(record)};
  view.replicas.reserve(record->replicas().size());
  bool only_ssd = true;
  bool in_dram = false;
  for (const ReplicaRecord& r : record->replicas()) {
    view.replicas.push_back(ViewOf(r, record->size, ReplicaStatus::kComplete));
    only_ssd &= view.replicas.back().medium == Medium::kSsd;
    in_dram |= view.replicas.back().medium == Medium::kDram;
  }
  // Per-tier hits: DRAM when a DRAM replica is listed (a promoted object too), SSD when only
  // SSD ones are (a VRAM-only object is neither); misses are the service's to count.
  if (in_dram) ++tier_stats_.dram_hits;
  if (only_ssd) {
    repair_scheduler_.CountSsdHit(record, now - previous_access);
  } else {
    // Memory before SSD (a promoted object): readers try the replicas in this order.
    std::stable_partition(view.replicas.begin(), view.replicas.end(),
                          [](const ReplicaView& r) { return r.medium != Medium::kSsd; });
  }
  return view;
}

Result<bool> MasterCore::ExistKey(std::string_view key) const {
  MC_RETURN_IF_ERROR(ValidateKey(key));
  const ObjectRecord* record = index_.table().Find(key);
  return record != nullptr && record->visible;
}

Result<uint64_t> MasterCore::GetSize(std::string_view key) const {
  MC_RETURN_IF_ERROR(ValidateKey(key));
  const ObjectRecord* record = index_.table().Find(key);
  if (record == nullptr || !record->visible) {
    return Status(StatusCode::kObjectNotFound, "object '" + std::string(key) + "' not found");
  }
  return record->size;
}

// ---- Removal -----------------------------------------------------------------------------

Status MasterCore::RemovableStatus(const ObjectRecord& record, RemoveMode mode) const {
  if (record.pending) {
    return {StatusCode::kReplicaIsNotReady,
            "a put of '" + std::string(record.key()) + "' is in flight; revoke or end it first"};
  }
  if (mode == RemoveMode::kNormal && index_.LeaseLive(record)) {
    return {StatusCode::kObjectHasLease,
            "object '" + std::string(record.key()) + "' has a live lease"};
  }
  return Status::Ok();
}

bool MasterCore::Removable(const ObjectRecord& record, RemoveMode mode) const {
  return record.visible && !record.pending &&
         (mode == RemoveMode::kForce || !index_.LeaseLive(record));
}

Status MasterCore::Remove(std::string_view key, RemoveMode mode) {
  MC_RETURN_IF_ERROR(ValidateKey(key));
  index_.ReclaimExpiredPuts(clock_.Now());
  ObjectRecord* record = index_.table().Find(key);
  if (record == nullptr || !record->visible) {
    return {StatusCode::kObjectNotFound, "object '" + std::string(key) + "' not found"};
  }
  MC_RETURN_IF_ERROR(RemovableStatus(*record, mode));
  index_.EraseObject(record);
  return Status::Ok();
}

// ---- Time --------------------------------------------------------------------------------

void MasterCore::Tick() {
  ExpireDeadNodes();
  const TimePoint now = clock_.Now();
  index_.ReclaimExpiredPuts(now);
  index_.FreeDueDeferred(now);
  // SSD first: DRAM eviction demotes its cold objects there when it has room.
  for (Medium medium : {Medium::kSsd, Medium::kVram, Medium::kDram}) {
    const SegmentPool::MediumUsage usage = pool_.Usage(medium);
    if (usage.capacity == 0) continue;
    if (static_cast<double>(usage.used) >
        options_.eviction_high_watermark * static_cast<double>(usage.capacity)) {
      EvictOn(medium, LowWatermarkBytes(usage.capacity), {}, EvictWay::kDemoteFirst);
    }
  }
  ScheduleRepairs(options_.repairs_per_tick);
  // After the repairs: a copy that restores durability comes before one that speeds reads.
  repair_scheduler_.SchedulePromotions(options_.repairs_per_tick, now);
  write_back_.ReclaimExpired(now);
  write_back_.Schedule(options_.repairs_per_tick, now);
}

// ---- Node tasks: write-back uploads --------------------------------------------------------

size_t MasterCore::ScheduleUploads(size_t max) { return write_back_.Schedule(max, clock_.Now()); }

std::vector<UploadTask> MasterCore::TakeUploadTasks(const NodeId& node, size_t max) {
  return write_back_.TakeTasks(node, max, clock_.Now());
}

Status MasterCore::CompleteUpload(uint64_t task_id, const NodeId& node, const Status& result) {
  return write_back_.Complete(task_id, node, result, clock_.Now());
}

}  // namespace mooncake::master
