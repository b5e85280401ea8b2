#include "master/service/in_process_master.h"

#include <chrono>

#include "master/codec/master_protocol.h"

namespace mooncake::master {
namespace {

// A replica as the master lists it to clients: one slice (MasterServiceImpl's ReplicaToProto,
// then MasterClient's FromProto, without the wire in between).
ReplicaLocation LocationOf(const ReplicaView& replica) {
  return ReplicaLocation{replica.medium,
                         replica.node,
                         replica.status == ReplicaStatus::kComplete,
                         {replica.allocation}};
}

// InProcessMaster::Connect's handle.
class Connection final : public MasterApi {
 public:
  explicit Connection(MasterApi& master) : master_(master) {}

  Result<PingReply> Ping() override { return master_.Ping(); }
  using MasterApi::BatchPutStart;
  Result<std::vector<Result<PutStartReply>>> BatchPutStart(const std::vector<PutStartItem>& items,
                                                           const ReplicateConfig& config,
                                                           PutMode mode) override {
    return master_.BatchPutStart(items, config, mode);
  }
  Result<std::vector<Status>> BatchPutEnd(const std::vector<PutEndItem>& items) override {
    return master_.BatchPutEnd(items);
  }
  Result<std::vector<Status>> BatchPutRevoke(const std::vector<std::string>& keys) override {
    return master_.BatchPutRevoke(keys);
  }
  Result<std::vector<Result<ReplicaListReply>>> BatchGetReplicaList(
      const std::vector<std::string>& keys) override {
    return master_.BatchGetReplicaList(keys);
  }
  Result<std::vector<Result<bool>>> BatchExistKey(const std::vector<std::string>& keys) override {
    return master_.BatchExistKey(keys);
  }
  Result<std::vector<Result<uint64_t>>> BatchGetSize(
      const std::vector<std::string>& keys) override {
    return master_.BatchGetSize(keys);
  }
  Result<std::vector<Status>> BatchRemove(const std::vector<std::string>& keys,
                                          RemoveMode mode) override {
    return master_.BatchRemove(keys, mode);
  }
  Result<uint64_t> RemoveByRegex(const std::string& pattern, RemoveMode mode) override {
    return master_.RemoveByRegex(pattern, mode);
  }
  Result<uint64_t> RemoveAll(RemoveMode mode) override { return master_.RemoveAll(mode); }
  Result<std::vector<Status>> ReportCorruptReplicas(
      const std::vector<CorruptReplicaReport>& reports) override {
    return master_.ReportCorruptReplicas(reports);
  }

 private:
  MasterApi& master_;
};

}  // namespace

std::unique_ptr<MasterApi> InProcessMaster::Connect() {
  return std::make_unique<Connection>(*this);
}

Result<std::unique_ptr<InProcessMaster>> InProcessMaster::Create(MasterCoreOptions options,
                                                                 const Clock& clock,
                                                                 ObjectTierConfig object_tier) {
  MC_RETURN_IF_ERROR(object_tier.Validate());
  // As MasterServer configures its core: the policy decides what the master tracks (uploads).
  if (object_tier.enabled()) options.object_tier = object_tier.policy;
  MC_ASSIGN_OR_RETURN(std::unique_ptr<MasterCore> core, MasterCore::Create(options, clock));
  return std::unique_ptr<InProcessMaster>(
      new InProcessMaster(std::move(core), clock, std::move(object_tier)));
}

InProcessMaster::CallCounts InProcessMaster::calls() const {
  return {put_start_.load(), put_end_.load(), put_revoke_.load(), get_replica_list_.load(),
          report_corrupt_.load()};
}

Result<PingReply> InProcessMaster::Ping() {
  return PingReply{kMasterProtocolVersion, /*master_incarnation=*/1, object_tier_};
}

Result<std::vector<Result<PutStartReply>>> InProcessMaster::BatchPutStart(
    const std::vector<PutStartItem>& items, const ReplicateConfig& config, PutMode mode) {
  ++put_start_;
  // MasterClient refuses these before sending (the wire would read 0 as 1).
  if (config.replica_num < 1 || config.replica_num > kMaxReplicaNum) {
    return Status(StatusCode::kInvalidParams, "replica_num " + std::to_string(config.replica_num) +
                                                  " outside 1.." + std::to_string(kMaxReplicaNum));
  }
  std::vector<Result<PutStartReply>> replies;
  std::lock_guard lock(mutex_);
  for (const PutStartItem& item : items) {
    Result<PutStartResult> started = mode == PutMode::kUpsert
                                         ? core_->UpsertStart(item.key, item.size, config)
                                         : core_->PutStart(item.key, item.size, config);
    if (!started.ok()) {
      replies.push_back(started.status());
      continue;
    }
    PutStartReply reply;
    for (const ReplicaView& replica : started->replicas) {
      reply.replicas.push_back(LocationOf(replica));
    }
    reply.replicas_short = started->replicas_short;
    reply.version = started->version;
    replies.push_back(std::move(reply));
  }
  return replies;
}

Result<std::vector<Status>> InProcessMaster::BatchPutEnd(const std::vector<PutEndItem>& items) {
  ++put_end_;
  std::vector<Status> results;
  std::lock_guard lock(mutex_);
  for (const PutEndItem& item : items) {
    results.push_back(core_->PutEnd(item.key, item.checksum, item.block_checksums));
  }
  return results;
}

Result<std::vector<Status>> InProcessMaster::BatchPutRevoke(const std::vector<std::string>& keys) {
  ++put_revoke_;
  std::vector<Status> results;
  std::lock_guard lock(mutex_);
  for (const std::string& key : keys) results.push_back(core_->PutRevoke(key));
  return results;
}

Result<std::vector<Result<ReplicaListReply>>> InProcessMaster::BatchGetReplicaList(
    const std::vector<std::string>& keys) {
  ++get_replica_list_;
  std::vector<Result<ReplicaListReply>> replies;
  std::lock_guard lock(mutex_);
  const auto now = clock_.Now();
  for (const std::string& key : keys) {
    Result<ObjectView> object = core_->GetReplicaList(key);
    if (!object.ok()) {
      replies.push_back(object.status());
      continue;
    }
    ReplicaListReply reply;
    reply.size = object->size;
    reply.version = object->version;
    reply.checksum = object->checksum;
    reply.block_checksums = object->block_checksums;
    for (const ReplicaView& replica : object->replicas) {
      reply.replicas.push_back(LocationOf(replica));
    }
    const auto ttl =
        std::chrono::duration_cast<std::chrono::milliseconds>(object->lease_until - now);
    reply.lease_ttl = std::max(ttl, std::chrono::milliseconds(0));
    replies.push_back(std::move(reply));
  }
  return replies;
}

Result<std::vector<Result<bool>>> InProcessMaster::BatchExistKey(
    const std::vector<std::string>& keys) {
  std::vector<Result<bool>> results;
  std::lock_guard lock(mutex_);
  for (const std::string& key : keys) results.push_back(core_->ExistKey(key));
  return results;
}

Result<std::vector<Result<uint64_t>>> InProcessMaster::BatchGetSize(
    const std::vector<std::string>& keys) {
  std::vector<Result<uint64_t>> results;
  std::lock_guard lock(mutex_);
  for (const std::string& key : keys) results.push_back(core_->GetSize(key));
  return results;
}

Result<std::vector<Status>> InProcessMaster::BatchRemove(const std::vector<std::string>& keys,
                                                         RemoveMode mode) {
  std::vector<Status> results;
  std::lock_guard lock(mutex_);
  for (const std::string& key : keys) results.push_back(core_->Remove(key, mode));
  return results;
}

Result<uint64_t> InProcessMaster::RemoveByRegex(const std::string& pattern, RemoveMode mode) {
  std::lock_guard lock(mutex_);
  MC_ASSIGN_OR_RETURN(size_t removed, core_->RemoveByRegex(pattern, mode));
  return removed;
}

Result<uint64_t> InProcessMaster::RemoveAll(RemoveMode mode) {
  std::lock_guard lock(mutex_);
  return core_->RemoveAll(mode);
}

Result<std::vector<Status>> InProcessMaster::ReportCorruptReplicas(
    const std::vector<CorruptReplicaReport>& reports) {
  ++report_corrupt_;
  std::vector<Status> results;
  std::lock_guard lock(mutex_);
  for (const CorruptReplicaReport& report : reports) {
    results.push_back(
        core_->ReportCorruptReplica(report.key, report.version, report.segment, report.address)
            .status());
  }
  return results;
}

}  // namespace mooncake::master
