// ClientImpl's writes: puts from registered memory (zero-copy) and of plain bytes through
// the staging buffer, batched (PutStart, transfers, PutEnd / PutRevoke) or in staging-sized
// pieces for a value larger than the staging buffer.

#include <algorithm>
#include <cstring>
#include <utility>

#include "client/client_impl.h"
#include "common/logging.h"
#include "mooncake/common/crc32c.h"

namespace mooncake::store {
namespace {

// The caller's config as the master gets it: `from_object_store` is the client's to set (a
// read-through's put-back, which needs no upload), never the caller's.
ReplicateConfig ForMaster(const ReplicateConfig& config, bool from_object_store) {
  ReplicateConfig out = config;
  out.from_object_store = from_object_store;
  return out;
}

// Copies the request-level failure of a batch RPC into every item.
template <typename T>
std::vector<Status> Broadcast(const Result<T>& failed, size_t n) {
  return std::vector<Status>(n, failed.status());
}

}  // namespace

std::vector<Status> ClientImpl::WriteRegistered(const std::vector<WriteItem>& items,
                                                const ReplicateConfig& config, PutMode mode,
                                                bool upload) {
  std::vector<master::PutStartItem> starts;
  starts.reserve(items.size());
  for (const WriteItem& item : items) starts.push_back({item.key, item.length});
  auto started = master_->BatchPutStart(starts, ForMaster(config, !upload), mode);
  if (!started.ok()) return Broadcast(started, items.size());

  std::vector<Status> results(items.size());
  std::vector<transfer::TransferRequest> requests;
  std::vector<size_t> owner;  // item index of each request
  for (size_t i = 0; i < items.size(); ++i) {
    if (!(*started)[i].ok()) {
      results[i] = (*started)[i].status();
      continue;
    }
    for (const ReplicaLocation& replica : (*started)[i]->replicas) {
      const size_t before = requests.size();
      Status built =
          AppendRequests(replica, 0, items[i].length, const_cast<uint8_t*>(items[i].data),
                         transfer::TransferOpcode::kWrite, requests);
      owner.resize(requests.size(), i);
      if (!built.ok()) {
        results[i] = built;
        requests.resize(before);
        owner.resize(before);
      }
    }
  }
  const std::vector<Status> transferred = runner_->Run(requests);
  for (size_t r = 0; r < transferred.size(); ++r) {
    if (!transferred[r].ok() && results[owner[r]].ok()) {
      results[owner[r]] = transferred[r].WithContext("writing '" + items[owner[r]].key + "'");
    }
  }

  std::vector<master::PutEndItem> ends;
  std::vector<size_t> end_index;
  std::vector<std::string> revokes;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!(*started)[i].ok()) continue;  // nothing to end or revoke
    if (results[i].ok() && upload) {
      results[i] = UploadForPut(items[i].key, {items[i].data, items[i].length});
    }
    if (results[i].ok()) {
      ObjectChecksums sums = ComputeObjectChecksums(items[i].data, items[i].length);
      ends.push_back({items[i].key, sums.whole, std::move(sums.blocks)});
      end_index.push_back(i);
    } else {
      revokes.push_back(items[i].key);
    }
  }
  if (!revokes.empty()) {
    // Best effort: a revoke that fails (master unreachable) is reclaimed by the put timeout.
    auto revoked = master_->BatchPutRevoke(revokes);
    if (!revoked.ok()) MC_LOG_WARN("PutRevoke failed: {}", revoked.status().ToString());
  }
  if (!ends.empty()) {
    auto ended = master_->BatchPutEnd(ends);
    for (const master::PutEndItem& end : ends) cache_.Erase(end.key);
    for (size_t e = 0; e < end_index.size(); ++e) {
      results[end_index[e]] = ended.ok() ? (*ended)[e] : ended.status();
    }
  }
  return results;
}

// ---- Zero-copy -------------------------------------------------------------------------------

Status ClientImpl::PutFrom(const std::string& key, const void* address, size_t length,
                           const ReplicateConfig& config, PutMode mode) {
  return BatchPutFrom({key}, {address}, {length}, config, mode)[0];
}

std::vector<Status> ClientImpl::BatchPutFrom(const std::vector<std::string>& keys,
                                             const std::vector<const void*>& addresses,
                                             const std::vector<size_t>& lengths,
                                             const ReplicateConfig& config, PutMode mode) {
  if (addresses.size() != keys.size() || lengths.size() != keys.size()) {
    return std::vector<Status>(keys.size(), Status(StatusCode::kInvalidParams,
                                                   "keys, addresses and lengths differ in size"));
  }
  std::vector<WriteItem> items;
  items.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    items.push_back({keys[i], static_cast<const uint8_t*>(addresses[i]), lengths[i]});
  }
  return WriteRegistered(items, config, mode);
}

// ---- Plain bytes -----------------------------------------------------------------------------

Status ClientImpl::Put(const std::string& key, std::span<const uint8_t> value,
                       const ReplicateConfig& config, PutMode mode) {
  return BatchPut({key}, {value}, config, mode)[0];
}

std::vector<Status> ClientImpl::BatchPut(const std::vector<std::string>& keys,
                                         const std::vector<std::span<const uint8_t>>& values,
                                         const ReplicateConfig& config, PutMode mode) {
  return PutValues(keys, values, config, mode, /*upload=*/true);
}

std::vector<Status> ClientImpl::PutValues(const std::vector<std::string>& keys,
                                          const std::vector<std::span<const uint8_t>>& values,
                                          const ReplicateConfig& config, PutMode mode,
                                          bool upload) {
  if (values.size() != keys.size()) {
    return std::vector<Status>(
        keys.size(), Status(StatusCode::kInvalidParams, "keys and values differ in size"));
  }
  uint64_t total = 0;
  for (const auto& value : values) total += value.size();
  if (total == 0 || total > staging_->size()) {
    // Too big to stage at once (or nothing to stage): one key at a time, in pieces.
    std::vector<Status> results;
    for (size_t i = 0; i < keys.size(); ++i) {
      results.push_back(values[i].size() <= staging_->size() && values[i].size() > 0
                            ? PutValues({keys[i]}, {values[i]}, config, mode, upload)[0]
                            : PutChunked(keys[i], values[i], config, mode, upload));
    }
    return results;
  }
  auto piece = staging_->Acquire(total, options_.transfer_timeout);
  if (!piece.ok()) return std::vector<Status>(keys.size(), piece.status());
  std::vector<WriteItem> items;
  uint64_t offset = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    std::memcpy(piece->data() + offset, values[i].data(), values[i].size());
    items.push_back({keys[i], piece->data() + offset, values[i].size()});
    offset += values[i].size();
  }
  return WriteRegistered(items, config, mode, upload);
}

Status ClientImpl::PutChunked(const std::string& key, std::span<const uint8_t> value,
                              const ReplicateConfig& config, PutMode mode, bool upload) {
  MC_ASSIGN_OR_RETURN(master::PutStartReply start,
                      master_->PutStart(key, value.size(), ForMaster(config, !upload), mode));
  auto fail = [&](const Status& status) {
    master_->PutRevoke(key).IgnoreError();  // else reclaimed by the put timeout
    return status.WithContext("writing '" + key + "'");
  };
  const uint64_t chunk = staging_->size();
  for (uint64_t offset = 0; offset < value.size(); offset += chunk) {
    const uint64_t length = std::min<uint64_t>(chunk, value.size() - offset);
    auto piece = staging_->Acquire(length, options_.transfer_timeout);
    if (!piece.ok()) return fail(piece.status());
    std::memcpy(piece->data(), value.data() + offset, length);
    std::vector<transfer::TransferRequest> requests;
    for (const ReplicaLocation& replica : start.replicas) {
      if (Status s = AppendRequests(replica, offset, length, piece->data(),
                                    transfer::TransferOpcode::kWrite, requests);
          !s.ok()) {
        return fail(s);
      }
    }
    for (const Status& s : runner_->Run(requests)) {
      if (!s.ok()) return fail(s);
    }
  }
  if (upload) {
    if (Status uploaded = UploadForPut(key, value); !uploaded.ok()) return fail(uploaded);
  }
  ObjectChecksums sums = ComputeObjectChecksums(value.data(), value.size());
  Status ended = master_->PutEnd(key, sums.whole, std::move(sums.blocks));
  cache_.Erase(key);
  return ended;
}

}  // namespace mooncake::store
