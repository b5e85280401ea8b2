#include "master/client/master_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <optional>

#include "master/codec/master_protocol.h"
#include "master/codec/proto_convert.h"
#include "master/codec/rpc_credentials.h"
#include "mooncake/proto/master.grpc.pb.h"

namespace mooncake::master {
namespace {

// Deadline of Ping (see master_client.h).
constexpr std::chrono::milliseconds kPingTimeout{1000};

template <typename Items, typename Convert>
auto ConvertEach(const Items& items, Convert&& convert) {
  std::vector<decltype(convert(items[0]))> out;
  out.reserve(items.size());
  for (const auto& item : items) out.push_back(convert(item));
  return out;
}

}  // namespace

Status MasterClientOptions::Validate() const {
  if (master_address.empty()) {
    return Status(StatusCode::kInvalidParams, "master address is empty");
  }
  if (rpc_timeout.count() <= 0) {
    return Status(StatusCode::kInvalidParams, "rpc_timeout must be > 0");
  }
  return Status::Ok();
}

struct MasterClient::Impl {
  MasterClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::MasterService::Stub> stub;
  // Set when options.auth_secret is.
  std::unique_ptr<RpcSigner> signer;

  // `method` is the RPC's name in proto/master.proto: the credential signs it.
  void Prepare(grpc::ClientContext& ctx, const char* method, pb::RequestHeader* header,
               std::chrono::milliseconds timeout) const {
    const auto now = std::chrono::system_clock::now();
    ctx.set_deadline(now + timeout);
    ctx.set_wait_for_ready(options.wait_for_master);
    header->set_protocol_version(kMasterProtocolVersion);
    header->set_client_id(options.client_id);
    if (signer != nullptr) header->set_auth(signer->CredentialFor(method, now));
  }

  // Runs one unary RPC; the request-level status of the reply, or the transport failure.
  template <typename Request, typename Response, typename Method>
  // The deadline is rpc_timeout + extra_time, or `timeout` when given.
  Status Call(const char* name, Method method, Request& request, Response& response,
              std::chrono::milliseconds extra_time = {},
              std::optional<std::chrono::milliseconds> timeout = std::nullopt) const {
    grpc::ClientContext ctx;
    Prepare(ctx, name, request.mutable_header(),
            timeout.value_or(options.rpc_timeout + extra_time));
    const grpc::Status rpc = (stub.get()->*method)(&ctx, request, &response);
    if (!rpc.ok()) {
      // The master is down or restarting. gRPC would wait out its reconnect backoff before
      // trying again, failing calls meanwhile even once a new master listens; the callers
      // pace their own retries, so the next call may reconnect at once.
      if (rpc.error_code() == grpc::StatusCode::UNAVAILABLE) {
        grpc::experimental::ChannelResetConnectionBackoff(channel.get());
      }
      if (rpc.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
        return Unauthenticated(
            "authentication failed: master " + options.master_address + " refused " + name + ": " +
            rpc.error_message() + ". " +
            (options.auth_secret != nullptr
                 ? "Check that this process uses the same secret file as the master "
                   "(--auth_secret_file or $MC_AUTH_SECRET_FILE; this process signs with key " +
                       options.auth_secret->KeyId() + ") and that both clocks are synchronised"
                 : std::string("This process has no cluster secret: give it the master's "
                               "(--auth_secret_file or $MC_AUTH_SECRET_FILE)")));
      }
      const StatusCode code = rpc.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                                  ? StatusCode::kRpcTimeout
                                  : StatusCode::kRpcFail;
      return Status(code, std::string(name) + " to master " + options.master_address +
                              " failed: " + rpc.error_message() + " (gRPC code " +
                              std::to_string(static_cast<int>(rpc.error_code())) + ")");
    }
    Status status = FromProto(response.status());
    if (!status.ok()) return status.WithContext(std::string(name) + " refused by master");
    return Status::Ok();
  }

  // A batch reply must carry one result per item.
  static Status CheckCount(const char* name, int got, size_t want) {
    if (static_cast<size_t>(got) == want) return Status::Ok();
    return Status(StatusCode::kRpcFail, std::string(name) + ": master answered " +
                                            std::to_string(got) + " results for " +
                                            std::to_string(want) + " items");
  }
};

MasterClient::MasterClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MasterClient::~MasterClient() = default;

Result<std::unique_ptr<MasterClient>> MasterClient::Create(MasterClientOptions options) {
  MC_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMasterMessageBytes);
  args.SetMaxSendMessageSize(kMaxMasterMessageBytes);
  // Reconnect quickly after a master restart: gRPC's default backoff (1 s growing to 120 s)
  // would keep nodes and clients away from a new master for seconds.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  impl->channel =
      grpc::CreateCustomChannel(options.master_address, grpc::InsecureChannelCredentials(), args);
  if (!impl->channel) {
    return Status(StatusCode::kInvalidParams,
                  "cannot create a channel to master " + options.master_address);
  }
  impl->stub = pb::MasterService::NewStub(impl->channel);
  if (options.auth_secret != nullptr)
    impl->signer = std::make_unique<RpcSigner>(options.auth_secret);
  impl->options = std::move(options);
  return std::unique_ptr<MasterClient>(new MasterClient(std::move(impl)));
}

const std::string& MasterClient::master_address() const { return impl_->options.master_address; }

Result<PingReply> MasterClient::Ping() {
  pb::PingRequest req;
  pb::PingResponse resp;
  // A probe answers soon even while it waits for a restarting master (wait_for_master):
  // health checks report an unreachable master within a second, not rpc_timeout.
  MC_RETURN_IF_ERROR(impl_->Call("Ping", &pb::MasterService::Stub::Ping, req, resp, {},
                                 std::min(impl_->options.rpc_timeout, kPingTimeout)));
  PingReply reply{resp.protocol_version(), resp.master_incarnation(), {}};
  reply.object_tier.url = resp.object_store_url();
  reply.object_tier.endpoint = resp.object_store_endpoint();
  if (!resp.object_store_region().empty()) reply.object_tier.region = resp.object_store_region();
  auto policy = ParseObjectTierPolicy(resp.object_store_policy());
  reply.object_tier.policy = policy.ok() ? *policy : ObjectTierPolicy::kNone;
  return reply;
}

Result<MountReport> MasterClient::MountSegment(const SegmentSpec& spec,
                                               const std::vector<ManifestEntry>& manifest) {
  pb::MountSegmentRequest req;
  ToProto(spec, req.mutable_segment());
  req.mutable_manifest()->Reserve(static_cast<int>(manifest.size()));
  for (const ManifestEntry& entry : manifest) ToProto(entry, req.add_manifest());
  pb::MountSegmentResponse resp;
  MC_RETURN_IF_ERROR(
      impl_->Call("MountSegment", &pb::MasterService::Stub::MountSegment, req, resp));
  MountReport report;
  report.adopted = resp.adopted();
  report.skipped_conflict = resp.skipped_conflict();
  report.skipped_invalid = resp.skipped_invalid();
  report.rejected_keys.assign(resp.rejected_keys().begin(), resp.rejected_keys().end());
  return report;
}

Status MasterClient::UnmountSegment(const std::string& name, const NodeId& node, Epoch epoch) {
  pb::UnmountSegmentRequest req;
  req.set_name(name);
  req.set_node_id(node);
  req.set_epoch(epoch);
  pb::UnmountSegmentResponse resp;
  return impl_->Call("UnmountSegment", &pb::MasterService::Stub::UnmountSegment, req, resp);
}

Status MasterClient::Heartbeat(const NodeId& node, Epoch epoch) {
  pb::HeartbeatRequest req;
  req.set_node_id(node);
  req.set_epoch(epoch);
  pb::HeartbeatResponse resp;
  return impl_->Call("Heartbeat", &pb::MasterService::Stub::Heartbeat, req, resp);
}

Result<std::vector<ManifestDelta>> MasterClient::Heartbeat(const NodeId& node, Epoch epoch,
                                                           const std::vector<ManifestAck>& acks,
                                                           std::chrono::milliseconds wait) {
  MC_ASSIGN_OR_RETURN(HeartbeatReply reply, Heartbeat(node, epoch, acks, {}, wait));
  return std::move(reply.deltas);
}

Result<HeartbeatReply> MasterClient::Heartbeat(const NodeId& node, Epoch epoch,
                                               const std::vector<ManifestAck>& acks,
                                               const std::vector<CopyResult>& results,
                                               std::chrono::milliseconds wait,
                                               const std::vector<UploadResult>& upload_results) {
  pb::HeartbeatRequest req;
  req.set_node_id(node);
  req.set_epoch(epoch);
  for (const ManifestAck& ack : acks) {
    pb::ManifestAck* out = req.add_manifest_acks();
    out->set_segment(ack.segment);
    out->set_acked_seq(ack.acked_seq);
  }
  for (const CopyResult& result : results) {
    pb::CopyResult* out = req.add_copy_results();
    out->set_task_id(result.task_id);
    ToProto(result.status, out->mutable_status());
  }
  for (const UploadResult& result : upload_results) {
    pb::UploadResult* out = req.add_upload_results();
    out->set_task_id(result.task_id);
    ToProto(result.status, out->mutable_status());
  }
  req.set_wait_ms(static_cast<uint32_t>(std::max<int64_t>(wait.count(), 0)));
  pb::HeartbeatResponse resp;
  MC_RETURN_IF_ERROR(
      impl_->Call("Heartbeat", &pb::MasterService::Stub::Heartbeat, req, resp, wait));
  HeartbeatReply reply;
  reply.deltas.reserve(resp.manifest_deltas_size());
  for (const pb::ManifestDelta& in : resp.manifest_deltas()) {
    ManifestDelta& delta = reply.deltas.emplace_back();
    delta.segment = in.segment();
    delta.batch.first_seq = in.first_seq();
    delta.batch.changes.reserve(in.changes_size());
    for (const pb::ManifestChange& change : in.changes()) {
      delta.batch.changes.push_back({change.removed(), FromProto(change.entry())});
    }
  }
  reply.copy_tasks.reserve(resp.copy_tasks_size());
  for (const pb::CopyTask& task : resp.copy_tasks()) {
    reply.copy_tasks.push_back(FromProto(task));
    reply.copy_tasks.back().destination_node = node;
  }
  reply.upload_tasks.reserve(resp.upload_tasks_size());
  for (const pb::UploadTask& task : resp.upload_tasks()) {
    reply.upload_tasks.push_back(FromProto(task));
    reply.upload_tasks.back().node = node;
  }
  return reply;
}

Result<uint64_t> MasterClient::Drain(const NodeId& node, Epoch epoch) {
  pb::DrainRequest req;
  req.set_node_id(node);
  req.set_epoch(epoch);
  pb::DrainResponse resp;
  MC_RETURN_IF_ERROR(impl_->Call("Drain", &pb::MasterService::Stub::Drain, req, resp));
  return resp.remaining();
}

Result<std::vector<Result<PutStartReply>>> MasterClient::BatchPutStart(
    const std::vector<PutStartItem>& items, const ReplicateConfig& config, PutMode mode) {
  // The wire reads 0 as 1 (older clients); this API promises 1..16, so 0 is refused here.
  if (config.replica_num < 1 || config.replica_num > kMaxReplicaNum) {
    return Status(StatusCode::kInvalidParams, "replica_num " + std::to_string(config.replica_num) +
                                                  " outside 1.." + std::to_string(kMaxReplicaNum));
  }
  pb::BatchPutStartRequest req;
  ToProto(config, req.mutable_config());
  req.set_upsert(mode == PutMode::kUpsert);
  req.mutable_items()->Reserve(static_cast<int>(items.size()));
  for (const PutStartItem& item : items) {
    pb::PutStartItem* out = req.add_items();
    out->set_key(item.key);
    out->set_size(item.size);
  }
  pb::BatchPutStartResponse resp;
  MC_RETURN_IF_ERROR(
      impl_->Call("BatchPutStart", &pb::MasterService::Stub::BatchPutStart, req, resp));
  MC_RETURN_IF_ERROR(Impl::CheckCount("BatchPutStart", resp.results_size(), items.size()));
  return ConvertEach(resp.results(), [](const pb::PutStartResult& r) -> Result<PutStartReply> {
    Status status = FromProto(r.status());
    if (!status.ok()) return status;
    PutStartReply reply;
    for (const pb::Replica& replica : r.replicas()) reply.replicas.push_back(FromProto(replica));
    reply.replicas_short = r.replicas_short();
    reply.version = r.version();
    return reply;
  });
}

Result<std::vector<Status>> MasterClient::BatchPutEnd(const std::vector<PutEndItem>& items) {
  pb::BatchPutEndRequest req;
  req.mutable_items()->Reserve(static_cast<int>(items.size()));
  for (const PutEndItem& item : items) {
    pb::PutEndItem* out = req.add_items();
    out->set_key(item.key);
    out->set_checksum(item.checksum);
    if (item.block_checksums != nullptr) {
      out->mutable_block_checksums()->Add(item.block_checksums->begin(),
                                          item.block_checksums->end());
    }
  }
  pb::BatchStatusResponse resp;
  MC_RETURN_IF_ERROR(impl_->Call("BatchPutEnd", &pb::MasterService::Stub::BatchPutEnd, req, resp));
  MC_RETURN_IF_ERROR(Impl::CheckCount("BatchPutEnd", resp.results_size(), items.size()));
  return ConvertEach(resp.results(), [](const pb::Status& s) { return FromProto(s); });
}

namespace {
template <typename Request>
void FillKeys(Request& req, const std::vector<std::string>& keys) {
  req.mutable_keys()->Reserve(static_cast<int>(keys.size()));
  for (const std::string& key : keys) req.add_keys(key);
}
}  // namespace

Result<std::vector<Status>> MasterClient::BatchPutRevoke(const std::vector<std::string>& keys) {
  pb::BatchKeysRequest req;
  FillKeys(req, keys);
  pb::BatchStatusResponse resp;
  MC_RETURN_IF_ERROR(
      impl_->Call("BatchPutRevoke", &pb::MasterService::Stub::BatchPutRevoke, req, resp));
  MC_RETURN_IF_ERROR(Impl::CheckCount("BatchPutRevoke", resp.results_size(), keys.size()));
  return ConvertEach(resp.results(), [](const pb::Status& s) { return FromProto(s); });
}

Result<std::vector<Result<ReplicaListReply>>> MasterClient::BatchGetReplicaList(
    const std::vector<std::string>& keys) {
  pb::BatchKeysRequest req;
  FillKeys(req, keys);
  pb::BatchGetReplicaListResponse resp;
  MC_RETURN_IF_ERROR(
      impl_->Call("BatchGetReplicaList", &pb::MasterService::Stub::BatchGetReplicaList, req, resp));
  MC_RETURN_IF_ERROR(Impl::CheckCount("BatchGetReplicaList", resp.results_size(), keys.size()));
  return ConvertEach(resp.results(),
                     [](const pb::GetReplicaListResult& r) -> Result<ReplicaListReply> {
                       Status status = FromProto(r.status());
                       if (!status.ok()) return status;
                       ReplicaListReply reply;
                       reply.size = r.size();
                       reply.version = r.version();
                       reply.checksum = r.checksum();
                       if (r.block_checksums_size() > 0) {
                         reply.block_checksums = std::make_shared<const std::vector<uint32_t>>(
                             r.block_checksums().begin(), r.block_checksums().end());
                       }
                       for (const pb::Replica& replica : r.replicas()) {
                         reply.replicas.push_back(FromProto(replica));
                       }
                       reply.lease_ttl = std::chrono::milliseconds(r.lease_ttl_ms());
                       return reply;
                     });
}

Result<std::vector<Result<bool>>> MasterClient::BatchExistKey(
    const std::vector<std::string>& keys) {
  pb::BatchKeysRequest req;
  FillKeys(req, keys);
  pb::BatchExistKeyResponse resp;
  MC_RETURN_IF_ERROR(
      impl_->Call("BatchExistKey", &pb::MasterService::Stub::BatchExistKey, req, resp));
  MC_RETURN_IF_ERROR(Impl::CheckCount("BatchExistKey", resp.results_size(), keys.size()));
  return ConvertEach(resp.results(), [](const pb::ExistResult& r) -> Result<bool> {
    Status status = FromProto(r.status());
    if (!status.ok()) return status;
    return r.exists();
  });
}

Result<std::vector<Result<uint64_t>>> MasterClient::BatchGetSize(
    const std::vector<std::string>& keys) {
  pb::BatchKeysRequest req;
  FillKeys(req, keys);
  pb::BatchGetSizeResponse resp;
  MC_RETURN_IF_ERROR(
      impl_->Call("BatchGetSize", &pb::MasterService::Stub::BatchGetSize, req, resp));
  MC_RETURN_IF_ERROR(Impl::CheckCount("BatchGetSize", resp.results_size(), keys.size()));
  return ConvertEach(resp.results(), [](const pb::SizeResult& r) -> Result<uint64_t> {
    Status status = FromProto(r.status());
    if (!status.ok()) return status;
    return r.size();
  });
}

Result<std::vector<Status>> MasterClient::BatchRemove(const std::vector<std::string>& keys,
                                                      RemoveMode mode) {
  pb::BatchRemoveRequest req;
  FillKeys(req, keys);
  req.set_force(mode == RemoveMode::kForce);
  pb::BatchStatusResponse resp;
  MC_RETURN_IF_ERROR(impl_->Call("BatchRemove", &pb::MasterService::Stub::BatchRemove, req, resp));
  MC_RETURN_IF_ERROR(Impl::CheckCount("BatchRemove", resp.results_size(), keys.size()));
  return ConvertEach(resp.results(), [](const pb::Status& s) { return FromProto(s); });
}

Result<uint64_t> MasterClient::RemoveByRegex(const std::string& pattern, RemoveMode mode) {
  pb::RemoveByRegexRequest req;
  req.set_pattern(pattern);
  req.set_force(mode == RemoveMode::kForce);
  pb::RemoveCountResponse resp;
  MC_RETURN_IF_ERROR(
      impl_->Call("RemoveByRegex", &pb::MasterService::Stub::RemoveByRegex, req, resp));
  return resp.removed();
}

Result<uint64_t> MasterClient::RemoveAll(RemoveMode mode) {
  pb::RemoveAllRequest req;
  req.set_force(mode == RemoveMode::kForce);
  pb::RemoveCountResponse resp;
  MC_RETURN_IF_ERROR(impl_->Call("RemoveAll", &pb::MasterService::Stub::RemoveAll, req, resp));
  return resp.removed();
}

Result<std::vector<Status>> MasterClient::ReportCorruptReplicas(
    const std::vector<CorruptReplicaReport>& reports) {
  pb::ReportCorruptReplicasRequest req;
  req.mutable_items()->Reserve(static_cast<int>(reports.size()));
  for (const CorruptReplicaReport& report : reports) {
    pb::CorruptReplicaReport* out = req.add_items();
    out->set_key(report.key);
    out->set_version(report.version);
    out->set_segment(report.segment);
    out->set_address(report.address);
  }
  pb::BatchStatusResponse resp;
  MC_RETURN_IF_ERROR(impl_->Call("ReportCorruptReplicas",
                                 &pb::MasterService::Stub::ReportCorruptReplicas, req, resp));
  MC_RETURN_IF_ERROR(
      Impl::CheckCount("ReportCorruptReplicas", resp.results_size(), reports.size()));
  return ConvertEach(resp.results(), [](const pb::Status& s) { return FromProto(s); });
}

Result<ClusterInfo> MasterClient::GetClusterInfo() {
  pb::GetClusterInfoRequest req;
  pb::GetClusterInfoResponse resp;
  MC_RETURN_IF_ERROR(
      impl_->Call("GetClusterInfo", &pb::MasterService::Stub::GetClusterInfo, req, resp));
  return FromProto(resp);
}

Result<KeyPage> MasterClient::ListKeys(const std::string& prefix, uint32_t limit,
                                       const std::string& start_after) {
  pb::ListKeysRequest req;
  req.set_prefix(prefix);
  req.set_start_after(start_after);
  req.set_limit(limit);
  pb::ListKeysResponse resp;
  MC_RETURN_IF_ERROR(impl_->Call("ListKeys", &pb::MasterService::Stub::ListKeys, req, resp));
  KeyPage page;
  page.keys.reserve(resp.keys_size());
  for (std::string& key : *resp.mutable_keys()) page.keys.push_back(std::move(key));
  page.truncated = resp.truncated();
  return page;
}

}  // namespace mooncake::master
