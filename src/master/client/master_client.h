#pragma once

// Typed client for the master's gRPC service (proto/master.proto). Used by the store client,
// storage nodes, tools and master_bench. Every call carries the protocol version and a
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

struct PutStartReply {
  std::vector<ReplicaLocation> replicas;
  int replicas_short = 0;
  uint64_t version = 0;
};

struct ReplicaListReply {
  uint64_t size = 0;
  uint64_t version = 0;
  uint32_t checksum = 0;
  // Per-block CRC32Cs; null when the object has at most one block or the master has none.
  BlockChecksums block_checksums;
  std::vector<ReplicaLocation> replicas;
  // The read lease granted with this reply, counted from when the master answered.
  std::chrono::milliseconds lease_ttl{0};
};

struct PingReply {
  uint32_t protocol_version = 0;
  uint64_t master_incarnation = 0;
  // The object-storage tier the master is configured with (policy none: no tier). An unknown
  // policy name from a newer master reads as none.
  ObjectTierConfig object_tier;
};

struct PutStartItem {
  std::string key;
  uint64_t size = 0;
};

struct PutEndItem {
  std::string key;
  uint32_t checksum = 0;
  // Per-block CRC32Cs (store_types/block_checksums.h); null for objects of at most one block.
  BlockChecksums block_checksums;
};

// A replica a client read and found not to match its object's checksum.
struct CorruptReplicaReport {
  std::string key;
  // The object's version in the replica list the client read from.
  uint64_t version = 0;
  // The replica's first slice as the replica list gave it (segment name and absolute address).
  std::string segment;
  uint64_t address = 0;
};

class MasterClient {
 public:
  // Creates the channel; does not contact the master (see Ping).
  static Result<std::unique_ptr<MasterClient>> Create(MasterClientOptions options);
  ~MasterClient();

  MasterClient(const MasterClient&) = delete;
  MasterClient& operator=(const MasterClient&) = delete;

  const std::string& master_address() const;

  // Its deadline is min(rpc_timeout, 1 s): a probe answers soon even while it waits for a
  // restarting master.
  Result<PingReply> Ping();
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

  Result<std::vector<Result<PutStartReply>>> BatchPutStart(const std::vector<PutStartItem>& items,
                                                           const ReplicateConfig& config,
                                                           PutMode mode = PutMode::kCreate);
  Result<std::vector<Status>> BatchPutEnd(const std::vector<PutEndItem>& items);
  Result<std::vector<Status>> BatchPutRevoke(const std::vector<std::string>& keys);

  Result<std::vector<Result<ReplicaListReply>>> BatchGetReplicaList(
      const std::vector<std::string>& keys);
  Result<std::vector<Result<bool>>> BatchExistKey(const std::vector<std::string>& keys);
  Result<std::vector<Result<uint64_t>>> BatchGetSize(const std::vector<std::string>& keys);

  Result<std::vector<Status>> BatchRemove(const std::vector<std::string>& keys, RemoveMode mode);
  Result<uint64_t> RemoveByRegex(const std::string& pattern, RemoveMode mode);
  Result<uint64_t> RemoveAll(RemoveMode mode);

  // Tells the master these replicas hold wrong bytes. One status per report (see
  // MasterCore::ReportCorruptReplica): OK when the master took it (dropped the replica for
  // re-replication, erased an object whose last replica it was, or kept a last replica under
  // an upsert in flight); kObjectNotFound, kInvalidVersion (a stale report) and
  // kInvalidReplica (no such replica any more) change nothing. A master without this RPC
  // answers kRpcFail.
  Result<std::vector<Status>> ReportCorruptReplicas(
      const std::vector<CorruptReplicaReport>& reports);

  Result<ClusterInfo> GetClusterInfo();
  // Up to `limit` visible keys with `prefix` sorting after `start_after` ("" = from the
  // first), bytewise ascending; `truncated` when more follow. limit 0 = the master's maximum
  // per reply (16384); more is kInvalidParams. Scans the master's whole index: admin use only.
  Result<KeyPage> ListKeys(const std::string& prefix, uint32_t limit,
                           const std::string& start_after = "");

  // Single-key conveniences over the batch calls.
  Result<PutStartReply> PutStart(const std::string& key, uint64_t size,
                                 const ReplicateConfig& config, PutMode mode = PutMode::kCreate);
  Status PutEnd(const std::string& key, uint32_t checksum, BlockChecksums blocks = nullptr);
  Status PutRevoke(const std::string& key);
  Result<ReplicaListReply> GetReplicaList(const std::string& key);
  Result<bool> ExistKey(const std::string& key);
  Result<uint64_t> GetSize(const std::string& key);
  Status Remove(const std::string& key, RemoveMode mode);

 private:
  struct Impl;
  explicit MasterClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mooncake::master
