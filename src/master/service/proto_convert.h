#pragma once

// Conversions between the master core's C++ types and the protobuf messages of
// proto/master.proto. Shared by the service (src/master/service) and the client
// (src/master/client); no gRPC types here, only protobuf messages.

#include <optional>
#include <string>

#include "master/core/master_core.h"
#include "master/core/master_types.h"
#include "mooncake/common/status.h"
#include "mooncake/proto/master.pb.h"

namespace mooncake {

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

void ToProto(const ReplicaView& replica, pb::Replica* out);

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

}  // namespace mooncake
