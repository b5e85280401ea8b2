#pragma once

// What a store client asks of the master: the object index (puts, lookups, removal, existence,
// sizes, corruption reports) and a ping. An interface so that the client's own logic (retries
// through the master, replica order, revoke on failure, the location cache, read-through) can
// be tested against a master in the test's process (master/service/in_process_master.h);
// MasterClient (master_client.h) is the implementation that speaks gRPC.
//
// Batch calls return the request-level outcome as the outer Result (a transport failure, a
// refused request) and one result per item, in request order, inside it.
//
// Thread safety: implementations allow every method from any thread concurrently.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/store/types.h"
#include "store_types/block_checksums.h"
#include "store_types/object_tier.h"
#include "store_types/replica_location.h"

namespace mooncake::master {

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

class MasterApi {
 public:
  virtual ~MasterApi() = default;

  virtual Result<PingReply> Ping() = 0;

  // kCreate fails an existing key (kObjectAlreadyExists); kUpsert replaces it when PutEnd seals
  // the new version. replica_num outside 1..16 is kInvalidParams.
  virtual Result<std::vector<Result<PutStartReply>>> BatchPutStart(
      const std::vector<PutStartItem>& items, const ReplicateConfig& config, PutMode mode) = 0;
  Result<std::vector<Result<PutStartReply>>> BatchPutStart(const std::vector<PutStartItem>& items,
                                                           const ReplicateConfig& config) {
    return BatchPutStart(items, config, PutMode::kCreate);
  }
  virtual Result<std::vector<Status>> BatchPutEnd(const std::vector<PutEndItem>& items) = 0;
  virtual Result<std::vector<Status>> BatchPutRevoke(const std::vector<std::string>& keys) = 0;

  // Each reply grants a read lease (ReplicaListReply::lease_ttl) holding eviction and removal
  // of the listed replicas off.
  virtual Result<std::vector<Result<ReplicaListReply>>> BatchGetReplicaList(
      const std::vector<std::string>& keys) = 0;
  virtual Result<std::vector<Result<bool>>> BatchExistKey(const std::vector<std::string>& keys) = 0;
  virtual Result<std::vector<Result<uint64_t>>> BatchGetSize(
      const std::vector<std::string>& keys) = 0;

  virtual Result<std::vector<Status>> BatchRemove(const std::vector<std::string>& keys,
                                                  RemoveMode mode) = 0;
  virtual Result<uint64_t> RemoveByRegex(const std::string& pattern, RemoveMode mode) = 0;
  virtual Result<uint64_t> RemoveAll(RemoveMode mode) = 0;

  // Tells the master these replicas hold wrong bytes. One status per report (see
  // MasterCore::ReportCorruptReplica): OK when the master took it (dropped the replica for
  // re-replication, erased an object whose last replica it was, or kept a last replica under
  // an upsert in flight); kObjectNotFound, kInvalidVersion (a stale report) and
  // kInvalidReplica (no such replica any more) change nothing. A master without this RPC
  // answers kRpcFail.
  virtual Result<std::vector<Status>> ReportCorruptReplicas(
      const std::vector<CorruptReplicaReport>& reports) = 0;

  // Single-key conveniences over the batch calls (master_api.cc); a batch answered with other
  // than one result is kRpcFail.
  Result<PutStartReply> PutStart(const std::string& key, uint64_t size,
                                 const ReplicateConfig& config, PutMode mode = PutMode::kCreate);
  Status PutEnd(const std::string& key, uint32_t checksum, BlockChecksums blocks = nullptr);
  Status PutRevoke(const std::string& key);
  Result<ReplicaListReply> GetReplicaList(const std::string& key);
  Result<bool> ExistKey(const std::string& key);
  Result<uint64_t> GetSize(const std::string& key);
  Status Remove(const std::string& key, RemoveMode mode);
};

}  // namespace mooncake::master
