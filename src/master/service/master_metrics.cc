#include "master/service/master_metrics.h"

namespace mooncake::master {

const char* MasterRpcName(MasterRpc rpc) {
  switch (rpc) {
    case MasterRpc::kPing:
      return "ping";
    case MasterRpc::kMountSegment:
      return "mount_segment";
    case MasterRpc::kUnmountSegment:
      return "unmount_segment";
    case MasterRpc::kHeartbeat:
      return "heartbeat";
    case MasterRpc::kPutStart:
      return "put_start";
    case MasterRpc::kPutEnd:
      return "put_end";
    case MasterRpc::kPutRevoke:
      return "put_revoke";
    case MasterRpc::kGetReplicaList:
      return "get_replica_list";
    case MasterRpc::kExistKey:
      return "exist_key";
    case MasterRpc::kGetSize:
      return "get_size";
    case MasterRpc::kRemove:
      return "remove";
    case MasterRpc::kRemoveByRegex:
      return "remove_by_regex";
    case MasterRpc::kRemoveAll:
      return "remove_all";
    case MasterRpc::kGetClusterInfo:
      return "get_cluster_info";
    case MasterRpc::kListKeys:
      return "list_keys";
    case MasterRpc::kDrain:
      return "drain";
    case MasterRpc::kReportCorruptReplicas:
      return "report_corrupt_replicas";
  }
  return "unknown";
}

const char* MasterRpcMethod(MasterRpc rpc) {
  switch (rpc) {
    case MasterRpc::kPing:
      return "Ping";
    case MasterRpc::kMountSegment:
      return "MountSegment";
    case MasterRpc::kUnmountSegment:
      return "UnmountSegment";
    case MasterRpc::kHeartbeat:
      return "Heartbeat";
    case MasterRpc::kPutStart:
      return "BatchPutStart";
    case MasterRpc::kPutEnd:
      return "BatchPutEnd";
    case MasterRpc::kPutRevoke:
      return "BatchPutRevoke";
    case MasterRpc::kGetReplicaList:
      return "BatchGetReplicaList";
    case MasterRpc::kExistKey:
      return "BatchExistKey";
    case MasterRpc::kGetSize:
      return "BatchGetSize";
    case MasterRpc::kRemove:
      return "BatchRemove";
    case MasterRpc::kRemoveByRegex:
      return "RemoveByRegex";
    case MasterRpc::kRemoveAll:
      return "RemoveAll";
    case MasterRpc::kGetClusterInfo:
      return "GetClusterInfo";
    case MasterRpc::kListKeys:
      return "ListKeys";
    case MasterRpc::kDrain:
      return "Drain";
    case MasterRpc::kReportCorruptReplicas:
      return "ReportCorruptReplicas";
  }
  return "Unknown";
}

MasterMetrics::MasterMetrics(MetricsRegistry& registry) : registry_(registry) {
  for (size_t i = 0; i < kMasterRpcCount; ++i) {
    const Labels labels = {{"rpc", MasterRpcName(static_cast<MasterRpc>(i))}};
    per_rpc_[i].requests = &registry.AddCounter("mooncake_master_rpc_requests_total",
                                                "RPC requests served, by RPC.", labels);
    per_rpc_[i].request_errors = &registry.AddCounter(
        "mooncake_master_rpc_request_errors_total",
        "RPC requests refused as a whole (bad version, oversized batch, deadline, failed "
        "authentication), by RPC.",
        labels);
    per_rpc_[i].latency =
        &registry.AddHistogram("mooncake_master_rpc_latency_seconds",
                               "Time from a request's arrival in the handler to its reply, by RPC.",
                               labels, DefaultLatencyBuckets());
  }
  hits_ = &registry.AddCounter("mooncake_master_lookups_total",
                               "GetReplicaList keys looked up, by outcome.", {{"result", "hit"}});
  misses_ =
      &registry.AddCounter("mooncake_master_lookups_total",
                           "GetReplicaList keys looked up, by outcome.", {{"result", "miss"}});
  lock_wait_ = &registry.AddHistogram("mooncake_master_lock_wait_seconds",
                                      "Time a request (or tick) waited for the core's lock.", {},
                                      DefaultLatencyBuckets());
  lock_hold_ = &registry.AddHistogram("mooncake_master_lock_hold_seconds",
                                      "Time a request (or tick) held the core's lock.", {},
                                      DefaultLatencyBuckets());
}

void MasterMetrics::RecordRpc(MasterRpc rpc, std::chrono::nanoseconds latency,
                              const Status& status) {
  PerRpc& m = per_rpc_[static_cast<size_t>(rpc)];
  m.requests->Inc();
  m.latency->ObserveDuration(latency);
  if (!status.ok()) {
    m.request_errors->Inc();
    Remember(rpc, status);
  }
}

Counter& MasterMetrics::ItemErrors(MasterRpc rpc, const Status& status) {
  // The registry returns the same counter for the same labels; errors are the cold path.
  return registry_.AddCounter(
      "mooncake_master_item_errors_total", "Batch items that failed, by RPC and status code.",
      {{"rpc", MasterRpcName(rpc)}, {"code", StatusCodeName(status.code())}});
}

void MasterMetrics::RecordItemError(MasterRpc rpc, const Status& status) {
  ItemErrors(rpc, status).Inc();
  // Outcomes that are part of normal use (a put of a key that exists, a removal refused by a
  // lease) are counted but kept out of the ring, which is for failures worth a look.
  switch (status.code()) {
    case StatusCode::kObjectNotFound:
    case StatusCode::kObjectAlreadyExists:
    case StatusCode::kObjectHasLease:
      return;
    default:
      Remember(rpc, status);
  }
}

void MasterMetrics::RecordLookup(bool hit) { (hit ? hits_ : misses_)->Inc(); }

void MasterMetrics::Remember(MasterRpc rpc, const Status& status) {
  std::lock_guard lock(errors_mutex_);
  if (recent_.size() == kRecentErrors) recent_.pop_front();
  recent_.push_back({std::chrono::system_clock::now(), rpc, status});
}

std::vector<MasterErrorRecord> MasterMetrics::RecentErrors() const {
  std::lock_guard lock(errors_mutex_);
  return {recent_.begin(), recent_.end()};
}

}  // namespace mooncake::master
