#include "master/codec/proto_convert.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

namespace mooncake::master {

void ToProto(const Status& status, pb::Status* out) {
  out->set_code(status.raw_code());
  if (!status.ok()) out->set_message(status.message());
}

Status FromProto(const pb::Status& status) {
  if (status.code() == 0) return Status::Ok();
  return Status(static_cast<StatusCode>(status.code()), status.message());
}

pb::Medium ToProto(Medium medium) {
  switch (medium) {
    case Medium::kDram:
      return pb::MEDIUM_DRAM;
    case Medium::kVram:
      return pb::MEDIUM_VRAM;
    case Medium::kSsd:
      return pb::MEDIUM_SSD;
  }
  return pb::MEDIUM_DRAM;
}

std::optional<Medium> FromProto(pb::Medium medium) {
  switch (medium) {
    case pb::MEDIUM_DRAM:
      return Medium::kDram;
    case pb::MEDIUM_VRAM:
      return Medium::kVram;
    case pb::MEDIUM_SSD:
      return Medium::kSsd;
    default:
      return std::nullopt;
  }
}

void ToProto(const SegmentSpec& spec, pb::SegmentSpec* out) {
  out->set_name(spec.name);
  out->set_node_id(spec.node_id);
  out->set_epoch(spec.epoch);
  out->set_medium(ToProto(spec.medium));
  out->set_base(spec.base);
  out->set_size(spec.size);
  out->set_track_manifest(spec.track_manifest);
}

Result<SegmentSpec> FromProto(const pb::SegmentSpec& spec) {
  const std::optional<Medium> medium = FromProto(spec.medium());
  if (!medium) {
    return Status(StatusCode::kInvalidParams, "segment '" + spec.name() + "': unknown medium " +
                                                  std::to_string(static_cast<int>(spec.medium())));
  }
  SegmentSpec out;
  out.name = spec.name();
  out.node_id = spec.node_id();
  out.epoch = spec.epoch();
  out.medium = *medium;
  out.base = spec.base();
  out.size = spec.size();
  out.track_manifest = spec.track_manifest();
  return out;
}

void ToProto(const ManifestEntry& entry, pb::ManifestEntry* out) {
  out->set_key(entry.key);
  out->set_address(entry.address);
  out->set_length(entry.length);
  out->set_size(entry.size);
  out->set_version(entry.version);
  out->set_checksum(entry.checksum);
  out->set_in_object_store(entry.in_object_store);
  if (entry.block_checksums != nullptr) {
    out->mutable_block_checksums()->Add(entry.block_checksums->begin(),
                                        entry.block_checksums->end());
  }
}

ManifestEntry FromProto(const pb::ManifestEntry& entry) {
  ManifestEntry out;
  out.key = entry.key();
  out.address = entry.address();
  out.length = entry.length();
  out.size = entry.size();
  out.version = entry.version();
  out.checksum = entry.checksum();
  out.in_object_store = entry.in_object_store();
  if (entry.block_checksums_size() > 0) {
    out.block_checksums = std::make_shared<const std::vector<uint32_t>>(
        entry.block_checksums().begin(), entry.block_checksums().end());
  }
  return out;
}

namespace {

void ToProto(const Allocation& slice, pb::Slice* out) {
  out->set_segment(slice.segment);
  out->set_address(slice.address);
  out->set_length(slice.length);
}

Allocation FromProto(const pb::Slice& slice) {
  return Allocation{slice.segment(), slice.address(), slice.length()};
}

// A task's timeout_ms, bounded so the conversion cannot overflow: a task never lives for more
// than a day.
std::chrono::milliseconds TaskTimeout(uint64_t timeout_ms) {
  return std::chrono::milliseconds(std::min<uint64_t>(timeout_ms, uint64_t{24} * 3600 * 1000));
}

}  // namespace

void ToProto(Medium medium, std::string_view node, bool complete,
             std::span<const Allocation> slices, pb::Replica* out) {
  out->set_medium(ToProto(medium));
  out->set_node_id(std::string(node));
  out->set_status(complete ? pb::REPLICA_COMPLETE : pb::REPLICA_PROCESSING);
  for (const Allocation& slice : slices) ToProto(slice, out->add_slices());
}

ReplicaLocation FromProto(const pb::Replica& replica) {
  ReplicaLocation out;
  out.medium = FromProto(replica.medium()).value_or(Medium::kDram);
  out.node_id = replica.node_id();
  out.complete = replica.status() == pb::REPLICA_COMPLETE;
  out.slices.reserve(replica.slices_size());
  for (const pb::Slice& slice : replica.slices()) out.slices.push_back(FromProto(slice));
  return out;
}

namespace {

// The fields copy and upload tasks share (the object, its source replica, the deadline); the
// messages name them alike.
template <typename Task, typename Message>
void TaskToProto(const Task& task, Message* out) {
  out->set_task_id(task.task_id);
  out->set_key(task.key);
  out->set_version(task.version);
  out->set_size(task.size);
  out->set_checksum(task.checksum);
  ToProto(task.source, out->mutable_source());
  out->set_timeout_ms(static_cast<uint64_t>(std::max<int64_t>(task.timeout.count(), 0)));
}

template <typename Message, typename Task>
void TaskFromProto(const Message& task, Task* out) {
  out->task_id = task.task_id();
  out->key = task.key();
  out->version = task.version();
  out->size = task.size();
  out->checksum = task.checksum();
  out->source = FromProto(task.source());
  out->timeout = TaskTimeout(task.timeout_ms());
}

}  // namespace

void ToProto(const CopyTask& task, pb::CopyTask* out) {
  TaskToProto(task, out);
  ToProto(task.destination, out->mutable_destination());
}

CopyTask FromProto(const pb::CopyTask& task) {
  CopyTask out;
  TaskFromProto(task, &out);
  out.destination = FromProto(task.destination());
  return out;
}

void ToProto(const UploadTask& task, pb::UploadTask* out) {
  TaskToProto(task, out);
  out->set_check_first(task.check_first);
  out->set_remove_only(task.remove_only);
}

UploadTask FromProto(const pb::UploadTask& task) {
  UploadTask out;
  TaskFromProto(task, &out);
  out.check_first = task.check_first();
  out.remove_only = task.remove_only();
  return out;
}

void ToProto(const ReplicateConfig& config, pb::ReplicateConfig* out) {
  out->set_replica_num(config.replica_num);
  for (const std::string& segment : config.preferred_segments) {
    out->add_preferred_segments(segment);
  }
  out->set_medium(ToProto(config.medium));
  out->set_with_hard_pin(config.with_hard_pin);
  if (config.soft_pin_ttl) out->set_soft_pin_ttl_ms(config.soft_pin_ttl->count());
  out->set_from_object_store(config.from_object_store);
}

Result<ReplicateConfig> FromProto(const pb::ReplicateConfig& config) {
  const std::optional<Medium> medium = FromProto(config.medium());
  if (!medium) {
    return Status(
        StatusCode::kInvalidParams,
        "replicate config: unknown medium " + std::to_string(static_cast<int>(config.medium())));
  }
  if (config.replica_num() < 0) {
    return Status(
        StatusCode::kInvalidParams,
        "replicate config: replica_num " + std::to_string(config.replica_num()) + " is negative");
  }
  ReplicateConfig out;
  out.replica_num = config.replica_num() == 0 ? 1 : config.replica_num();
  out.preferred_segments.assign(config.preferred_segments().begin(),
                                config.preferred_segments().end());
  out.medium = *medium;
  out.with_hard_pin = config.with_hard_pin();
  if (config.soft_pin_ttl_ms() > 0) {
    out.soft_pin_ttl = std::chrono::milliseconds(config.soft_pin_ttl_ms());
  }
  out.from_object_store = config.from_object_store();
  return out;
}

void ToProto(const ClusterInfo& info, pb::GetClusterInfoResponse* out) {
  for (const SegmentInfo& segment : info.segments) {
    pb::SegmentInfo* s = out->add_segments();
    s->set_name(segment.name);
    s->set_node_id(segment.node_id);
    s->set_epoch(segment.epoch);
    s->set_medium(ToProto(segment.medium));
    s->set_capacity(segment.capacity);
    s->set_used(segment.used);
    s->set_draining(segment.draining);
  }
  out->set_objects(info.objects);
  out->set_objects_below_replica_target(info.objects_below_replica_target);
  out->set_lookups_hit(info.lookups_hit);
  out->set_lookups_miss(info.lookups_miss);
  out->set_manifest_backlog(info.manifest_backlog);
  out->set_repairs_in_flight(info.repairs_in_flight);
  out->set_repairs_scheduled(info.repairs.scheduled);
  out->set_repairs_completed(info.repairs.completed);
  out->set_repairs_failed(info.repairs.failed);
  out->set_repairs_timed_out(info.repairs.timed_out);
  out->set_repairs_cancelled(info.repairs.cancelled);
  const TierStats& tier = info.tier;
  out->set_ssd_puts(tier.ssd_puts);
  out->set_demotions_scheduled(tier.demotions_scheduled);
  out->set_demotions_completed(tier.demotions_completed);
  out->set_demotions_failed(tier.demotions_failed);
  out->set_ssd_hits(tier.ssd_hits);
  out->set_promotions_scheduled(tier.promotions_scheduled);
  out->set_promotions_completed(tier.promotions_completed);
  out->set_promotions_failed(tier.promotions_failed);
  out->set_dram_hits(tier.dram_hits);
  out->set_object_store_policy(info.object_store_policy);
  out->set_object_read_throughs(tier.object_read_throughs);
  out->set_object_uploads(tier.object_uploads);
  out->set_object_upload_failures(tier.object_upload_failures);
  out->set_upload_backlog_objects(tier.upload_backlog_objects);
  out->set_upload_backlog_bytes(tier.upload_backlog_bytes);
  out->set_uploads_in_flight(tier.uploads_in_flight);
  const IntegrityStats& integrity = info.integrity;
  out->set_corrupt_reports(integrity.corrupt_reports);
  out->set_corrupt_replicas_dropped(integrity.corrupt_replicas_dropped);
  out->set_objects_lost_to_corruption(integrity.objects_lost_to_corruption);
  for (const CorruptReplicaCounts& counts : integrity.per_node) {
    pb::CorruptReplicaCounts* c = out->add_corrupt_replicas();
    c->set_node_id(counts.node);
    c->set_medium(ToProto(counts.medium));
    c->set_detected(counts.detected);
    c->set_dropped(counts.dropped);
  }
}

ClusterInfo FromProto(const pb::GetClusterInfoResponse& info) {
  ClusterInfo out;
  for (const pb::SegmentInfo& s : info.segments()) {
    SegmentInfo segment;
    segment.name = s.name();
    segment.node_id = s.node_id();
    segment.epoch = s.epoch();
    segment.medium = FromProto(s.medium()).value_or(Medium::kDram);
    segment.capacity = s.capacity();
    segment.used = s.used();
    segment.draining = s.draining();
    out.segments.push_back(std::move(segment));
  }
  out.objects = info.objects();
  out.objects_below_replica_target = info.objects_below_replica_target();
  out.lookups_hit = info.lookups_hit();
  out.lookups_miss = info.lookups_miss();
  out.manifest_backlog = info.manifest_backlog();
  out.repairs_in_flight = info.repairs_in_flight();
  out.repairs.scheduled = info.repairs_scheduled();
  out.repairs.completed = info.repairs_completed();
  out.repairs.failed = info.repairs_failed();
  out.repairs.timed_out = info.repairs_timed_out();
  out.repairs.cancelled = info.repairs_cancelled();
  TierStats& tier = out.tier;
  tier.ssd_puts = info.ssd_puts();
  tier.demotions_scheduled = info.demotions_scheduled();
  tier.demotions_completed = info.demotions_completed();
  tier.demotions_failed = info.demotions_failed();
  tier.ssd_hits = info.ssd_hits();
  tier.promotions_scheduled = info.promotions_scheduled();
  tier.promotions_completed = info.promotions_completed();
  tier.promotions_failed = info.promotions_failed();
  tier.dram_hits = info.dram_hits();
  tier.object_read_throughs = info.object_read_throughs();
  tier.object_uploads = info.object_uploads();
  tier.object_upload_failures = info.object_upload_failures();
  tier.upload_backlog_objects = info.upload_backlog_objects();
  tier.upload_backlog_bytes = info.upload_backlog_bytes();
  tier.uploads_in_flight = info.uploads_in_flight();
  out.object_store_policy = info.object_store_policy();
  IntegrityStats& integrity = out.integrity;
  integrity.corrupt_reports = info.corrupt_reports();
  integrity.corrupt_replicas_dropped = info.corrupt_replicas_dropped();
  integrity.objects_lost_to_corruption = info.objects_lost_to_corruption();
  for (const pb::CorruptReplicaCounts& c : info.corrupt_replicas()) {
    // At() keeps them sorted (and merges an unknown medium's into DRAM's).
    CorruptReplicaCounts& counts =
        integrity.At(c.node_id(), FromProto(c.medium()).value_or(Medium::kDram));
    counts.detected += c.detected();
    counts.dropped += c.dropped();
  }
  return out;
}

}  // namespace mooncake::master
