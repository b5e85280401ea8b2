#include "tier/object_store.h"

#include <fmt/format.h>

#include "tier/file_object_store.h"
#include "tier/s3_object_store.h"

namespace mooncake::tier {
namespace {

bool Plain(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string EncodeObjectName(const std::string& key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size() + 8);
  for (unsigned char c : key) {
    if (Plain(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('_');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  // "." and ".." are not usable names (paths, URLs): their dots are escaped too.
  if (out == "." || out == "..") return out == "." ? "_2E" : "_2E_2E";
  return out;
}

Result<std::string> DecodeObjectName(const std::string& name) {
  std::string key;
  key.reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (Plain(c)) {
      key.push_back(static_cast<char>(c));
      continue;
    }
    if (c == '_' && i + 2 < name.size()) {
      const int hi = HexValue(name[i + 1]);
      const int lo = HexValue(name[i + 2]);
      if (hi >= 0 && lo >= 0) {
        key.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    return InvalidParams(fmt::format("'{}' is not an object name of this store", name));
  }
  // One name per key: "_41" is not how "A" is written, so it is not ours.
  if (key.empty() || EncodeObjectName(key) != name) {
    return InvalidParams(fmt::format("'{}' is not an object name of this store", name));
  }
  return key;
}

Status RemoveBehindPool(ObjectStore& store, const std::string& key, const Status& pool) {
  if (!pool.ok() && pool.code() != StatusCode::kObjectNotFound) return pool;  // e.g. leased
  if (!pool.ok()) {
    // Not in the pool: it may still be in the object store (evicted, or a restarted cluster).
    auto info = store.Head(key);
    if (!info.ok()) {
      return info.status().code() == StatusCode::kObjectNotFound ? pool : info.status();
    }
  }
  Status deleted = store.Delete(key);
  return deleted.ok() ? Status::Ok()
                      : deleted.WithContext("removing '" + key + "' from the object store");
}

Result<bool> ExistsBehindPool(ObjectStore& store, const std::string& key, Result<bool> pool) {
  if (!pool.ok() || *pool) return pool;
  auto info = store.Head(key);
  if (info.ok()) return true;
  if (info.status().code() == StatusCode::kObjectNotFound) return false;
  return info.status().WithContext("looking '" + key + "' up in the object store");
}

Result<uint64_t> SizeBehindPool(ObjectStore& store, const std::string& key, Result<uint64_t> pool) {
  if (pool.ok() || pool.status().code() != StatusCode::kObjectNotFound) return pool;
  auto info = store.Head(key);
  if (info.ok()) return info->size;
  if (info.status().code() == StatusCode::kObjectNotFound) return pool;
  return info.status().WithContext("looking '" + key + "' up in the object store");
}

Status ObjectStoreOptions::Validate() const {
  if (url.rfind("s3://", 0) != 0 && url.rfind("file://", 0) != 0) {
    return InvalidParams(
        fmt::format("object store URL '{}' must start with s3:// or file://", url));
  }
  if (multipart_threshold < (uint64_t{5} << 20) || part_size < (uint64_t{5} << 20) ||
      part_size > (uint64_t{5} << 30)) {
    return InvalidParams(
        "object store: multipart_threshold and part_size must be >= 5 MiB "
        "(part_size <= 5 GiB)");
  }
  if (parallel_parts < 1 || parallel_parts > 64) {
    return InvalidParams(
        fmt::format("object store: parallel_parts must be in 1..64, got {}", parallel_parts));
  }
  if (max_attempts < 1 || max_attempts > 20) {
    return InvalidParams(
        fmt::format("object store: max_attempts must be in 1..20, got {}", max_attempts));
  }
  if (request_timeout.count() <= 0 || connect_timeout.count() <= 0 || initial_backoff.count() < 0) {
    return InvalidParams("object store: timeouts must be positive");
  }
  return Status::Ok();
}

Result<std::unique_ptr<ObjectStore>> ObjectStore::Create(ObjectStoreOptions options) {
  MC_RETURN_IF_ERROR(options.Validate());
  if (options.url.rfind("file://", 0) == 0) return FileObjectStore::Create(std::move(options));
  return S3ObjectStore::Create(std::move(options));
}

Result<std::unique_ptr<ObjectStore>> ObjectStore::Open(const ObjectTierConfig& tier,
                                                       const ObjectStoreCredentials& credentials) {
  ObjectStoreOptions options;
  options.url = tier.url;
  options.endpoint = tier.endpoint;
  options.region = tier.region;
  options.access_key_id = credentials.access_key_id;
  options.secret_access_key = credentials.secret_access_key;
  options.session_token = credentials.session_token;
  return Create(std::move(options));
}

}  // namespace mooncake::tier
