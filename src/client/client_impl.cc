// ClientImpl: creation (master client, Transfer Engine, staging buffer, object tier, own
// segment) and lifetime, the transfer requests every read and write is built from, buffer
// registration, and the index calls (remove, exists, size).

#include "client/client_impl.h"

#include <algorithm>
#include <utility>

#include "client/replica_ranges.h"
#include "common/key_pattern.h"
#include "master/client/master_client.h"

namespace mooncake::store {

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
  master_options.auth_secret = options.auth_secret;
  MC_ASSIGN_OR_RETURN(std::unique_ptr<master::MasterClient> master,
                      master::MasterClient::Create(master_options));
  // Before the engine starts: an unreachable master fails the client at once.
  MC_ASSIGN_OR_RETURN(master::PingReply pong, master->Ping());

  transfer::TransferEngineOptions engine_options;
  engine_options.local_server_name = options.local_hostname;
  engine_options.metadata_server = options.metadata_server;
  engine_options.protocol = options.protocol;
  engine_options.transfer_timeout = options.transfer_timeout;
  engine_options.auth_secret = options.auth_secret;
  MC_ASSIGN_OR_RETURN(std::unique_ptr<transfer::TransferEngine> engine,
                      transfer::TransferEngine::Create(engine_options));
  MC_ASSIGN_OR_RETURN(
      std::unique_ptr<ClientImpl> client,
      Build(std::move(options), std::move(master), pong.object_tier, std::move(engine)));
  return std::unique_ptr<Client>(std::move(client));
}

Result<std::unique_ptr<ClientImpl>> ClientImpl::Assemble(
    ClientOptions options, std::unique_ptr<master::MasterApi> master,
    std::unique_ptr<transfer::TransferEngine> engine) {
  MC_RETURN_IF_ERROR(options.Validate());
  MC_ASSIGN_OR_RETURN(master::PingReply pong, master->Ping());
  return Build(std::move(options), std::move(master), pong.object_tier, std::move(engine));
}

Result<std::unique_ptr<ClientImpl>> ClientImpl::Build(
    ClientOptions options, std::unique_ptr<master::MasterApi> master,
    const ObjectTierConfig& object_tier, std::unique_ptr<transfer::TransferEngine> engine) {
  std::unique_ptr<ClientImpl> client(
      new ClientImpl(std::move(options), std::move(master), std::move(engine)));
  MC_ASSIGN_OR_RETURN(client->staging_,
                      StagingBuffer::Create(*client->engine_, client->options_.local_buffer_size));
  MC_RETURN_IF_ERROR(client->OpenObjectTier(object_tier));
  MC_RETURN_IF_ERROR(client->MountSegment());
  return client;
}

ClientImpl::ClientImpl(ClientOptions options, std::unique_ptr<master::MasterApi> master,
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

// ---- Zero-copy -------------------------------------------------------------------------------

Status ClientImpl::RegisterBuffer(void* address, size_t length) {
  return engine_->RegisterLocalMemory(address, length);
}

Status ClientImpl::UnregisterBuffer(void* address) {
  return engine_->UnregisterLocalMemory(address);
}

// ---- Index ---------------------------------------------------------------------------------

void ClientImpl::ForgetLocations(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) cache_.Erase(key);
}

Status ClientImpl::Remove(const std::string& key, RemoveMode mode) {
  cache_.Erase(key);
  return RemoveFromObjectTier(key, master_->Remove(key, mode));
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
  // The master accepted the pattern, and it compiles it with the same KeyPattern.
  MC_ASSIGN_OR_RETURN(KeyPattern re, KeyPattern::Compile(pattern));
  MC_ASSIGN_OR_RETURN(uint64_t in_store, RemoveMatchingFromObjectTier([&](const std::string& key) {
                        return re.Matches(key);
                      }));
  return std::max(removed, in_store);
}

}  // namespace mooncake::store
