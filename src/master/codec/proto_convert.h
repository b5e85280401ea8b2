#pragma once

// The master's RPC codec: conversions between the store's shared types (src/store_types/,
// include/mooncake/store/types.h) and the protobuf messages of proto/master.proto. Used by the
// master's service (src/master/service) and its client (src/master/client); no gRPC types here,
// only protobuf messages, and no master-core types, so the client links neither.

#include <optional>
#include <span>
#include <string_view>

#include "mooncake/common/status.h"
#include "mooncake/proto/master.pb.h"
#include "mooncake/store/types.h"
#include "store_types/cluster_info.h"
#include "store_types/manifest.h"
#include "store_types/node_tasks.h"
#include "store_types/replica_location.h"
#include "store_types/segment.h"

namespace mooncake::master {

namespace pb = ::mooncake::master::v1;

void ToProto(const Status& status, pb::Status* out);
// A proto Status back to a Status; an unknown code number is kept as is (StatusCodeName
// prints it as UNKNOWN(n)).
Status FromProto(const pb::Status& status);

pb::Medium ToProto(Medium medium);
// nullopt for a value outside the enum (a newer peer's medium).
std::optional<Medium> FromProto(pb::Medium medium);

void ToProto(const SegmentSpec& spec, pb::SegmentSpec* out);
// kInvalidParams naming the field when the medium is unknown.
Result<SegmentSpec> FromProto(const pb::SegmentSpec& spec);

// One replica: its medium, node, whether it is COMPLETE, and its bytes in order.
void ToProto(Medium medium, std::string_view node, bool complete,
             std::span<const Allocation> slices, pb::Replica* out);
// An unknown medium (a newer master's) reads as DRAM.
ReplicaLocation FromProto(const pb::Replica& replica);

void ToProto(const ManifestEntry& entry, pb::ManifestEntry* out);
ManifestEntry FromProto(const pb::ManifestEntry& entry);

// A copy task's `timeout` travels as timeout_ms (negative durations as 0); destination_node
// does not travel (the task goes to that node).
void ToProto(const CopyTask& task, pb::CopyTask* out);
CopyTask FromProto(const pb::CopyTask& task);
void ToProto(const UploadTask& task, pb::UploadTask* out);
UploadTask FromProto(const pb::UploadTask& task);

void ToProto(const ReplicateConfig& config, pb::ReplicateConfig* out);
// kInvalidParams for an unknown medium or a negative replica_num; replica_num 0 means 1.
Result<ReplicateConfig> FromProto(const pb::ReplicateConfig& config);

// Segments travel with name, node, epoch, medium, capacity, used and draining only. An unknown
// segment (or corrupt-replica count) medium reads as DRAM.
void ToProto(const ClusterInfo& info, pb::GetClusterInfoResponse* out);
ClusterInfo FromProto(const pb::GetClusterInfoResponse& info);

}  // namespace mooncake::master
