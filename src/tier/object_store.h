#pragma once

// The object-storage tier: slow, durable storage behind the DRAM and SSD tiers. Two backends
// behind one interface:
//   s3://bucket[/prefix]   S3 REST over libcurl, signed with SigV4 (any S3-compatible server)
//   file:///dir[/prefix]   a directory; the self-contained backend for one machine and tests
// Objects are self-describing: each carries its key, size and CRC32C (S3: user metadata
// x-amz-meta-mc-*; file: a header before the bytes), so a brand-new cluster pointed at the same
// bucket can serve them. Object names are the key with every byte outside [A-Za-z0-9.-]
// written as _XX (hex), under the prefix: reversible, and safe in URLs and file names.
//
// Thread safety: every method may be called from any thread concurrently.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "store_types/object_tier.h"
#include "tier/object_store_credentials.h"

namespace mooncake::tier {

struct ObjectStoreOptions {
  // "s3://bucket[/prefix]" or "file:///absolute/dir[/prefix]". Required.
  std::string url;
  // S3: base URL of an S3-compatible server ("http://127.0.0.1:4568"); empty: AWS itself,
  // https://s3.<region>.amazonaws.com. Requests use path-style addressing.
  std::string endpoint;
  // S3: signing region (default "us-east-1") and credentials (AWS_ACCESS_KEY_ID,
  // AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN in apps/).
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  // S3: objects of at least this many bytes go up as a multipart upload (default 64 MiB) in
  // parts of part_size bytes (default 16 MiB; S3 wants >= 5 MiB for all but the last).
  uint64_t multipart_threshold = uint64_t{64} << 20;
  uint64_t part_size = uint64_t{16} << 20;
  // S3: parts of one multipart upload sent at once, and pieces of one whole-object read of at
  // least multipart_threshold bytes (range GETs of part_size) fetched at once. Default 4;
  // 1..64.
  int parallel_parts = 4;
  // S3: tries per request (default 4), the first retry after initial_backoff (default 100 ms),
  // doubling up to 2 s. Retried: connection errors, timeouts, HTTP 5xx and 429.
  int max_attempts = 4;
  std::chrono::milliseconds initial_backoff{100};
  // S3: bound on one HTTP request (default 120 s) and on its TCP connect (default 3 s).
  std::chrono::milliseconds request_timeout{120000};
  std::chrono::milliseconds connect_timeout{3000};

  Status Validate() const;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  uint32_t crc32c = 0;
  bool has_crc32c = false;  // false for objects listed without their metadata, or foreign ones
  // S3 Head only: the object's MD5 (32 lower-case hex digits) when its ETag is one (a
  // single-part upload); empty for multipart ETags and other stores.
  std::string etag_md5;
};

class ObjectStore {
 public:
  static Result<std::unique_ptr<ObjectStore>> Create(ObjectStoreOptions options);
  // The store of the object tier a master names (its url, endpoint and region; what the policy
  // asks of the store is the caller's business) with this process's `credentials`, the other
  // options at their defaults: how clients, nodes and tools open the tier. Errors as Create.
  static Result<std::unique_ptr<ObjectStore>> Open(const ObjectTierConfig& tier,
                                                   const ObjectStoreCredentials& credentials);
  virtual ~ObjectStore() = default;

  // The URL the store was created with (for messages and for handing to nodes and clients).
  virtual const std::string& url() const = 0;
  // Stores `data` under `key` (non-empty), replacing any object of that key, with its size
  // and CRC32C. Either the whole new object becomes visible or the old one stays.
  virtual Status Put(const std::string& key, std::span<const char> data) = 0;
  // Size and CRC32C of `key`; kObjectNotFound when there is none.
  virtual Result<ObjectInfo> Head(const std::string& key) = 0;
  // Reads bytes [offset, offset + out.size()) of `key` into `out`. kObjectNotFound when there
  // is no such object, kInvalidParams when the range passes its end. A read of the whole
  // object is checked against its CRC32C (kChecksumMismatch); an S3 object some other tool
  // wrote, without our CRC32C, against the MD5 its ETag holds, and refused (kChecksumMismatch,
  // saying why) when its ETag is not an MD5 (multipart), since its bytes cannot be checked.
  virtual Status Get(const std::string& key, uint64_t offset, std::span<char> out) = 0;
  // Removes `key`; removing a missing key is OK.
  virtual Status Delete(const std::string& key) = 0;
  // Objects whose key starts with `key_prefix` ("" = all), in name order.
  virtual Result<std::vector<ObjectInfo>> List(const std::string& key_prefix) = 0;
};

// A pool backed by an object store (write-through): what an operation answers given the
// pool's own answer `pool` for `key`.
//  RemoveBehindPool: deletes `key` from the store too; a key only in the store is removed from
//    there (OK); a pool error other than kObjectNotFound (e.g. a lease) stands, nothing deleted.
//  ExistsBehindPool / SizeBehindPool: a key the pool does not hold may be in the store.
Status RemoveBehindPool(ObjectStore& store, const std::string& key, const Status& pool);
Result<bool> ExistsBehindPool(ObjectStore& store, const std::string& key, Result<bool> pool);
Result<uint64_t> SizeBehindPool(ObjectStore& store, const std::string& key, Result<uint64_t> pool);

// Object name of `key` (without the store's prefix), and back. DecodeObjectName fails on a
// name this encoding never produces.
std::string EncodeObjectName(const std::string& key);
Result<std::string> DecodeObjectName(const std::string& name);

}  // namespace mooncake::tier
