#pragma once

// One GetReplica: the loop that drives a ShardScheduler with real holders (read from etcd),
// real transfers (Transfer Engine READs into the caller's registered memory) and shard
// verification. Publishing what was verified is left to the owner, through a callback.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/p2p/p2p_store.h"
#include "mooncake/transfer/transfer_engine.h"
#include "p2p/object_layout.h"
#include "p2p/p2p_records.h"
#include "p2p/shard_scheduler.h"
#include "transfer/batch_runner.h"
#include "transfer/metadata/etcd_client.h"

namespace mooncake::p2p {

struct ReplicaFetchContext {
  transfer::TransferEngine* engine = nullptr;
  transfer::EtcdClient* etcd = nullptr;
  const P2PStoreOptions* options = nullptr;
  std::string self;  // our segment: never a holder to read from
  // Called from the fetching thread with the shards verified so far and those being fetched,
  // after each round that changed either (not called when the options say not to serve).
  std::function<void(const std::vector<bool>& held, const std::vector<bool>& fetching)> publish;
};

// Not thread-safe: Run() once, from one thread.
class ReplicaFetch {
 public:
  ReplicaFetch(ReplicaFetchContext context, ObjectRecord record, ExtentMap local);

  // Fetches every shard into `local` and verifies it. On error, returns only once no transfer
  // into `local` is in flight any more (bounded), so the caller may release the memory.
  Result<ReplicaStats> Run(const GetReplicaOptions& options);

 private:
  struct Holder {
    ExtentMap map;
    bool seed = false;
  };
  struct InFlight {
    PieceAssignment piece;
    transfer::PendingBatch batch;
  };

  // Re-reads the holder records; keeps the previous view when etcd cannot be read.
  Status RefreshHolders();
  void StartPieces();
  // Collects the pieces in flight that finished; true when any did.
  bool PollPieces();
  void Verify(size_t shard);
  // Waits (bounded) until nothing is in flight, then frees the batches.
  void Drain();
  // Nothing finished this round: sleeps until the oldest piece in flight finishes (woken by
  // the transport), or a short while when none is.
  void AwaitProgress();
  ReplicaProgress Progress() const;
  Result<transfer::SegmentHandle> Open(const std::string& segment);

  ReplicaFetchContext context_;
  ObjectRecord record_;
  ExtentMap local_;
  P2PHashAlgorithm algorithm_ = P2PHashAlgorithm::kXxh3_128;
  std::vector<uint64_t> shard_offsets_;
  ShardScheduler scheduler_;
  std::map<std::string, Holder> holders_;
  bool any_holder_ = false;  // some live peer holds some shard
  std::map<std::string, transfer::SegmentHandle> segments_;
  std::vector<InFlight> in_flight_;
  std::vector<bool> held_;
  bool publish_pending_ = false;
  std::vector<bool> published_fetching_;
  uint64_t bytes_done_ = 0;
  size_t shards_verified_ = 0;
  ReplicaStats stats_;
  std::map<std::string, bool> used_;  // holders read from
};

}  // namespace mooncake::p2p
