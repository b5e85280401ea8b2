// ClientImpl and the object-storage tier: write-through uploads before PutEnd, read-through of
// pool misses (with promotion back into the pool), fall-through of reads whose every replica
// failed, ranged read-through, removal from the bucket.

#include <fmt/format.h>

#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include "client/client_credentials.h"
#include "client/client_impl.h"
#include "common/logging.h"
#include "mooncake/common/crc32c.h"

namespace mooncake::store {

Status ClientImpl::OpenObjectTier(const ObjectTierConfig& config) {
  if (!config.enabled()) return Status::Ok();
  auto store = tier::ObjectStore::Open(config, ObjectStoreCredentialsOf(options_));
  if (!store.ok()) {
    return store.status().WithContext("opening the object store the master names");
  }
  object_store_ = std::move(*store);
  object_tier_policy_ = config.policy;
  MC_LOG_INFO("object tier {} ({})", config.url, ObjectTierPolicyName(config.policy));
  return Status::Ok();
}

ObjectTierStats ClientImpl::object_tier_stats() const {
  return ObjectTierStats{uploads_.load(), upload_failures_.load(), read_throughs_.load(),
                         promotions_.load()};
}

Status ClientImpl::UploadForPut(const std::string& key, std::span<const uint8_t> value) {
  // Write-back: a node holding a replica uploads it after PutEnd.
  if (!object_store_ || object_tier_policy_ != ObjectTierPolicy::kWriteThrough) {
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

void ClientImpl::ReadThrough(const std::vector<std::string>& keys, ObjectSlots& slots) {
  if (!object_store_) return;
  for (size_t i = 0; i < keys.size(); ++i) {
    Status failure = slots.status(i);
    if (failure.code() != StatusCode::kObjectNotFound) continue;  // not a pool miss
    std::optional<tier::ObjectInfo> info = FindForReadThrough(keys[i], &failure);
    if (!info) {
      slots.Fail(i, failure);
      continue;
    }
    Result<uint8_t*> room = slots.Reserve(i, keys[i], info->size);
    if (!room.ok()) {
      slots.Fail(i, room.status());
      continue;
    }
    Status read =
        object_store_->Get(keys[i], 0, std::span<char>(reinterpret_cast<char*>(*room), info->size));
    if (!read.ok()) {
      slots.Fail(i, read.WithContext("read-through of '" + keys[i] + "'"));
      continue;
    }
    // Back into the pool for the next reader; it is in the object store already. A racing
    // writer's newer object wins (create, not upsert). Registered memory is written from
    // directly; a value goes through staging.
    const Status promoted =
        slots.registered()
            ? WriteRegistered({{keys[i], *room, info->size}}, ReplicateConfig{}, PutMode::kCreate,
                              /*upload=*/false)[0]
            : PutValues({keys[i]}, {std::span<const uint8_t>(*room, info->size)}, ReplicateConfig{},
                        PutMode::kCreate, /*upload=*/false)[0];
    NotePromotion(keys[i], promoted);
    slots.Fill(i, info->size);
  }
}

namespace {

// The last replica's error `replicas`, naming why the object store did not serve the read
// either. The replica's code stays: it says what went wrong in the pool.
Status AlsoFailedInObjectTier(const Status& replicas, const Status& store) {
  return Status(replicas.code(), fmt::format("{} (object store fall-through: {})",
                                             replicas.message(), store.ToString()));
}

}  // namespace

// Fall-through: the master lists the object, yet none of its replicas could be read (a dead
// node it has not noticed yet, a transfer error, a checksum mismatch on SSD). The bytes come
// from the object store, but only the version the master listed (size and CRC32C, checked on
// the whole object): with write-back, or an upsert racing this read, the store may hold
// another version. The object is not put back into the pool: the master still lists replicas
// of it, so a create would be refused, and an upsert would race a writer. Once the master
// drops the dead replicas, the next read is a pool miss, which ReadThrough puts back.
Status ClientImpl::ReadListedFromObjectTier(const std::string& key, const FailedRead& read,
                                            uint8_t* destination) {
  MC_RETURN_IF_ERROR(
      object_store_->Get(key, 0, std::span<char>(reinterpret_cast<char*>(destination), read.size)));
  if (Crc32c(destination, read.size) != read.checksum) {
    return Status(StatusCode::kChecksumMismatch,
                  fmt::format("the object store holds another version of '{}' than the one "
                              "the master lists (CRC32C differs)",
                              key));
  }
  read_throughs_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

void ClientImpl::FallThrough(const std::vector<std::string>& keys,
                             const std::vector<FailedRead>& failed, ObjectSlots& slots) {
  if (!object_store_) return;
  for (const FailedRead& read : failed) {
    const Status replicas = slots.status(read.index);
    if (replicas.ok()) continue;
    // A caller's buffer holds the listed size: the replicas' read checked it.
    Result<uint8_t*> room = slots.Reserve(read.index, keys[read.index], read.size);
    const Status served =
        room.ok() ? ReadListedFromObjectTier(keys[read.index], read, *room) : room.status();
    if (served.ok()) {
      slots.Fill(read.index, read.size);
    } else {
      slots.Fail(read.index, AlsoFailedInObjectTier(replicas, served));
    }
  }
}

// Ranged read-through reads only the ranges asked for and does not put the object back: a
// ranged reader often wants a small part of a large object, and reading all of it from the
// bucket to put it back would multiply what this read moves; the next whole-object Get of
// the key puts it back (ReadThrough). For a fall-through, the object's HEAD must match the
// version the master listed (size and CRC32C).
//
// With verify_checksum, a range is checked like a range from a replica: the blocks it touches
// are read and their CRC32C compared with the master's block table (fall-through). Where no
// table is known (a pool miss: the bucket keeps only the whole object's CRC32C), the whole
// object is read once, checked by the store (CRC32C, or the ETag's MD5 for objects other tools
// wrote), and every range of the key is served from it.
void ClientImpl::ReadRangesThrough(const std::vector<GetRange>& ranges,
                                   const std::vector<FailedRead>& failed,
                                   std::vector<Status>& results) {
  if (!object_store_) return;
  struct KeyReads {
    std::vector<size_t> ranges;
    std::optional<FailedRead> listed;  // set for a fall-through
  };
  std::map<std::string, KeyReads> by_key;
  std::vector<bool> fall_through(ranges.size(), false);
  for (const FailedRead& read : failed) {
    if (results[read.index].ok()) continue;
    KeyReads& reads = by_key[ranges[read.index].key];
    reads.ranges.push_back(read.index);
    reads.listed = read;
    fall_through[read.index] = true;
  }
  for (size_t r = 0; r < ranges.size(); ++r) {
    if (!fall_through[r] && results[r].code() == StatusCode::kObjectNotFound) {
      by_key[ranges[r].key].ranges.push_back(r);
    }
  }
  for (const auto& entry : by_key) {
    const std::string& key = entry.first;
    const KeyReads& reads = entry.second;
    auto info = object_store_->Head(key);
    Status usable = info.status();
    if (usable.ok() && reads.listed &&
        (info->size != reads.listed->size || !info->has_crc32c ||
         info->crc32c != reads.listed->checksum)) {
      usable = Status(StatusCode::kChecksumMismatch,
                      fmt::format("the object store holds another version of '{}' than the one "
                                  "the master lists",
                                  key));
    }
    // What a range the store cannot serve reports: the replica's error for a fall-through;
    // for a pool miss, the pool's NOT_FOUND when the store lacks the key too.
    auto fail = [&](size_t r, const Status& store) {
      if (reads.listed) {
        results[r] = AlsoFailedInObjectTier(results[r], store);
      } else if (store.code() != StatusCode::kObjectNotFound) {
        results[r] = store.WithContext("read-through of '" + key + "'");
      }
    };
    std::vector<char> whole;  // the whole object, once a range needed it
    bool served = false;
    for (size_t r : reads.ranges) {
      if (!usable.ok()) {
        fail(r, usable);
        continue;
      }
      const GetRange& range = ranges[r];
      if (range.source_offset > info->size || range.length > info->size - range.source_offset) {
        results[r] = Status(StatusCode::kInvalidParams,
                            fmt::format("range [{}, +{}) is outside object '{}' of {} bytes (in "
                                        "the object store)",
                                        range.source_offset, range.length, key, info->size));
        continue;
      }
      Status read = range.length == 0 || !options_.verify_checksum
                        ? ReadRangeUnchecked(key, range)
                        : ReadRangeChecked(key, range, *info, reads.listed, whole);
      if (!read.ok()) {
        fail(r, read);
        continue;
      }
      results[r] = Status::Ok();
      served = true;
    }
    if (served) read_throughs_.fetch_add(1, std::memory_order_relaxed);
  }
}

Status ClientImpl::ReadRangeUnchecked(const std::string& key, const GetRange& range) {
  if (range.length == 0) return Status::Ok();
  return object_store_->Get(key, range.source_offset,
                            std::span<char>(static_cast<char*>(range.destination), range.length));
}

Status ClientImpl::ReadRangeChecked(const std::string& key, const GetRange& range,
                                    const tier::ObjectInfo& info,
                                    const std::optional<FailedRead>& listed,
                                    std::vector<char>& whole) {
  std::optional<ChecksumSpan> span;
  if (listed) {
    span = CoveringSpan(listed->size, listed->checksum, listed->block_checksums,
                        range.source_offset, range.length);
  }
  auto* destination = static_cast<char*>(range.destination);
  if (span && !(span->begin == 0 && span->end == info.size)) {
    std::vector<char> bytes(span->end - span->begin);
    MC_RETURN_IF_ERROR(object_store_->Get(key, span->begin, bytes));
    const uint32_t crc = Crc32c(bytes.data(), bytes.size());
    if (crc != span->crc) {
      return Status(StatusCode::kChecksumMismatch,
                    fmt::format("the object store's bytes [{}, {}) of '{}' have CRC32C {:#010x}, "
                                "the put stored {:#010x}",
                                span->begin, span->end, key, crc, span->crc));
    }
    std::memcpy(destination, bytes.data() + (range.source_offset - span->begin), range.length);
    return Status::Ok();
  }
  if (whole.empty()) {
    // A read of the whole object is checked by the store itself (ObjectStore::Get).
    whole.resize(info.size);
    if (Status read = object_store_->Get(key, 0, whole); !read.ok()) {
      whole.clear();
      return read;
    }
  }
  std::memcpy(destination, whole.data() + range.source_offset, range.length);
  return Status::Ok();
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
