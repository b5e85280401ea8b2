#include "client/client_impl.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <regex>
#include <utility>

#include "client/replica_ranges.h"
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

Status ClientOptions::Validate() const {
  if (master_address.empty()) {
    return Status(StatusCode::kInvalidParams, "client: master_address is empty");
  }
  if (local_buffer_size == 0) {
    return Status(StatusCode::kInvalidParams, "client: local_buffer_size must be > 0");
  }
  if (rpc_timeout.count() <= 0 || transfer_timeout.count() <= 0) {
    return Status(StatusCode::kInvalidParams, "client: timeouts must be > 0");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  return ClientImpl::Create(std::move(options));
}

Result<std::unique_ptr<Client>> ClientImpl::Create(ClientOptions options) {
  MC_RETURN_IF_ERROR(options.Validate());
  master::MasterClientOptions master_options;
  master_options.master_address = options.master_address;
  master_options.rpc_timeout = options.rpc_timeout;
  master_options.client_id = options.local_hostname;
  // Ride out a master restart: calls wait for it (up to rpc_timeout) instead of failing.
  master_options.wait_for_master = true;
  MC_ASSIGN_OR_RETURN(std::unique_ptr<master::MasterClient> master, master::MasterClient::Create(master_options));
  MC_ASSIGN_OR_RETURN(master::PingReply pong, master->Ping());

  transfer::TransferEngineOptions engine_options;
  engine_options.local_server_name = options.local_hostname;
  engine_options.metadata_server = options.metadata_server;
  engine_options.protocol = options.protocol;
  engine_options.transfer_timeout = options.transfer_timeout;
  MC_ASSIGN_OR_RETURN(std::unique_ptr<transfer::TransferEngine> engine,
                      transfer::TransferEngine::Create(engine_options));
  std::unique_ptr<ClientImpl> client(
      new ClientImpl(std::move(options), std::move(master), std::move(engine)));
  MC_ASSIGN_OR_RETURN(client->staging_,
                      StagingBuffer::Create(*client->engine_, client->options_.local_buffer_size));
  MC_RETURN_IF_ERROR(client->OpenObjectTier(pong.object_tier));
  MC_RETURN_IF_ERROR(client->MountSegment());
  return std::unique_ptr<Client>(std::move(client));
}

ClientImpl::ClientImpl(ClientOptions options, std::unique_ptr<master::MasterClient> master,
                       std::unique_ptr<transfer::TransferEngine> engine)
    : options_(std::move(options)),
      master_(std::move(master)),
      engine_(std::move(engine)),
      runner_(std::make_unique<TransferRunner>(*engine_, options_.transfer_timeout)),
      cache_(options_.location_cache_entries) {}

ClientImpl::~ClientImpl() {
  node_.reset();  // unmounts this client's segment while engine_ still serves it
  // The staging buffer belongs to the engine: release it before the engine goes.
  staging_.reset();
  runner_.reset();
  engine_.reset();
}

std::string ClientImpl::local_hostname() const { return engine_->local_server_name(); }

// ---- Transfers ------------------------------------------------------------------------------

Status ClientImpl::AppendRequests(const ReplicaLocation& replica, uint64_t offset, uint64_t length,
                                  uint8_t* local, transfer::TransferOpcode opcode,
                                  std::vector<transfer::TransferRequest>& requests) {
  if (length == 0) return Status::Ok();  // an empty object (or range) moves no bytes
  MC_ASSIGN_OR_RETURN(std::vector<RemotePiece> pieces, MapObjectRange(replica, offset, length));
  for (const RemotePiece& piece : pieces) {
    MC_ASSIGN_OR_RETURN(transfer::SegmentHandle segment, runner_->Segment(piece.segment));
    requests.push_back(
        {opcode, local + piece.range_offset, segment, piece.remote_address, piece.length});
  }
  return Status::Ok();
}

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
      ends.push_back({items[i].key, Crc32c(items[i].data, items[i].length)});
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

std::vector<Status> ClientImpl::ReadRegistered(const std::vector<ReadItem>& items) {
  std::vector<Status> results(items.size(), Status(StatusCode::kObjectNotFound, "no replica"));
  std::vector<size_t> pending;  // items still to read
  for (size_t i = 0; i < items.size(); ++i) pending.push_back(i);
  const uint64_t rotation = read_rotation_.fetch_add(1, std::memory_order_relaxed);
  std::vector<std::vector<size_t>> order(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    order[i] = ReplicaReadOrder(items[i].object->replicas, rotation);
  }
  for (size_t attempt = 0; !pending.empty(); ++attempt) {
    std::vector<transfer::TransferRequest> requests;
    std::vector<size_t> owner;
    std::vector<size_t> tried;
    // Bytes from SSD are always checked (a flipped bit on disk must never reach the caller),
    // when the item is the whole object.
    std::vector<bool> check(items.size(), false);
    for (size_t i : pending) {
      if (attempt >= order[i].size()) continue;  // out of replicas: keep the last error
      const ReplicaLocation& replica = items[i].object->replicas[order[i][attempt]];
      check[i] = items[i].verify || (replica.medium == Medium::kSsd && items[i].offset == 0 &&
                                     items[i].length == items[i].object->size);
      const size_t before = requests.size();
      Status built = AppendRequests(replica, items[i].offset, items[i].length, items[i].destination,
                                    transfer::TransferOpcode::kRead, requests);
      owner.resize(requests.size(), i);
      if (!built.ok()) {
        results[i] = built;
        requests.resize(before);
        owner.resize(before);
        tried.push_back(i);  // counts as a failed attempt on this replica
        continue;
      }
      results[i] = Status::Ok();
      tried.push_back(i);
    }
    if (tried.empty()) break;
    const std::vector<Status> transferred = runner_->Run(requests);
    for (size_t r = 0; r < transferred.size(); ++r) {
      if (!transferred[r].ok() && results[owner[r]].ok()) results[owner[r]] = transferred[r];
    }
    pending.clear();
    for (size_t i : tried) {
      if (results[i].ok() && check[i]) {
        const uint32_t crc = Crc32c(items[i].destination, items[i].length);
        if (crc != items[i].object->checksum) {
          results[i] = Status(StatusCode::kChecksumMismatch,
                              "CRC32C of the bytes read does not match the stored checksum");
        }
      }
      if (!results[i].ok()) pending.push_back(i);
    }
  }
  return results;
}

std::vector<Result<master::ReplicaListReply>> ClientImpl::Lookup(const std::vector<std::string>& keys,
                                                         bool use_cache,
                                                         std::vector<bool>& cached) {
  std::vector<Result<master::ReplicaListReply>> results(keys.size(), Status::Ok());
  cached.assign(keys.size(), false);
  std::vector<std::string> ask;
  std::vector<size_t> ask_index;
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (use_cache) {
      if (std::optional<master::ReplicaListReply> hit = cache_.Find(keys[i], now)) {
        results[i] = std::move(*hit);
        cached[i] = true;
        continue;
      }
    }
    ask.push_back(keys[i]);
    ask_index.push_back(i);
  }
  if (ask.empty()) return results;
  const auto sent = std::chrono::steady_clock::now();
  auto replies = master_->BatchGetReplicaList(ask);
  for (size_t j = 0; j < ask.size(); ++j) {
    const size_t i = ask_index[j];
    if (!replies.ok()) {
      results[i] = replies.status();
      continue;
    }
    results[i] = std::move((*replies)[j]);
    if (results[i].ok()) cache_.Insert(keys[i], *results[i], sent);
  }
  return results;
}

void ClientImpl::ForgetLocations(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) cache_.Erase(key);
}

void ClientImpl::NoteReadFailure(ReadPass& pass, size_t index, const std::string& key,
                                 const master::ReplicaListReply& object, bool cached) {
  // Dropped either way: the next read asks the master rather than retrying a location that
  // just failed.
  cache_.Erase(key);
  if (cached) {
    pass.stale.push_back(index);
  } else {
    pass.failed.push_back({index, object.size, object.checksum});
  }
}

// ---- Zero-copy -------------------------------------------------------------------------------

Status ClientImpl::RegisterBuffer(void* address, size_t length) {
  return engine_->RegisterLocalMemory(address, length);
}

Status ClientImpl::UnregisterBuffer(void* address) {
  return engine_->UnregisterLocalMemory(address);
}

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

Result<uint64_t> ClientImpl::GetInto(const std::string& key, void* address, size_t capacity) {
  return std::move(BatchGetInto({key}, {address}, {capacity})[0]);
}

std::vector<Result<uint64_t>> ClientImpl::BatchGetInto(const std::vector<std::string>& keys,
                                                       const std::vector<void*>& addresses,
                                                       const std::vector<size_t>& capacities) {
  if (addresses.size() != keys.size() || capacities.size() != keys.size()) {
    return std::vector<Result<uint64_t>>(
        keys.size(),
        Status(StatusCode::kInvalidParams, "keys, addresses and capacities differ in size"));
  }
  ReadPass pass;
  std::vector<Result<uint64_t>> results =
      BatchGetIntoOnce(keys, addresses, capacities, /*use_cache=*/true, pass);
  if (!pass.stale.empty()) {
    std::vector<std::string> again_keys;
    std::vector<void*> again_addresses;
    std::vector<size_t> again_capacities;
    for (size_t i : pass.stale) {
      again_keys.push_back(keys[i]);
      again_addresses.push_back(addresses[i]);
      again_capacities.push_back(capacities[i]);
    }
    ReadPass retry;
    std::vector<Result<uint64_t>> again =
        BatchGetIntoOnce(again_keys, again_addresses, again_capacities, false, retry);
    for (size_t j = 0; j < pass.stale.size(); ++j) results[pass.stale[j]] = std::move(again[j]);
    pass.AddRetry(retry);
  }
  ReadThroughInto(keys, addresses, capacities, results);
  FallThroughInto(keys, addresses, pass.failed, results);
  return results;
}

std::vector<Result<uint64_t>> ClientImpl::BatchGetIntoOnce(const std::vector<std::string>& keys,
                                                           const std::vector<void*>& addresses,
                                                           const std::vector<size_t>& capacities,
                                                           bool use_cache, ReadPass& pass) {
  std::vector<Result<uint64_t>> results;
  std::vector<bool> cached;
  std::vector<Result<master::ReplicaListReply>> objects = Lookup(keys, use_cache, cached);
  std::vector<ReadItem> items;
  std::vector<size_t> item_key;
  results.assign(keys.size(), Status::Ok());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!objects[i].ok()) {
      results[i] = objects[i].status();
      continue;
    }
    if (objects[i]->size > capacities[i]) {
      results[i] = Status(StatusCode::kBufferOverflow,
                          "object '" + keys[i] + "' has " + std::to_string(objects[i]->size) +
                              " bytes, buffer holds " + std::to_string(capacities[i]));
      continue;
    }
    items.push_back({&*objects[i], 0, objects[i]->size, static_cast<uint8_t*>(addresses[i]),
                     options_.verify_checksum});
    item_key.push_back(i);
  }
  const std::vector<Status> read = ReadRegistered(items);
  for (size_t n = 0; n < items.size(); ++n) {
    const size_t i = item_key[n];
    if (!read[n].ok()) NoteReadFailure(pass, i, keys[i], *objects[i], cached[i]);
    results[i] = read[n].ok() ? Result<uint64_t>(objects[i]->size)
                              : Result<uint64_t>(read[n].WithContext("reading '" + keys[i] + "'"));
  }
  return results;
}

std::vector<Status> ClientImpl::GetIntoRanges(const std::vector<GetRange>& ranges) {
  ReadPass pass;
  std::vector<Status> results = GetIntoRangesOnce(ranges, /*use_cache=*/true, pass);
  if (!pass.stale.empty()) {
    std::vector<GetRange> again_ranges;
    for (size_t r : pass.stale) again_ranges.push_back(ranges[r]);
    ReadPass retry;
    std::vector<Status> again = GetIntoRangesOnce(again_ranges, false, retry);
    for (size_t j = 0; j < pass.stale.size(); ++j) results[pass.stale[j]] = std::move(again[j]);
    pass.AddRetry(retry);
  }
  ReadRangesThrough(ranges, pass.failed, results);
  return results;
}

std::vector<Status> ClientImpl::GetIntoRangesOnce(const std::vector<GetRange>& ranges,
                                                  bool use_cache, ReadPass& pass) {
  std::vector<std::string> keys;
  std::map<std::string, size_t> key_index;
  for (const GetRange& range : ranges) {
    if (key_index.emplace(range.key, keys.size()).second) keys.push_back(range.key);
  }
  std::vector<bool> cached;
  std::vector<Result<master::ReplicaListReply>> objects = Lookup(keys, use_cache, cached);
  std::vector<Status> results(ranges.size());
  std::vector<ReadItem> items;
  std::vector<size_t> item_range;
  for (size_t r = 0; r < ranges.size(); ++r) {
    const GetRange& range = ranges[r];
    const Result<master::ReplicaListReply>& object = objects[key_index[range.key]];
    if (!object.ok()) {
      results[r] = object.status();
      continue;
    }
    if (range.source_offset > object->size || range.length > object->size - range.source_offset) {
      results[r] = Status(StatusCode::kInvalidParams,
                          "range [" + std::to_string(range.source_offset) + ", +" +
                              std::to_string(range.length) + ") is outside object '" + range.key +
                              "' of " + std::to_string(object->size) + " bytes");
      continue;
    }
    items.push_back({&*object, range.source_offset, range.length,
                     static_cast<uint8_t*>(range.destination), false});
    item_range.push_back(r);
  }
  const std::vector<Status> read = ReadRegistered(items);
  for (size_t n = 0; n < items.size(); ++n) {
    const size_t r = item_range[n];
    results[r] = read[n];
    const size_t k = key_index[ranges[r].key];
    if (!read[n].ok()) NoteReadFailure(pass, r, keys[k], *objects[k], cached[k]);
  }
  return results;
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
      if (Status s = AppendRequests(replica, offset, length, piece->data(), transfer::TransferOpcode::kWrite,
                                    requests);
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
  Status ended = master_->PutEnd(key, Crc32c(value.data(), value.size()));
  cache_.Erase(key);
  return ended;
}

Result<std::vector<uint8_t>> ClientImpl::Get(const std::string& key) {
  return std::move(BatchGet({key})[0]);
}

std::vector<Result<std::vector<uint8_t>>> ClientImpl::BatchGet(
    const std::vector<std::string>& keys) {
  ReadPass pass;
  std::vector<Result<std::vector<uint8_t>>> results = BatchGetOnce(keys, true, pass);
  if (!pass.stale.empty()) {
    std::vector<std::string> again_keys;
    for (size_t i : pass.stale) again_keys.push_back(keys[i]);
    ReadPass retry;
    std::vector<Result<std::vector<uint8_t>>> again = BatchGetOnce(again_keys, false, retry);
    for (size_t j = 0; j < pass.stale.size(); ++j) results[pass.stale[j]] = std::move(again[j]);
    pass.AddRetry(retry);
  }
  ReadThrough(keys, results);               // pool misses
  FallThrough(keys, pass.failed, results);  // objects whose every replica failed
  return results;
}

std::vector<Result<std::vector<uint8_t>>> ClientImpl::BatchGetOnce(
    const std::vector<std::string>& keys, bool use_cache, ReadPass& pass) {
  std::vector<bool> cached;
  std::vector<Result<master::ReplicaListReply>> objects = Lookup(keys, use_cache, cached);
  auto note_failure = [&](size_t i) { NoteReadFailure(pass, i, keys[i], *objects[i], cached[i]); };
  std::vector<Result<std::vector<uint8_t>>> results;
  results.reserve(keys.size());
  uint64_t total = 0;
  for (const auto& object : objects) total += object.ok() ? object->size : 0;
  if (total > 0 && total <= staging_->size()) {
    // Everything fits in staging at once: one transfer batch for all keys.
    auto piece = staging_->Acquire(total, options_.transfer_timeout);
    if (piece.ok()) {
      std::vector<ReadItem> items;
      std::vector<size_t> item_key;
      uint64_t offset = 0;
      for (size_t i = 0; i < keys.size(); ++i) {
        if (!objects[i].ok()) continue;
        items.push_back(
            {&*objects[i], 0, objects[i]->size, piece->data() + offset, options_.verify_checksum});
        item_key.push_back(i);
        offset += objects[i]->size;
      }
      const std::vector<Status> read = ReadRegistered(items);
      for (size_t i = 0; i < keys.size(); ++i) results.push_back(objects[i].status());
      for (size_t n = 0; n < items.size(); ++n) {
        const size_t i = item_key[n];
        if (!read[n].ok()) {
          note_failure(i);
          results[i] = read[n].WithContext("reading '" + keys[i] + "'");
          continue;
        }
        results[i] =
            std::vector<uint8_t>(items[n].destination, items[n].destination + items[n].length);
      }
      return results;
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!objects[i].ok()) {
      results.push_back(objects[i].status());
      continue;
    }
    // One key at a time through staging, in pieces of at most the staging size; the
    // checksum is verified on the assembled value.
    const master::ReplicaListReply& object = *objects[i];
    std::vector<uint8_t> value(object.size);
    Status status;
    bool staging_failed = false;
    const uint64_t chunk = staging_->size();
    for (uint64_t offset = 0; offset < object.size && status.ok(); offset += chunk) {
      const uint64_t length = std::min<uint64_t>(chunk, object.size - offset);
      auto piece = staging_->Acquire(length, options_.transfer_timeout);
      if (!piece.ok()) {
        status = piece.status();
        staging_failed = true;
        break;
      }
      status = ReadRegistered({{&object, offset, length, piece->data(), false}})[0];
      if (status.ok()) std::memcpy(value.data() + offset, piece->data(), length);
    }
    const bool on_ssd = std::any_of(object.replicas.begin(), object.replicas.end(),
                                    [](const auto& r) { return r.medium == Medium::kSsd; });
    if (status.ok() && (options_.verify_checksum || on_ssd) &&
        Crc32c(value.data(), value.size()) != object.checksum) {
      status = Status(StatusCode::kChecksumMismatch,
                      "CRC32C of the bytes read does not match the stored checksum");
    }
    if (status.ok()) {
      results.push_back(std::move(value));
    } else {
      // A staging timeout is this client's own contention, not a failure of the replicas:
      // retried through the master when the location was cached, never served by the object
      // store.
      if (!staging_failed || cached[i]) note_failure(i);
      results.push_back(status.WithContext("reading '" + keys[i] + "'"));
    }
  }
  return results;
}

// ---- Index ---------------------------------------------------------------------------------

Status ClientImpl::Remove(const std::string& key, RemoveMode mode) {
  cache_.Erase(key);
  return RemoveFromObjectTier(
      key, master_->Remove(key, mode));
}

Result<bool> ClientImpl::IsExist(const std::string& key) {
  return ExistsInObjectTier(key, master_->ExistKey(key));
}

Result<uint64_t> ClientImpl::GetSize(const std::string& key) {
  return SizeInObjectTier(key, master_->GetSize(key));
}

std::vector<Result<bool>> ClientImpl::BatchIsExist(const std::vector<std::string>& keys) {
  auto exists = master_->BatchExistKey(keys);
  if (!exists.ok()) return std::vector<Result<bool>>(keys.size(), exists.status());
  for (size_t i = 0; i < keys.size(); ++i) {
    (*exists)[i] = ExistsInObjectTier(keys[i], std::move((*exists)[i]));
  }
  return std::move(*exists);
}

Result<uint64_t> ClientImpl::RemoveByRegex(const std::string& pattern, RemoveMode mode) {
  cache_.Clear();
  MC_ASSIGN_OR_RETURN(uint64_t removed, master_->RemoveByRegex(pattern, mode));
  if (!object_store_) return removed;
  // The master checked the pattern: it compiles.
  const std::regex re(pattern, std::regex::ECMAScript);
  MC_ASSIGN_OR_RETURN(uint64_t in_store, RemoveMatchingFromObjectTier([&](const std::string& key) {
                        return std::regex_search(key, re);
                      }));
  return std::max(removed, in_store);
}

}  // namespace mooncake::store
