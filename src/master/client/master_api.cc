#include "master/client/master_api.h"

#include <string>
#include <utility>

namespace mooncake::master {
namespace {

// The single result of a one-item batch.
template <typename T>
Result<T> Single(Result<std::vector<Result<T>>> batch) {
  if (!batch.ok()) return batch.status();
  if (batch->size() != 1) {
    return Status(StatusCode::kRpcFail, "master answered a one-key batch with " +
                                            std::to_string(batch->size()) + " results");
  }
  return std::move((*batch)[0]);
}

Status SingleStatus(Result<std::vector<Status>> batch) {
  if (!batch.ok()) return batch.status();
  if (batch->size() != 1) {
    return Status(StatusCode::kRpcFail, "master answered a one-key batch with " +
                                            std::to_string(batch->size()) + " results");
  }
  return (*batch)[0];
}

}  // namespace

Result<PutStartReply> MasterApi::PutStart(const std::string& key, uint64_t size,
                                          const ReplicateConfig& config, PutMode mode) {
  return Single(BatchPutStart({{key, size}}, config, mode));
}

Status MasterApi::PutEnd(const std::string& key, uint32_t checksum, BlockChecksums blocks) {
  return SingleStatus(BatchPutEnd({{key, checksum, std::move(blocks)}}));
}

Status MasterApi::PutRevoke(const std::string& key) { return SingleStatus(BatchPutRevoke({key})); }

Result<ReplicaListReply> MasterApi::GetReplicaList(const std::string& key) {
  return Single(BatchGetReplicaList({key}));
}

Result<bool> MasterApi::ExistKey(const std::string& key) { return Single(BatchExistKey({key})); }

Result<uint64_t> MasterApi::GetSize(const std::string& key) { return Single(BatchGetSize({key})); }

Status MasterApi::Remove(const std::string& key, RemoveMode mode) {
  return SingleStatus(BatchRemove({key}, mode));
}

}  // namespace mooncake::master
