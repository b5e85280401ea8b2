// ClientImpl: the client's own segment, multi-part puts and the index calls that are thin
// wrappers over one master RPC (batch remove, remove all, sizes, ping).

#include <algorithm>
#include <cstring>
#include <utility>

#include "client/client_impl.h"

namespace mooncake::store {

Status ClientImpl::MountSegment() {
  if (options_.global_segment_size == 0) return Status::Ok();
  node::StorageNodeOptions node;
  node.master_address = options_.master_address;
  node.listen = engine_->local_server_name();
  node.metadata_server = options_.metadata_server;
  node.protocol = options_.protocol;
  node.segment_size = options_.global_segment_size;
  node.rpc_timeout = options_.rpc_timeout;
  node.engine = engine_.get();
  node.auth_secret = options_.auth_secret;
  MC_ASSIGN_OR_RETURN(node_, node::StorageNode::Create(std::move(node)));
  return Status::Ok();
}

Status ClientImpl::PutParts(const std::string& key,
                            const std::vector<std::span<const uint8_t>>& parts,
                            const ReplicateConfig& config, PutMode mode) {
  if (parts.size() == 1) return Put(key, parts[0], config, mode);
  uint64_t total = 0;
  for (const auto& part : parts) total += part.size();
  if (total == 0 || total > staging_->size()) {
    // Too big to stage at once: assemble it, then the chunked Put moves it in pieces.
    std::vector<uint8_t> whole;
    whole.reserve(total);
    for (const auto& part : parts) whole.insert(whole.end(), part.begin(), part.end());
    return Put(key, whole, config, mode);
  }
  auto piece = staging_->Acquire(total, options_.transfer_timeout);
  if (!piece.ok()) return piece.status();
  uint64_t offset = 0;
  for (const auto& part : parts) {
    if (!part.empty()) std::memcpy(piece->data() + offset, part.data(), part.size());
    offset += part.size();
  }
  return WriteRegistered({{key, piece->data(), total}}, config, mode)[0];
}

std::vector<Status> ClientImpl::BatchRemove(const std::vector<std::string>& keys, RemoveMode mode) {
  if (keys.empty()) return {};
  ForgetLocations(keys);
  auto removed = master_->BatchRemove(keys, mode);
  if (!removed.ok()) return std::vector<Status>(keys.size(), removed.status());
  if (object_store_) {
    for (size_t i = 0; i < keys.size(); ++i) {
      (*removed)[i] = RemoveFromObjectTier(keys[i], (*removed)[i]);
    }
  }
  return std::move(*removed);
}

Result<uint64_t> ClientImpl::RemoveAll(RemoveMode mode) {
  cache_.Clear();
  MC_ASSIGN_OR_RETURN(uint64_t removed, master_->RemoveAll(mode));
  if (!object_store_) return removed;
  MC_ASSIGN_OR_RETURN(uint64_t in_store,
                      RemoveMatchingFromObjectTier([](const std::string&) { return true; }));
  return std::max(removed, in_store);
}

std::vector<Result<uint64_t>> ClientImpl::BatchGetSize(const std::vector<std::string>& keys) {
  if (keys.empty()) return {};
  auto sizes = master_->BatchGetSize(keys);
  if (!sizes.ok()) return std::vector<Result<uint64_t>>(keys.size(), sizes.status());
  for (size_t i = 0; i < keys.size(); ++i) {
    (*sizes)[i] = SizeInObjectTier(keys[i], std::move((*sizes)[i]));
  }
  return std::move(*sizes);
}

Status ClientImpl::Ping() { return master_->Ping().status(); }

}  // namespace mooncake::store
