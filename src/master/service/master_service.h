#pragma once

// The gRPC face of the master: decodes requests, runs them against the MasterCore under one
// lock, encodes per-item results, and records metrics. All policy lives in the core; this
// layer only validates envelopes (protocol version, batch size, deadline) and converts.
//
// Concurrency: gRPC calls handlers from its own thread pool. The core is single-threaded, so
// every handler takes `core_mutex_` once per request (a batch of N keys costs one lock
// acquisition), and builds protobuf replies outside the lock from views copied under it.
// The lock is held for microseconds per key (measured in master_bench and the closing note),
// so one mutex scales to the 2-16 cores a master runs on before gRPC's own cost dominates.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include "master/codec/rpc_credentials.h"
#include "master/core/master_core.h"
#include "master/service/master_metrics.h"
#include "mooncake/common/cluster_secret.h"
#include "mooncake/proto/master.grpc.pb.h"
#include "store_types/object_tier.h"

namespace mooncake::master {

class MasterServiceImpl final : public master::v1::MasterService::Service {
 public:
  // `core`, `clock` and `metrics` must outlive the service. `core` must only be used through
  // WithCore() once the service is serving.
  MasterServiceImpl(MasterCore& core, const Clock& clock, MasterMetrics& metrics,
                    uint64_t incarnation);
  // The object tier clients are told about in Ping answers. Set before serving.
  // Set once before serving; read by the HTTP status page.
  void set_object_tier(ObjectTierConfig config) { object_tier_ = std::move(config); }
  const ObjectTierConfig& object_tier() const { return object_tier_; }
  // The cluster secret every call must prove (master/codec/rpc_credentials.h); null (the
  // default) accepts every call. Set once before serving.
  void set_auth_secret(std::shared_ptr<const auth::ClusterSecret> secret) {
    verifier_ = secret == nullptr ? nullptr : std::make_unique<RpcVerifier>(std::move(secret));
  }

  // Runs `fn(core)` under the service's lock (the tick thread and status page use this).
  // The wait for and the hold of the lock are recorded, so contention shows in /metrics.
  template <typename Fn>
  auto WithCore(Fn&& fn) {
    const auto asked = std::chrono::steady_clock::now();
    std::lock_guard lock(core_mutex_);
    const auto got = std::chrono::steady_clock::now();
    struct HoldRecorder {
      MasterMetrics& metrics;
      std::chrono::steady_clock::time_point got;
      ~HoldRecorder() { metrics.RecordLockHold(std::chrono::steady_clock::now() - got); }
    } hold{metrics_, got};
    // Wakes heartbeats waiting for manifest changes or copy tasks when `fn` made some (see
    // Heartbeat).
    struct ChangeNotifier {
      MasterCore& core;
      std::condition_variable& changed;
      const uint64_t before;
      ~ChangeNotifier() {
        if (core.NodeEventCount() != before) changed.notify_all();
      }
    } notifier{core_, manifest_changed_, core_.NodeEventCount()};
    metrics_.RecordLockWait(got - asked);
    return fn(core_);
  }

  grpc::Status Ping(grpc::ServerContext* ctx, const master::v1::PingRequest* req,
                    master::v1::PingResponse* resp) override;
  grpc::Status MountSegment(grpc::ServerContext* ctx, const master::v1::MountSegmentRequest* req,
                            master::v1::MountSegmentResponse* resp) override;
  grpc::Status UnmountSegment(grpc::ServerContext* ctx,
                              const master::v1::UnmountSegmentRequest* req,
                              master::v1::UnmountSegmentResponse* resp) override;
  grpc::Status Heartbeat(grpc::ServerContext* ctx, const master::v1::HeartbeatRequest* req,
                         master::v1::HeartbeatResponse* resp) override;
  grpc::Status BatchPutStart(grpc::ServerContext* ctx, const master::v1::BatchPutStartRequest* req,
                             master::v1::BatchPutStartResponse* resp) override;
  grpc::Status BatchPutEnd(grpc::ServerContext* ctx, const master::v1::BatchPutEndRequest* req,
                           master::v1::BatchStatusResponse* resp) override;
  grpc::Status BatchPutRevoke(grpc::ServerContext* ctx, const master::v1::BatchKeysRequest* req,
                              master::v1::BatchStatusResponse* resp) override;
  grpc::Status BatchGetReplicaList(grpc::ServerContext* ctx,
                                   const master::v1::BatchKeysRequest* req,
                                   master::v1::BatchGetReplicaListResponse* resp) override;
  grpc::Status BatchExistKey(grpc::ServerContext* ctx, const master::v1::BatchKeysRequest* req,
                             master::v1::BatchExistKeyResponse* resp) override;
  grpc::Status BatchGetSize(grpc::ServerContext* ctx, const master::v1::BatchKeysRequest* req,
                            master::v1::BatchGetSizeResponse* resp) override;
  grpc::Status BatchRemove(grpc::ServerContext* ctx, const master::v1::BatchRemoveRequest* req,
                           master::v1::BatchStatusResponse* resp) override;
  grpc::Status RemoveByRegex(grpc::ServerContext* ctx, const master::v1::RemoveByRegexRequest* req,
                             master::v1::RemoveCountResponse* resp) override;
  grpc::Status RemoveAll(grpc::ServerContext* ctx, const master::v1::RemoveAllRequest* req,
                         master::v1::RemoveCountResponse* resp) override;
  grpc::Status GetClusterInfo(grpc::ServerContext* ctx,
                              const master::v1::GetClusterInfoRequest* req,
                              master::v1::GetClusterInfoResponse* resp) override;
  grpc::Status ListKeys(grpc::ServerContext* ctx, const master::v1::ListKeysRequest* req,
                        master::v1::ListKeysResponse* resp) override;
  grpc::Status Drain(grpc::ServerContext* ctx, const master::v1::DrainRequest* req,
                     master::v1::DrainResponse* resp) override;
  // Each accepted report is logged as a warning (key, segment, version, what became of it).
  grpc::Status ReportCorruptReplicas(grpc::ServerContext* ctx,
                                     const master::v1::ReportCorruptReplicasRequest* req,
                                     master::v1::BatchStatusResponse* resp) override;

 private:
  // Runs one RPC: checks the caller's credential (every method goes through here, so this is
  // the one place authentication is enforced), checks the envelope, calls `body` (which fills
  // `resp` and returns the request-level status), stores that status in `resp`, records
  // metrics. Answers gRPC UNAUTHENTICATED, without running `body`, when the credential fails;
  // otherwise gRPC OK: failures travel as the project's StatusCode in the reply.
  template <typename Request, typename Response, typename Body>
  grpc::Status Serve(MasterRpc rpc, grpc::ServerContext* ctx, const Request& req, Response* resp,
                     Body&& body);
  // OK when the service has no secret, or the call carries a valid credential for `rpc`;
  // kUnauthenticated saying why not. Logs refusals (rate-limited).
  Status CheckCredential(MasterRpc rpc, const grpc::ServerContext& ctx,
                         const master::v1::RequestHeader& header);
  // kInvalidParams when a batch carries more than kMaxBatchItems items.
  static Status CheckBatchSize(int items);
  // Runs a whole-index admin scan in chunks (core/key_scan.h): `chunk(core, cursor)` under the
  // lock once per chunk until the cursor is done. Between chunks the lock is free for at least
  // as long as the last chunk held it, so other RPCs wait at most one chunk (~1 ms) and keep at
  // least half the lock time however big the index is. Stops early with kRpcTimeout naming
  // `what` once the call is cancelled (caller gone, deadline passed, or the server shutting
  // down), so a long scan never holds up Shutdown.
  template <typename Chunk>
  Status ScanInChunks(const grpc::ServerContext& ctx, std::string_view what, Chunk&& chunk);

  // Heartbeat's body: records the beat and the node's copy results, then collects the
  // manifest changes of the node's segments and its copy tasks into `resp`, waiting up to
  // `wait` (long poll) while there are none.
  Status HeartbeatAndCollect(const grpc::ServerContext& ctx,
                             const master::v1::HeartbeatRequest& req,
                             std::chrono::milliseconds wait, master::v1::HeartbeatResponse* resp);

  MasterCore& core_;
  const Clock& clock_;
  MasterMetrics& metrics_;
  const uint64_t incarnation_;
  ObjectTierConfig object_tier_;
  std::unique_ptr<RpcVerifier> verifier_;  // null: an open cluster
  // Steady-clock milliseconds of the last refusal logged, and refusals since: one warning per
  // kRefusalLogInterval at most, so a stranger hammering the port cannot flood the log.
  std::atomic<int64_t> last_refusal_log_ms_{-1};
  std::atomic<uint64_t> refusals_unlogged_{0};
  std::mutex core_mutex_;
  // Signalled (under core_mutex_) when the core journaled manifest changes or queued copy
  // tasks (MasterCore::NodeEventCount).
  std::condition_variable manifest_changed_;
};

}  // namespace mooncake::master
