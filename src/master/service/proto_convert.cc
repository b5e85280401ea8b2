#include "master/service/proto_convert.h"

#include <algorithm>
#include <chrono>

namespace mooncake {

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

void ToProto(const ReplicaView& replica, pb::Replica* out) {
  out->set_medium(ToProto(replica.medium));
  out->set_node_id(replica.node);
  out->set_status(replica.status == ReplicaStatus::kComplete ? pb::REPLICA_COMPLETE
                                                             : pb::REPLICA_PROCESSING);
  pb::Slice* slice = out->add_slices();
  slice->set_segment(replica.allocation.segment);
  slice->set_address(replica.allocation.address);
  slice->set_length(replica.allocation.length);
}

void ToProto(const ManifestEntry& entry, pb::ManifestEntry* out) {
  out->set_key(entry.key);
  out->set_address(entry.address);
  out->set_length(entry.length);
  out->set_size(entry.size);
  out->set_version(entry.version);
  out->set_checksum(entry.checksum);
  out->set_in_object_store(entry.in_object_store);
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

void ToProto(const CopyTask& task, pb::CopyTask* out) {
  out->set_task_id(task.task_id);
  out->set_key(task.key);
  out->set_version(task.version);
  out->set_size(task.size);
  out->set_checksum(task.checksum);
  ToProto(task.source, out->mutable_source());
  ToProto(task.destination, out->mutable_destination());
  out->set_timeout_ms(static_cast<uint64_t>(std::max<int64_t>(task.timeout.count(), 0)));
}

CopyTask FromProto(const pb::CopyTask& task) {
  CopyTask out;
  out.task_id = task.task_id();
  out.key = task.key();
  out.version = task.version();
  out.size = task.size();
  out.checksum = task.checksum();
  out.source = FromProto(task.source());
  out.destination = FromProto(task.destination());
  out.timeout = TaskTimeout(task.timeout_ms());
  return out;
}

void ToProto(const UploadTask& task, pb::UploadTask* out) {
  out->set_task_id(task.task_id);
  out->set_key(task.key);
  out->set_version(task.version);
  out->set_size(task.size);
  out->set_checksum(task.checksum);
  ToProto(task.source, out->mutable_source());
  out->set_check_first(task.check_first);
  out->set_remove_only(task.remove_only);
  out->set_timeout_ms(static_cast<uint64_t>(std::max<int64_t>(task.timeout.count(), 0)));
}

UploadTask FromProto(const pb::UploadTask& task) {
  UploadTask out;
  out.task_id = task.task_id();
  out.key = task.key();
  out.version = task.version();
  out.size = task.size();
  out.checksum = task.checksum();
  out.source = FromProto(task.source());
  out.check_first = task.check_first();
  out.remove_only = task.remove_only();
  out.timeout = TaskTimeout(task.timeout_ms());
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

}  // namespace mooncake
