#pragma once

// The master's RPCs as an enum, for metrics and logs.

#include <cstddef>

namespace mooncake::master {

enum class MasterRpc : int {
  kPing,
  kMountSegment,
  kUnmountSegment,
  kHeartbeat,
  kPutStart,
  kPutEnd,
  kPutRevoke,
  kGetReplicaList,
  kExistKey,
  kGetSize,
  kRemove,
  kRemoveByRegex,
  kRemoveAll,
  kGetClusterInfo,
  kListKeys,
  kDrain,
  kReportCorruptReplicas,
};

inline constexpr size_t kMasterRpcCount =
    static_cast<size_t>(MasterRpc::kReportCorruptReplicas) + 1;

// Snake-case name used as the `rpc` label, e.g. "get_replica_list".
const char* MasterRpcName(MasterRpc rpc);

// The method's name in proto/master.proto, e.g. "BatchGetReplicaList": what a call's
// credential signs (master/codec/rpc_credentials.h), as MasterClient names its calls.
const char* MasterRpcMethod(MasterRpc rpc);

}  // namespace mooncake::master
