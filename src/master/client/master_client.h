#pragma once

// Typed client for the master's gRPC service (proto/master.proto). Used by the store client
// (through MasterApi, master_api.h, which it implements), storage nodes, tools and
// master_bench. Every call carries the protocol version and a
// deadline (and, given the cluster secret, a credential: master/codec/rpc_credentials.h);
// transport failures come back as kRpcFail / kRpcTimeout naming the master, a refused
// credential as kUnauthenticated.
//
// Batch calls return the request-level outcome as the outer Result and one result per item,
// in request order, inside it.
//
// Thread safety: every method may be called from any thread concurrently (one gRPC channel,
// multiplexed).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "master/client/master_api.h"
#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"
#include "mooncake/store/types.h"
#include "store_types/block_checksums.h"
#include "store_types/cluster_info.h"
#include "store_types/key_page.h"
#include "store_types/manifest.h"
#include "store_types/node_tasks.h"
#include "store_types/object_tier.h"
#include "store_types/replica_location.h"
#include "store_types/segment.h"

namespace mooncake::master {

struct MasterClientOptions {
  // "host:port" of the master. Required.
  std::string master_address;
  // Deadline of every RPC. Default 5 s; > 0.
  std::chrono::milliseconds rpc_timeout{5000};
  // Shown to the master in request headers (logs/metrics). Default "".
  std::string client_id;
  // While the master is unreachable (restarting), a call waits for it until its deadline
  // instead of failing at once: clients ride out a master restart. Default off (tools want
  // "master unreachable" at once).
  bool wait_for_master = false;
  // The cluster secret: every call carries a credential derived from it, which a master with
  // a secret requires (a master without one ignores it). A master that refuses the credential
  // (no secret here, a different one, clocks more than 5 minutes apart) makes calls fail with
  // kUnauthenticated. Default null: calls carry none.
  std::shared_ptr<const auth::ClusterSecret> auth_secret;

  Status Validate() const;
};

// A node's acknowledgement of the manifest changes of one of its segments.
struct ManifestAck {
  std::string segment;
  uint64_t acked_seq = 0;
};

// Manifest changes for one segment, from a heartbeat reply.
struct ManifestDelta {
  std::string segment;
  ManifestBatch batch;
};

// What a heartbeat brings back: manifest changes and copy tasks for the node.
struct HeartbeatReply {
  std::vector<ManifestDelta> deltas;
  std::vector<CopyTask> copy_tasks;
  // Write-back uploads for the node.
  std::vector<UploadTask> upload_tasks;
};

class MasterClient final : public MasterApi {
 public:
  // Creates the channel; does not contact the master (see Ping).
  static Result<std::unique_ptr<MasterClient>> Create(MasterClientOptions options);
  ~MasterClient() override;

  MasterClient(const MasterClient&) = delete;
  MasterClient& operator=(const MasterClient&) = delete;

  const std::string& master_address() const;

  // Its deadline is min(rpc_timeout, 1 s): a probe answers soon even while it waits for a
  // restarting master.
  Result<PingReply> Ping() override;
  Result<MountReport> MountSegment(const SegmentSpec& spec,
                                   const std::vector<ManifestEntry>& manifest = {});
  Status UnmountSegment(const std::string& name, const NodeId& node, Epoch epoch);
  Status Heartbeat(const NodeId& node, Epoch epoch);
  // A heartbeat that also acknowledges manifest changes and fetches the next ones; waits up
  // to `wait` on the master for changes when there are none (long poll). The RPC's deadline
  // is rpc_timeout + wait.
  Result<std::vector<ManifestDelta>> Heartbeat(const NodeId& node, Epoch epoch,
                                               const std::vector<ManifestAck>& acks,
                                               std::chrono::milliseconds wait);
  // The same, also reporting finished copy and upload tasks and fetching new ones. On an error
  // the master may or may not have taken the results (a result reported twice is harmless).
  Result<HeartbeatReply> Heartbeat(const NodeId& node, Epoch epoch,
                                   const std::vector<ManifestAck>& acks,
                                   const std::vector<CopyResult>& results,
                                   std::chrono::milliseconds wait,
                                   const std::vector<UploadResult>& upload_results = {});
  // A leaving node asks the master to copy away what only it holds; returns how many of its
  // objects still need a copy (0: it may unmount). Idempotent; ask again to follow progress.
  Result<uint64_t> Drain(const NodeId& node, Epoch epoch);

  // The object index (MasterApi).
  using MasterApi::BatchPutStart;
  Result<std::vector<Result<PutStartReply>>> BatchPutStart(const std::vector<PutStartItem>& items,
                                                           const ReplicateConfig& config,
                                                           PutMode mode) override;
  Result<std::vector<Status>> BatchPutEnd(const std::vector<PutEndItem>& items) override;
  Result<std::vector<Status>> BatchPutRevoke(const std::vector<std::string>& keys) override;
  Result<std::vector<Result<ReplicaListReply>>> BatchGetReplicaList(
      const std::vector<std::string>& keys) override;
  Result<std::vector<Result<bool>>> BatchExistKey(const std::vector<std::string>& keys) override;
  Result<std::vector<Result<uint64_t>>> BatchGetSize(const std::vector<std::string>& keys) override;
  Result<std::vector<Status>> BatchRemove(const std::vector<std::string>& keys,
                                          RemoveMode mode) override;
  Result<uint64_t> RemoveByRegex(const std::string& pattern, RemoveMode mode) override;
  Result<uint64_t> RemoveAll(RemoveMode mode) override;
  Result<std::vector<Status>> ReportCorruptReplicas(
      const std::vector<CorruptReplicaReport>& reports) override;

  Result<ClusterInfo> GetClusterInfo();
  // Up to `limit` visible keys with `prefix` sorting after `start_after` ("" = from the
  // first), bytewise ascending; `truncated` when more follow. limit 0 = the master's maximum
  // per reply (16384); more is kInvalidParams. Scans the master's whole index: admin use only.
  Result<KeyPage> ListKeys(const std::string& prefix, uint32_t limit,
                           const std::string& start_after = "");

 private:
  struct Impl;
  explicit MasterClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mooncake::master
