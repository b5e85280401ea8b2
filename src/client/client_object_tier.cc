// ClientImpl and the object-storage tier: write-through uploads before PutEnd, read-through of
// pool misses (with promotion back into the pool), removal from the bucket.

#include <fmt/format.h>

#include <optional>
#include <utility>

#include "client/client_impl.h"
#include "common/logging.h"

namespace mooncake::store {

Status ClientImpl::OpenObjectTier(const tier::ObjectTierConfig& config) {
  if (!config.enabled()) return Status::Ok();
  tier::ObjectStoreOptions options;
  options.url = config.url;
  options.endpoint = config.endpoint;
  options.region = config.region;
  options.access_key_id = options_.object_store_access_key_id;
  options.secret_access_key = options_.object_store_secret_access_key;
  options.session_token = options_.object_store_session_token;
  auto store = tier::ObjectStore::Create(std::move(options));
  if (!store.ok()) {
    return store.status().WithContext("opening the object store the master names");
  }
  object_store_ = std::move(*store);
  object_tier_policy_ = config.policy;
  MC_LOG_INFO("object tier {} ({})", config.url, tier::ObjectTierPolicyName(config.policy));
  return Status::Ok();
}

ObjectTierStats ClientImpl::object_tier_stats() const {
  return ObjectTierStats{uploads_.load(), upload_failures_.load(), read_throughs_.load(),
                         promotions_.load()};
}

Status ClientImpl::UploadForPut(const std::string& key, std::span<const uint8_t> value) {
  // Write-back: a node holding a replica uploads it after PutEnd.
  if (!object_store_ || object_tier_policy_ != tier::ObjectTierPolicy::kWriteThrough) {
    return Status::Ok();
  }
  Status uploaded = object_store_->Put(
      key, std::span<const char>(reinterpret_cast<const char*>(value.data()), value.size()));
  if (!uploaded.ok()) {
    upload_failures_.fetch_add(1, std::memory_order_relaxed);
    return uploaded.WithContext("write-through upload of '" + key + "' (put not acknowledged)");
  }
  uploads_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

namespace {

// Whether a get result is a pool miss that the object store may serve.
template <typename T>
bool PoolMiss(const Result<T>& result) {
  return !result.ok() && result.status().code() == StatusCode::kObjectNotFound;
}

}  // namespace

std::optional<tier::ObjectInfo> ClientImpl::FindForReadThrough(const std::string& key,
                                                               Status* failure) {
  auto info = object_store_->Head(key);
  if (info.ok()) return std::move(*info);
  // Not there either: the pool's answer stands. Any other failure is worth reporting.
  if (info.status().code() != StatusCode::kObjectNotFound) {
    *failure = info.status().WithContext("read-through of '" + key + "'");
  }
  return std::nullopt;
}

void ClientImpl::NotePromotion(const std::string& key, const Status& promoted) {
  read_throughs_.fetch_add(1, std::memory_order_relaxed);
  if (promoted.ok()) {
    promotions_.fetch_add(1, std::memory_order_relaxed);
  } else if (promoted.code() != StatusCode::kObjectAlreadyExists) {  // a racing writer won
    MC_LOG_INFO("read-through of '{}': not put back into the pool: {}", key, promoted.ToString());
  }
}

void ClientImpl::ReadThrough(const std::vector<std::string>& keys,
                             std::vector<Result<std::vector<uint8_t>>>& results) {
  if (!object_store_) return;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!PoolMiss(results[i])) continue;
    Status failure = results[i].status();
    std::optional<tier::ObjectInfo> info = FindForReadThrough(keys[i], &failure);
    if (!info) {
      results[i] = failure;
      continue;
    }
    std::vector<uint8_t> value(info->size);
    Status read = object_store_->Get(
        keys[i], 0, std::span<char>(reinterpret_cast<char*>(value.data()), value.size()));
    if (!read.ok()) {
      results[i] = read.WithContext("read-through of '" + keys[i] + "'");
      continue;
    }
    // Back into the pool for the next reader; it is in the object store already. A racing
    // writer's newer object wins (create, not upsert).
    NotePromotion(keys[i], PutValues({keys[i]}, {value}, ReplicateConfig{}, PutMode::kCreate,
                                     /*upload=*/false)[0]);
    results[i] = std::move(value);
  }
}

void ClientImpl::ReadThroughInto(const std::vector<std::string>& keys,
                                 const std::vector<void*>& addresses,
                                 const std::vector<size_t>& capacities,
                                 std::vector<Result<uint64_t>>& results) {
  if (!object_store_) return;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!PoolMiss(results[i])) continue;
    Status failure = results[i].status();
    std::optional<tier::ObjectInfo> info = FindForReadThrough(keys[i], &failure);
    if (!info) {
      results[i] = failure;
      continue;
    }
    if (info->size > capacities[i]) {
      results[i] = Status(
          StatusCode::kBufferOverflow,
          fmt::format("'{}' is {} bytes, the buffer holds {}", keys[i], info->size, capacities[i]));
      continue;
    }
    auto* destination = static_cast<uint8_t*>(addresses[i]);
    Status read = object_store_->Get(
        keys[i], 0, std::span<char>(reinterpret_cast<char*>(destination), info->size));
    if (!read.ok()) {
      results[i] = read.WithContext("read-through of '" + keys[i] + "'");
      continue;
    }
    // The destination is registered memory: the promotion writes straight from it.
    NotePromotion(keys[i], WriteRegistered({{keys[i], destination, info->size}}, ReplicateConfig{},
                                           PutMode::kCreate, /*upload=*/false)[0]);
    results[i] = info->size;
  }
}

Result<bool> ClientImpl::ExistsInObjectTier(const std::string& key, Result<bool> pool) {
  if (!object_store_) return pool;
  return tier::ExistsBehindPool(*object_store_, key, std::move(pool));
}

Result<uint64_t> ClientImpl::SizeInObjectTier(const std::string& key, Result<uint64_t> pool) {
  if (!object_store_) return pool;
  return tier::SizeBehindPool(*object_store_, key, std::move(pool));
}

Status ClientImpl::RemoveFromObjectTier(const std::string& key, const Status& pool) {
  if (!object_store_) return pool;
  return tier::RemoveBehindPool(*object_store_, key, pool);
}

Result<uint64_t> ClientImpl::RemoveMatchingFromObjectTier(
    const std::function<bool(const std::string&)>& match) {
  MC_ASSIGN_OR_RETURN(std::vector<tier::ObjectInfo> objects, object_store_->List(""));
  uint64_t removed = 0;
  for (const tier::ObjectInfo& object : objects) {
    if (!match(object.key)) continue;
    MC_RETURN_IF_ERROR(object_store_->Delete(object.key));
    ++removed;
  }
  return removed;
}

}  // namespace mooncake::store
