#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "common/host_port.h"
#include "common/logging.h"
#include "p2p/object_layout.h"
#include "p2p/p2p_store_impl.h"
#include "p2p/replica_fetch.h"
#include "p2p/shard_hash.h"

namespace mooncake::p2p {

namespace {

// "etcd://h:p,h:p[/]" or "h:p,h:p" → {"h:p", ...}.
Result<std::vector<std::string>> ParseEtcdEndpoints(const std::string& s) {
  std::string_view list(s);
  if (list.rfind("etcd://", 0) == 0) list.remove_prefix(7);
  if (!list.empty() && list.back() == '/') list.remove_suffix(1);
  std::vector<std::string> endpoints;
  while (true) {
    size_t comma = list.find(',');
    std::string_view part = list.substr(0, comma);
    if (!ParseHostPort(part).ok()) {
      return InvalidParams(
          fmt::format("P2P metadata server '{}': expected etcd://host:port[,host:port...]", s));
    }
    endpoints.emplace_back(part);
    if (comma == std::string_view::npos) return endpoints;
    list.remove_prefix(comma + 1);
  }
}

Status NotFound(const std::string& name, std::string_view why) {
  return {StatusCode::kObjectNotFound, fmt::format("object '{}' {}", name, why)};
}

Status CheckBuffers(const std::vector<void*>& addrs, const std::vector<size_t>& sizes) {
  if (addrs.empty() || addrs.size() != sizes.size()) {
    return InvalidParams(
        fmt::format("need one size per buffer and at least one buffer ({} "
                    "addresses, {} sizes)",
                    addrs.size(), sizes.size()));
  }
  for (size_t i = 0; i < addrs.size(); ++i) {
    if (addrs[i] == nullptr || sizes[i] == 0) {
      return InvalidParams(
          fmt::format("buffer {} is empty (address {}, size {})", i, addrs[i], sizes[i]));
    }
  }
  return Status::Ok();
}

std::vector<Extent> ExtentsOf(const std::vector<void*>& addrs, const std::vector<size_t>& sizes) {
  std::vector<Extent> out;
  for (size_t i = 0; i < addrs.size(); ++i) {
    out.push_back({reinterpret_cast<uint64_t>(addrs[i]), sizes[i]});
  }
  return out;
}

}  // namespace

Status P2PStoreOptions::Validate() const {
  MC_RETURN_IF_ERROR(ParseEtcdEndpoints(metadata_server).status());
  if (lease_ttl < std::chrono::seconds(1)) return InvalidParams("lease_ttl must be >= 1 s");
  if (piece_size == 0) return InvalidParams("piece_size must be > 0");
  if (max_pieces_in_flight == 0 || max_pieces_per_holder == 0) {
    return InvalidParams("max_pieces_in_flight and max_pieces_per_holder must be >= 1");
  }
  if (max_piece_attempts < 1 || max_shard_verifications < 1) {
    return InvalidParams("max_piece_attempts and max_shard_verifications must be >= 1");
  }
  if (holder_refresh_interval.count() <= 0 || stall_timeout.count() <= 0 ||
      get_timeout.count() <= 0 || etcd_timeout.count() <= 0) {
    return InvalidParams(
        "holder_refresh_interval, stall_timeout, get_timeout and etcd_timeout must be > 0");
  }
  return Status::Ok();
}

Result<std::unique_ptr<P2PStore>> P2PStore::Create(P2PStoreOptions options) {
  MC_RETURN_IF_ERROR(options.Validate().WithContext("P2PStore options"));
  transfer::EtcdClientOptions etcd_options;
  MC_ASSIGN_OR_RETURN(etcd_options.endpoints, ParseEtcdEndpoints(options.metadata_server));
  etcd_options.request_timeout = options.etcd_timeout;
  MC_ASSIGN_OR_RETURN(std::unique_ptr<transfer::EtcdClient> etcd,
                      transfer::EtcdClient::Create(etcd_options));

  transfer::TransferEngineOptions te;
  te.metadata_server = options.metadata_server;
  te.local_server_name = options.local_server_name;
  te.protocol = options.protocol;
  te.metadata_lease_ttl = options.lease_ttl;
  te.auth_secret = options.auth_secret;
  MC_ASSIGN_OR_RETURN(std::unique_ptr<transfer::TransferEngine> engine,
                      transfer::TransferEngine::Create(te));

  auto lease = etcd->GrantLease(options.lease_ttl);
  if (!lease.ok()) return lease.status().WithContext("P2PStore: granting the holder lease");
  return std::unique_ptr<P2PStore>(
      new P2PStoreImpl(std::move(options), std::move(etcd), std::move(engine), lease->id));
}

P2PStoreImpl::P2PStoreImpl(P2PStoreOptions options, std::unique_ptr<transfer::EtcdClient> etcd,
                           std::unique_ptr<transfer::TransferEngine> engine,
                           transfer::EtcdLeaseId lease)
    : options_(std::move(options)),
      etcd_(std::move(etcd)),
      engine_(std::move(engine)),
      lease_(lease) {
  keepalive_ = std::thread([this] { KeepAliveLoop(); });
}

P2PStoreImpl::~P2PStoreImpl() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  keepalive_.join();
  {
    std::lock_guard<std::mutex> lock(publish_mu_);
    if (Status s = etcd_->RevokeLease(lease_); !s.ok()) {
      MC_LOG_WARN("p2p: revoking lease {:x}: {}", lease_, s.ToString());
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, object] : objects_) UnregisterBuffers(object.registered);
  objects_.clear();
}

void P2PStoreImpl::KeepAliveLoop() {
  auto interval = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(300),
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.lease_ttl) / 3);
  std::unique_lock<std::mutex> stop(stop_mu_);
  // Runs until destruction; each round is bounded by etcd_timeout.
  while (!stop_cv_.wait_for(stop, interval, [this] { return stopping_; })) {
    stop.unlock();
    {
      std::lock_guard<std::mutex> lock(publish_mu_);
      auto ttl = etcd_->KeepAlive(lease_);
      if (ttl.ok() && ttl->count() > 0) {
        // Renewed.
      } else if (ttl.ok() || ttl.status().code() == StatusCode::kLeaseExpired) {
        MC_LOG_WARN("p2p: lease {:x} expired; granting a new one and re-publishing", lease_);
        if (Status s = RenewLeaseLocked(); !s.ok()) {
          MC_LOG_WARN("p2p: renewing the lease: {}", s.ToString());
        }
      } else {
        MC_LOG_WARN("p2p: keeping lease {:x} alive: {}", lease_, ttl.status().ToString());
      }
    }
    stop.lock();
  }
}

Status P2PStoreImpl::RenewLeaseLocked() {
  MC_ASSIGN_OR_RETURN(transfer::EtcdLease lease, etcd_->GrantLease(options_.lease_ttl));
  lease_ = lease.id;
  std::vector<std::pair<std::string, std::string>> records;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, object] : objects_) {
      if (object.published) records.emplace_back(name, EncodeHolderRecord(object.holder));
    }
  }
  for (const auto& [name, value] : records) {
    MC_RETURN_IF_ERROR(etcd_->Put(HolderKey(name, engine_->local_server_name()), value, lease_));
  }
  return Status::Ok();
}

Status P2PStoreImpl::Reserve(const std::string& name, Kind kind) {
  std::lock_guard<std::mutex> lock(mu_);
  if (objects_.count(name) != 0) {
    return {StatusCode::kObjectAlreadyExists,
            fmt::format("this peer ({}) already holds object '{}'", local_server_name(), name)};
  }
  objects_[name].kind = kind;
  return Status::Ok();
}

void P2PStoreImpl::Release(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  objects_.erase(name);
}

Result<std::vector<void*>> P2PStoreImpl::RegisterBuffers(const std::vector<void*>& addrs,
                                                         const std::vector<size_t>& sizes) {
  std::vector<void*> done;
  for (size_t i = 0; i < addrs.size(); ++i) {
    if (Status s = engine_->RegisterLocalMemory(addrs[i], sizes[i]); !s.ok()) {
      UnregisterBuffers(done);
      return s.WithContext(fmt::format("registering buffer {} ({} bytes)", i, sizes[i]));
    }
    done.push_back(addrs[i]);
  }
  return done;
}

void P2PStoreImpl::UnregisterBuffers(const std::vector<void*>& registered) {
  for (void* address : registered) {
    if (Status s = engine_->UnregisterLocalMemory(address); !s.ok()) {
      MC_LOG_WARN("p2p: unregistering buffer {}: {}", address, s.ToString());
    }
  }
}

Status P2PStoreImpl::Publish(const std::string& name, const std::vector<bool>& held,
                             const std::vector<bool>& fetching) {
  std::lock_guard<std::mutex> publish(publish_mu_);
  std::string value;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(name);
    if (it == objects_.end()) return NotFound(name, "is not held by this peer");
    it->second.holder.shards = held;
    it->second.holder.fetching = fetching;
    it->second.published = true;
    value = EncodeHolderRecord(it->second.holder);
  }
  const std::string key = HolderKey(name, engine_->local_server_name());
  Status s = etcd_->Put(key, value, lease_);
  if (s.code() == StatusCode::kLeaseExpired) return RenewLeaseLocked();
  return s.WithContext(fmt::format("publishing holder entry of '{}'", name));
}

Result<std::optional<ObjectRecord>> P2PStoreImpl::ReadObject(const std::string& name) {
  MC_ASSIGN_OR_RETURN(std::optional<transfer::EtcdKeyValue> kv, etcd_->Get(ObjectKey(name)));
  if (!kv) return std::optional<ObjectRecord>();
  MC_ASSIGN_OR_RETURN(ObjectRecord record, DecodeObjectRecord(kv->value));
  return std::optional<ObjectRecord>(std::move(record));
}

Status P2PStoreImpl::Register(const std::string& name, const std::vector<void*>& addrs,
                              const std::vector<size_t>& sizes, const P2PRegisterOptions& options) {
  MC_RETURN_IF_ERROR(ValidateObjectName(name));
  MC_RETURN_IF_ERROR(CheckBuffers(addrs, sizes).WithContext("Register '" + name + "'"));
  if (options.max_shard_size == 0) return InvalidParams("Register: max_shard_size must be > 0");
  if (!options.part_names.empty() && options.part_names.size() != addrs.size()) {
    return InvalidParams(fmt::format("Register '{}': {} part names for {} buffers", name,
                                     options.part_names.size(), addrs.size()));
  }
  MC_RETURN_IF_ERROR(Reserve(name, Kind::kSeed));
  std::vector<void*> registered;
  auto fail = [&](Status s) {
    UnregisterBuffers(registered);
    Release(name);
    return s.WithContext(fmt::format("Register '{}'", name));
  };
  auto reg = RegisterBuffers(addrs, sizes);
  if (!reg.ok()) return fail(reg.status());
  registered = std::move(*reg);

  ObjectRecord record;
  record.name = name;
  record.hash_algorithm = std::string(HashAlgorithmName(options_.hash_algorithm));
  for (size_t i = 0; i < addrs.size(); ++i) {
    const uint64_t base = reinterpret_cast<uint64_t>(addrs[i]);
    for (uint64_t at = 0; at < sizes[i]; at += options.max_shard_size) {
      const uint64_t n = std::min<uint64_t>(options.max_shard_size, sizes[i] - at);
      auto hash = HashExtents(options_.hash_algorithm, {Extent{base + at, n}});
      if (!hash.ok()) return fail(hash.status());
      record.shards.push_back({n, *hash});
    }
    record.size += sizes[i];
    record.parts.push_back({options.part_names.empty() ? "" : options.part_names[i], sizes[i]});
  }

  auto existing = ReadObject(name);
  if (!existing.ok()) return fail(existing.status());
  if (!*existing || !(*existing)->SameContent(record)) {
    if (*existing) {
      auto holders = etcd_->GetPrefix(HolderPrefix(name));
      if (!holders.ok()) return fail(holders.status());
      if (!holders->empty()) {
        return fail({StatusCode::kObjectAlreadyExists,
                     fmt::format("another object with this name and different content has {} "
                                 "live holders",
                                 holders->size())});
      }
    }
    if (Status s = etcd_->Put(ObjectKey(name), EncodeObjectRecord(record)); !s.ok()) {
      return fail(s);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    LocalObject& object = objects_[name];
    object.registered = registered;
    object.holder.segment = engine_->local_server_name();
    object.holder.buffers = ExtentsOf(addrs, sizes);
    object.holder.seed = true;
  }
  if (Status s = Publish(name, std::vector<bool>(record.shards.size(), true)); !s.ok()) {
    return fail(s);
  }
  MC_LOG_INFO("p2p: registered '{}' ({} bytes, {} shards) as seed {}", name, record.size,
              record.shards.size(), local_server_name());
  return Status::Ok();
}

Result<ReplicaStats> P2PStoreImpl::GetReplica(const std::string& name,
                                              const std::vector<void*>& addrs,
                                              const std::vector<size_t>& sizes,
                                              const GetReplicaOptions& options) {
  MC_RETURN_IF_ERROR(ValidateObjectName(name));
  MC_RETURN_IF_ERROR(CheckBuffers(addrs, sizes).WithContext("GetReplica '" + name + "'"));
  MC_ASSIGN_OR_RETURN(std::optional<ObjectRecord> record, ReadObject(name));
  if (!record) {
    return NotFound(name, fmt::format("not found (no P2P object of that name in etcd {})",
                                      etcd_->EndpointList()));
  }
  const uint64_t total = std::accumulate(sizes.begin(), sizes.end(), uint64_t{0});
  if (total != record->size) {
    return InvalidParams(
        fmt::format("GetReplica '{}': the buffers hold {} bytes, the object has "
                    "{}",
                    name, total, record->size));
  }
  MC_RETURN_IF_ERROR(Reserve(name, Kind::kReplica));
  auto registered = RegisterBuffers(addrs, sizes);
  if (!registered.ok()) {
    Release(name);
    return registered.status().WithContext(fmt::format("GetReplica '{}'", name));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    LocalObject& object = objects_[name];
    object.registered = *registered;
    object.holder.segment = engine_->local_server_name();
    object.holder.buffers = ExtentsOf(addrs, sizes);
    object.holder.seed = false;
  }
  ReplicaFetchContext context;
  context.engine = engine_.get();
  context.etcd = etcd_.get();
  context.options = &options_;
  context.self = engine_->local_server_name();
  context.publish = [this, &name](const std::vector<bool>& held,
                                  const std::vector<bool>& fetching) {
    if (Status s = Publish(name, held, fetching); !s.ok()) {
      MC_LOG_WARN("p2p: {}", s.ToString());
    }
  };
  ReplicaFetch fetch(std::move(context), std::move(*record), ExtentMap(ExtentsOf(addrs, sizes)));
  Result<ReplicaStats> stats = fetch.Run(options);
  if (!stats.ok() || !options_.serve_replicas) {
    // Failed, or fetched only: stop being reachable for this object.
    Drop(name, Kind::kReplica).IgnoreError();
  }
  return stats;
}

Status P2PStoreImpl::Drop(const std::string& name, Kind kind) {
  LocalObject object;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(name);
    if (it == objects_.end() || it->second.kind != kind) {
      return NotFound(name, kind == Kind::kSeed ? "was not registered by this peer"
                                                : "has no replica on this peer");
    }
    object = it->second;
  }
  Status status;
  {
    std::lock_guard<std::mutex> publish(publish_mu_);
    if (object.published) {
      status = etcd_->Delete(HolderKey(name, engine_->local_server_name())).status();
    }
    // Erased under publish_mu_: a lease renewal can no longer re-publish it.
    Release(name);
  }
  UnregisterBuffers(object.registered);
  // Only a peer that was a holder deletes the record: a peer whose fetch failed before it held
  // anything must not remove a record a seed has just written.
  if (status.ok() && object.published) {
    auto remaining = etcd_->GetPrefix(HolderPrefix(name));
    status = remaining.status();
    if (remaining.ok() && remaining->empty()) status = etcd_->Delete(ObjectKey(name)).status();
  }
  return status.WithContext(fmt::format("removing '{}' from etcd", name));
}

Status P2PStoreImpl::Unregister(const std::string& name) { return Drop(name, Kind::kSeed); }
Status P2PStoreImpl::DeleteReplica(const std::string& name) { return Drop(name, Kind::kReplica); }

Result<std::vector<P2PObjectInfo>> P2PStoreImpl::List(const std::string& prefix) {
  MC_ASSIGN_OR_RETURN(std::vector<transfer::EtcdKeyValue> objects,
                      etcd_->GetPrefix(ObjectKey(prefix)));
  MC_ASSIGN_OR_RETURN(std::vector<transfer::EtcdKeyValue> holders,
                      etcd_->GetPrefix(std::string(kP2PKeyPrefix) + "holders/"));
  std::vector<P2PObjectInfo> out;
  for (const transfer::EtcdKeyValue& kv : objects) {
    auto record = DecodeObjectRecord(kv.value);
    if (!record.ok()) {
      MC_LOG_WARN("p2p: skipping {}: {}", kv.key, record.status().ToString());
      continue;
    }
    P2PObjectInfo info;
    info.name = record->name;
    info.size = record->size;
    info.shard_count = record->shards.size();
    info.hash_algorithm = record->hash_algorithm;
    info.parts = record->parts;
    const std::string holder_prefix = HolderPrefix(record->name);
    for (const transfer::EtcdKeyValue& h : holders) {
      if (h.key.rfind(holder_prefix, 0) != 0) continue;
      auto holder = DecodeHolderRecord(h.value, info.shard_count, info.size);
      if (!holder.ok() || !holder->HoldsAny()) continue;
      ++info.holder_count;
      info.seed_count += holder->seed ? 1 : 0;
    }
    out.push_back(std::move(info));
  }
  return out;
}

Result<P2PObjectInfo> P2PStoreImpl::GetObjectInfo(const std::string& name) {
  MC_RETURN_IF_ERROR(ValidateObjectName(name));
  MC_ASSIGN_OR_RETURN(std::vector<P2PObjectInfo> infos, List(name));
  for (P2PObjectInfo& info : infos) {
    if (info.name == name) return std::move(info);
  }
  return NotFound(name, fmt::format("not found (no P2P object of that name in etcd {})",
                                    etcd_->EndpointList()));
}

Status P2PStoreImpl::Remove(const std::string& name) {
  MC_RETURN_IF_ERROR(ValidateObjectName(name));
  MC_ASSIGN_OR_RETURN(int64_t deleted, etcd_->Delete(ObjectKey(name)));
  MC_ASSIGN_OR_RETURN(std::vector<transfer::EtcdKeyValue> holders,
                      etcd_->GetPrefix(HolderPrefix(name)));
  for (const transfer::EtcdKeyValue& kv : holders)
    MC_RETURN_IF_ERROR(etcd_->Delete(kv.key).status());
  if (deleted == 0 && holders.empty()) {
    return NotFound(name, fmt::format("not found (no P2P object of that name in etcd {})",
                                      etcd_->EndpointList()));
  }
  return Status::Ok();
}

}  // namespace mooncake::p2p
