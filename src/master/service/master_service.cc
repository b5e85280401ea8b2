#include "master/service/master_service.h"

#include <algorithm>
#include <chrono>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "master/codec/master_protocol.h"
#include "master/codec/proto_convert.h"
#include "master/service/master_service_serve.h"

namespace mooncake::master {
namespace {

// Longest a heartbeat waits for manifest changes (a node's liveness must not depend on it).
constexpr uint32_t kMaxHeartbeatWaitMs = 1000;

// How long a woken heartbeat waits for more changes before answering (see Heartbeat): the
// extra time a put stays out of its node's manifest.
constexpr std::chrono::milliseconds kHeartbeatCoalesce{2};

// Most copy tasks one heartbeat reply hands a node; the rest wait for the next beat.
constexpr size_t kMaxCopyTasksPerBeat = 256;

// Longest soft pin a request may ask for; more is almost certainly a unit mistake.
constexpr uint64_t kMaxSoftPinTtlMs = uint64_t{365} * 24 * 3600 * 1000;

// A replica as the core lists it: one slice.
void ReplicaToProto(const ReplicaView& replica, pb::Replica* out) {
  ToProto(replica.medium, replica.node, replica.status == ReplicaStatus::kComplete,
          std::span<const Allocation>(&replica.allocation, 1), out);
}

BlockChecksums BlockChecksumsFromProto(const pb::PutEndItem& item) {
  if (item.block_checksums_size() == 0) return nullptr;
  return std::make_shared<const std::vector<uint32_t>>(item.block_checksums().begin(),
                                                       item.block_checksums().end());
}

}  // namespace

MasterServiceImpl::MasterServiceImpl(MasterCore& core, const Clock& clock, MasterMetrics& metrics,
                                     uint64_t incarnation)
    : core_(core), clock_(clock), metrics_(metrics), incarnation_(incarnation) {}

Status MasterServiceImpl::CheckBatchSize(int items) {
  if (static_cast<size_t>(items) > kMaxBatchItems) {
    return Status(StatusCode::kInvalidParams, "batch of " + std::to_string(items) +
                                                  " items exceeds the limit of " +
                                                  std::to_string(kMaxBatchItems));
  }
  return Status::Ok();
}

grpc::Status MasterServiceImpl::Ping(grpc::ServerContext* ctx, const pb::PingRequest* req,
                                     pb::PingResponse* resp) {
  // Ping answers even a wrong protocol version with the master's own, so a client can say
  // which versions disagree.
  resp->set_protocol_version(kMasterProtocolVersion);
  resp->set_master_incarnation(incarnation_);
  resp->set_object_store_url(object_tier_.url);
  resp->set_object_store_endpoint(object_tier_.endpoint);
  resp->set_object_store_region(object_tier_.region);
  resp->set_object_store_policy(ObjectTierPolicyName(object_tier_.policy));
  return Serve(MasterRpc::kPing, ctx, *req, resp, [] { return Status::Ok(); });
}

grpc::Status MasterServiceImpl::MountSegment(grpc::ServerContext* ctx,
                                             const pb::MountSegmentRequest* req,
                                             pb::MountSegmentResponse* resp) {
  return Serve(MasterRpc::kMountSegment, ctx, *req, resp, [&]() -> Status {
    MC_ASSIGN_OR_RETURN(SegmentSpec spec, FromProto(req->segment()));
    std::vector<ManifestEntry> manifest;
    manifest.reserve(req->manifest_size());
    for (const pb::ManifestEntry& entry : req->manifest()) manifest.push_back(FromProto(entry));
    MC_ASSIGN_OR_RETURN(MountReport report, WithCore([&](MasterCore& core) {
                          return core.MountWithManifest(spec, manifest);
                        }));
    resp->set_adopted(report.adopted);
    resp->set_skipped_conflict(report.skipped_conflict);
    resp->set_skipped_invalid(report.skipped_invalid);
    for (std::string& key : report.rejected_keys) resp->add_rejected_keys(std::move(key));
    return Status::Ok();
  });
}

grpc::Status MasterServiceImpl::UnmountSegment(grpc::ServerContext* ctx,
                                               const pb::UnmountSegmentRequest* req,
                                               pb::UnmountSegmentResponse* resp) {
  return Serve(MasterRpc::kUnmountSegment, ctx, *req, resp, [&] {
    return WithCore(
        [&](MasterCore& core) { return core.Unmount(req->name(), req->node_id(), req->epoch()); });
  });
}

grpc::Status MasterServiceImpl::Heartbeat(grpc::ServerContext* ctx, const pb::HeartbeatRequest* req,
                                          pb::HeartbeatResponse* resp) {
  return Serve(MasterRpc::kHeartbeat, ctx, *req, resp, [&] {
    const auto wait =
        std::chrono::milliseconds(std::min<uint32_t>(req->wait_ms(), kMaxHeartbeatWaitMs));
    return HeartbeatAndCollect(*ctx, *req, wait, resp);
  });
}

Status MasterServiceImpl::HeartbeatAndCollect(const grpc::ServerContext& ctx,
                                              const pb::HeartbeatRequest& req,
                                              std::chrono::milliseconds wait,
                                              pb::HeartbeatResponse* resp) {
  const auto deadline = std::min(std::chrono::system_clock::now() + wait, ctx.deadline());
  std::unique_lock lock(core_mutex_);
  MC_RETURN_IF_ERROR(core_.Heartbeat(req.node_id(), req.epoch()));
  if (req.copy_results_size() > 0) {
    const uint64_t events = core_.NodeEventCount();
    for (const pb::CopyResult& result : req.copy_results()) {
      const Status reported = FromProto(result.status());
      Result<RepairOutcome> outcome =
          core_.CompleteRepair(result.task_id(), req.node_id(), reported);
      if (!reported.ok()) {
        MC_LOG_WARN("copy task {} on node '{}' failed: {}", result.task_id(), req.node_id(),
                    reported.ToString());
      } else if (!outcome.ok()) {
        MC_LOG_DEBUG("copy task {} of node '{}' not taken: {}", result.task_id(), req.node_id(),
                     outcome.status().ToString());
      }
    }
    // Accepted copies are manifest changes: wake the node's own long poll.
    if (core_.NodeEventCount() != events) manifest_changed_.notify_all();
  }
  for (const pb::UploadResult& result : req.upload_results()) {
    const Status reported = FromProto(result.status());
    // Counted in object_upload_failures; the node logs them (rate-limited).
    if (!reported.ok()) {
      MC_LOG_DEBUG("upload task {} on node '{}' failed: {}", result.task_id(), req.node_id(),
                   reported.ToString());
    }
    Status taken = core_.CompleteUpload(result.task_id(), req.node_id(), reported);
    if (!taken.ok()) {
      MC_LOG_DEBUG("upload task {} of node '{}' not taken: {}", result.task_id(), req.node_id(),
                   taken.ToString());
    }
  }
  for (;;) {
    // The core may change between rounds (a remount); a segment it no longer knows for this
    // node fails the beat, so the node learns it must mount again.
    size_t delivered = 0;
    resp->clear_manifest_deltas();
    for (const pb::ManifestAck& ack : req.manifest_acks()) {
      MC_ASSIGN_OR_RETURN(
          ManifestBatch batch,
          core_.TakeManifestChanges(ack.segment(), req.node_id(), ack.acked_seq(), kMaxBatchItems));
      if (batch.changes.empty()) continue;
      delivered += batch.changes.size();
      pb::ManifestDelta* delta = resp->add_manifest_deltas();
      delta->set_segment(ack.segment());
      delta->set_first_seq(batch.first_seq);
      for (const ManifestChange& change : batch.changes) {
        pb::ManifestChange* out = delta->add_changes();
        out->set_removed(change.removed);
        ToProto(change.entry, out->mutable_entry());
      }
    }
    resp->clear_copy_tasks();
    for (const CopyTask& task : core_.TakeCopyTasks(req.node_id(), kMaxCopyTasksPerBeat)) {
      ToProto(task, resp->add_copy_tasks());
    }
    resp->clear_upload_tasks();
    for (const UploadTask& task : core_.TakeUploadTasks(req.node_id(), kMaxCopyTasksPerBeat)) {
      ToProto(task, resp->add_upload_tasks());
    }
    if (delivered > 0 || resp->copy_tasks_size() > 0 || resp->upload_tasks_size() > 0 ||
        req.manifest_acks().empty()) {
      return Status::Ok();
    }
    const uint64_t seen = core_.NodeEventCount();
    if (!manifest_changed_.wait_until(
            lock, deadline, [&] { return core_.NodeEventCount() != seen || ctx.IsCancelled(); })) {
      return Status::Ok();
    }
    if (ctx.IsCancelled()) return Status::Ok();
    // Let changes that follow closely (a client's next put) join this reply: under load a
    // node then costs the master one heartbeat per few puts, not one per put.
    lock.unlock();
    std::this_thread::sleep_for(kHeartbeatCoalesce);
    lock.lock();
  }
}

grpc::Status MasterServiceImpl::BatchPutStart(grpc::ServerContext* ctx,
                                              const pb::BatchPutStartRequest* req,
                                              pb::BatchPutStartResponse* resp) {
  return Serve(MasterRpc::kPutStart, ctx, *req, resp, [&]() -> Status {
    MC_RETURN_IF_ERROR(CheckBatchSize(req->items_size()));
    MC_ASSIGN_OR_RETURN(ReplicateConfig config, FromProto(req->config()));
    if (req->config().soft_pin_ttl_ms() > kMaxSoftPinTtlMs) {
      return Status(StatusCode::kInvalidParams,
                    "soft_pin_ttl_ms " + std::to_string(req->config().soft_pin_ttl_ms()) +
                        " exceeds one year");
    }
    std::vector<Result<PutStartResult>> results;
    results.reserve(req->items_size());
    WithCore([&](MasterCore& core) {
      for (const pb::PutStartItem& item : req->items()) {
        results.push_back(req->upsert() ? core.UpsertStart(item.key(), item.size(), config)
                                        : core.PutStart(item.key(), item.size(), config));
      }
    });
    for (const Result<PutStartResult>& result : results) {
      pb::PutStartResult* out = resp->add_results();
      ToProto(result.status(), out->mutable_status());
      if (!result.ok()) {
        metrics_.RecordItemError(MasterRpc::kPutStart, result.status());
        continue;
      }
      for (const ReplicaView& replica : result->replicas)
        ReplicaToProto(replica, out->add_replicas());
      out->set_replicas_short(result->replicas_short);
      out->set_version(result->version);
    }
    return Status::Ok();
  });
}

grpc::Status MasterServiceImpl::BatchPutEnd(grpc::ServerContext* ctx,
                                            const pb::BatchPutEndRequest* req,
                                            pb::BatchStatusResponse* resp) {
  return Serve(MasterRpc::kPutEnd, ctx, *req, resp, [&]() -> Status {
    MC_RETURN_IF_ERROR(CheckBatchSize(req->items_size()));
    std::vector<Status> results;
    results.reserve(req->items_size());
    WithCore([&](MasterCore& core) {
      for (const pb::PutEndItem& item : req->items()) {
        results.push_back(core.PutEnd(item.key(), item.checksum(), BlockChecksumsFromProto(item)));
      }
    });
    for (const Status& result : results) {
      ToProto(result, resp->add_results());
      if (!result.ok()) metrics_.RecordItemError(MasterRpc::kPutEnd, result);
    }
    return Status::Ok();
  });
}

grpc::Status MasterServiceImpl::BatchPutRevoke(grpc::ServerContext* ctx,
                                               const pb::BatchKeysRequest* req,
                                               pb::BatchStatusResponse* resp) {
  return Serve(MasterRpc::kPutRevoke, ctx, *req, resp, [&]() -> Status {
    MC_RETURN_IF_ERROR(CheckBatchSize(req->keys_size()));
    std::vector<Status> results;
    results.reserve(req->keys_size());
    WithCore([&](MasterCore& core) {
      for (const std::string& key : req->keys()) results.push_back(core.PutRevoke(key));
    });
    for (const Status& result : results) {
      ToProto(result, resp->add_results());
      if (!result.ok()) metrics_.RecordItemError(MasterRpc::kPutRevoke, result);
    }
    return Status::Ok();
  });
}

grpc::Status MasterServiceImpl::BatchGetReplicaList(grpc::ServerContext* ctx,
                                                    const pb::BatchKeysRequest* req,
                                                    pb::BatchGetReplicaListResponse* resp) {
  return Serve(MasterRpc::kGetReplicaList, ctx, *req, resp, [&]() -> Status {
    MC_RETURN_IF_ERROR(CheckBatchSize(req->keys_size()));
    std::vector<Result<ObjectView>> results;
    results.reserve(req->keys_size());
    TimePoint now;
    WithCore([&](MasterCore& core) {
      now = clock_.Now();
      for (const std::string& key : req->keys()) results.push_back(core.GetReplicaList(key));
    });
    for (const Result<ObjectView>& result : results) {
      pb::GetReplicaListResult* out = resp->add_results();
      ToProto(result.status(), out->mutable_status());
      metrics_.RecordLookup(result.ok());
      if (!result.ok()) {
        if (result.status().code() != StatusCode::kObjectNotFound) {
          metrics_.RecordItemError(MasterRpc::kGetReplicaList, result.status());
        }
        continue;
      }
      out->set_size(result->size);
      out->set_version(result->version);
      out->set_checksum(result->checksum);
      if (result->block_checksums != nullptr) {
        out->mutable_block_checksums()->Add(result->block_checksums->begin(),
                                            result->block_checksums->end());
      }
      for (const ReplicaView& replica : result->replicas)
        ReplicaToProto(replica, out->add_replicas());
      const auto ttl =
          std::chrono::duration_cast<std::chrono::milliseconds>(result->lease_until - now);
      out->set_lease_ttl_ms(ttl.count() > 0 ? static_cast<uint64_t>(ttl.count()) : 0);
    }
    return Status::Ok();
  });
}

grpc::Status MasterServiceImpl::BatchExistKey(grpc::ServerContext* ctx,
                                              const pb::BatchKeysRequest* req,
                                              pb::BatchExistKeyResponse* resp) {
  return Serve(MasterRpc::kExistKey, ctx, *req, resp, [&]() -> Status {
    MC_RETURN_IF_ERROR(CheckBatchSize(req->keys_size()));
    std::vector<Result<bool>> results;
    results.reserve(req->keys_size());
    WithCore([&](MasterCore& core) {
      for (const std::string& key : req->keys()) results.push_back(core.ExistKey(key));
    });
    for (const Result<bool>& result : results) {
      pb::ExistResult* out = resp->add_results();
      ToProto(result.status(), out->mutable_status());
      if (result.ok()) {
        out->set_exists(*result);
      } else {
        metrics_.RecordItemError(MasterRpc::kExistKey, result.status());
      }
    }
    return Status::Ok();
  });
}

grpc::Status MasterServiceImpl::BatchGetSize(grpc::ServerContext* ctx,
                                             const pb::BatchKeysRequest* req,
                                             pb::BatchGetSizeResponse* resp) {
  return Serve(MasterRpc::kGetSize, ctx, *req, resp, [&]() -> Status {
    MC_RETURN_IF_ERROR(CheckBatchSize(req->keys_size()));
    std::vector<Result<uint64_t>> results;
    results.reserve(req->keys_size());
    WithCore([&](MasterCore& core) {
      for (const std::string& key : req->keys()) results.push_back(core.GetSize(key));
    });
    for (const Result<uint64_t>& result : results) {
      pb::SizeResult* out = resp->add_results();
      ToProto(result.status(), out->mutable_status());
      if (result.ok()) {
        out->set_size(*result);
      } else if (result.status().code() != StatusCode::kObjectNotFound) {
        metrics_.RecordItemError(MasterRpc::kGetSize, result.status());
      }
    }
    return Status::Ok();
  });
}

grpc::Status MasterServiceImpl::BatchRemove(grpc::ServerContext* ctx,
                                            const pb::BatchRemoveRequest* req,
                                            pb::BatchStatusResponse* resp) {
  return Serve(MasterRpc::kRemove, ctx, *req, resp, [&]() -> Status {
    MC_RETURN_IF_ERROR(CheckBatchSize(req->keys_size()));
    const RemoveMode mode = req->force() ? RemoveMode::kForce : RemoveMode::kNormal;
    std::vector<Status> results;
    results.reserve(req->keys_size());
    WithCore([&](MasterCore& core) {
      for (const std::string& key : req->keys()) results.push_back(core.Remove(key, mode));
    });
    for (const Status& result : results) {
      ToProto(result, resp->add_results());
      if (!result.ok()) metrics_.RecordItemError(MasterRpc::kRemove, result);
    }
    return Status::Ok();
  });
}

grpc::Status MasterServiceImpl::GetClusterInfo(grpc::ServerContext* ctx,
                                               const pb::GetClusterInfoRequest* req,
                                               pb::GetClusterInfoResponse* resp) {
  return Serve(MasterRpc::kGetClusterInfo, ctx, *req, resp, [&]() -> Status {
    ClusterInfo info;
    WithCore([&](MasterCore& core) {
      info.manifest_backlog = core.ManifestBacklog();
      info.segments = core.segment_pool().List();
      info.objects = core.ObjectCount();
      info.objects_below_replica_target = core.ObjectsBelowReplicaTarget();
      info.repairs_in_flight = core.RepairsInFlight();
      info.repairs = core.repair_stats();
      info.tier = core.tier_stats();
      info.integrity = core.integrity_stats();
    });
    info.lookups_hit = metrics_.lookups_hit();
    info.lookups_miss = metrics_.lookups_miss();
    if (!object_tier_.url.empty()) {
      info.object_store_policy = ObjectTierPolicyName(object_tier_.policy);
    }
    ToProto(info, resp);
    return Status::Ok();
  });
}

grpc::Status MasterServiceImpl::Drain(grpc::ServerContext* ctx, const pb::DrainRequest* req,
                                      pb::DrainResponse* resp) {
  return Serve(MasterRpc::kDrain, ctx, *req, resp, [&]() -> Status {
    MC_ASSIGN_OR_RETURN(size_t remaining, WithCore([&](MasterCore& core) -> Result<size_t> {
                          MC_ASSIGN_OR_RETURN(size_t left,
                                              core.Drain(req->node_id(), req->epoch()));
                          // Start the copies now rather than at the next tick.
                          if (left > 0) {
                            core.ScheduleRepairs(std::min(left, kMaxCopyTasksPerBeat));
                          }
                          return left;
                        }));
    resp->set_remaining(remaining);
    return Status::Ok();
  });
}

grpc::Status MasterServiceImpl::ReportCorruptReplicas(grpc::ServerContext* ctx,
                                                      const pb::ReportCorruptReplicasRequest* req,
                                                      pb::BatchStatusResponse* resp) {
  return Serve(MasterRpc::kReportCorruptReplicas, ctx, *req, resp, [&]() -> Status {
    MC_RETURN_IF_ERROR(CheckBatchSize(req->items_size()));
    std::vector<Result<CorruptReplicaOutcome>> results;
    results.reserve(req->items_size());
    WithCore([&](MasterCore& core) {
      for (const pb::CorruptReplicaReport& item : req->items()) {
        results.push_back(
            core.ReportCorruptReplica(item.key(), item.version(), item.segment(), item.address()));
      }
    });
    for (int i = 0; i < req->items_size(); ++i) {
      const pb::CorruptReplicaReport& item = req->items(i);
      ToProto(results[i].status(), resp->add_results());
      if (!results[i].ok()) {
        metrics_.RecordItemError(MasterRpc::kReportCorruptReplicas, results[i].status());
        continue;
      }
      MC_LOG_WARN("corrupt replica of '{}' (version {}) at {} {:#x} reported by '{}': {}",
                  item.key(), item.version(), item.segment(), item.address(),
                  req->header().client_id(), CorruptReplicaOutcomeName(*results[i]));
    }
    return Status::Ok();
  });
}

}  // namespace mooncake::master
