#pragma once

// The Mooncake Store client: put and get whole objects by key in the pooled memory of the
// cluster. The master says where an object's replicas are (or where to write them); the bytes
// move directly between this process and the storage nodes through the Transfer Engine.
//
// Usage:
//   auto client = mooncake::store::Client::Create({.master_address = "10.0.0.1:50051"}).value();
//   (and .auth_secret when the cluster has a secret: see ClientOptions)
//   client->Put("block-17", bytes);
//   auto value = client->Get("block-17");            // std::vector<uint8_t>
//   // Zero-copy: register a buffer once, then move bytes straight into / out of it.
//   client->RegisterBuffer(buf, len);
//   client->GetInto("block-17", buf, len);
//
// A Put is PutStart -> a Transfer Engine WRITE of every replica in parallel -> PutEnd; on any
// failure PutRevoke, so an object is never half-visible. A Get reads one COMPLETE replica and
// tries the next one when a transfer (or an SSD replica's checksum) fails: memory (DRAM) replicas
// before SSD ones on every read, readers spread over the replicas of one medium.
//
// When the master is configured with an object-storage tier (write-through), a put is uploaded
// to it before PutEnd (a failed upload fails the put); a Get/GetInto/BatchGet/BatchGetInto of a
// key the pool does not hold reads it through from the object store and puts it back into the
// pool, and GetIntoRanges reads the ranges from there (not put back); a read whose every replica
// failed is served from the object store too when it holds the version the master lists (not
// put back; else the last replica's error is returned); Remove, BatchRemove, RemoveByRegex and
// RemoveAll remove it there too.
//
// Thread safety: every method may be called from any thread concurrently.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"
#include "mooncake/store/types.h"

namespace mooncake::store {

struct ClientOptions {
  // "host:port" of mooncake_master. Required.
  std::string master_address;
  // This client's Transfer Engine name "host:port"; port 0 (or none) picks a free port.
  // Default "127.0.0.1:0".
  std::string local_hostname = "127.0.0.1:0";
  // Transfer Engine metadata: "P2PHANDSHAKE" (default) or "etcd://host:port".
  std::string metadata_server = "P2PHANDSHAKE";
  // Transfer Engine protocol: "auto" (default: shared memory to nodes on this host, TCP to
  // the others), "tcp", or "shm" (same-host nodes only).
  std::string protocol = "auto";
  // Registered staging memory used by Put/Get of plain (unregistered) byte buffers. Values
  // larger than this are moved through it in pieces. Default 64 MiB; > 0.
  uint64_t local_buffer_size = uint64_t{64} << 20;
  // Deadline of every master RPC. Default 5 s.
  std::chrono::milliseconds rpc_timeout{5000};
  // Deadline of every transfer. Default 10 s.
  std::chrono::milliseconds transfer_timeout{10000};
  // Verify the CRC32C of every whole-object read (Get, BatchGet, GetInto, BatchGetInto)
  // against the checksum its put stored. A replica whose bytes do not match is reported to the
  // master (which drops it and re-replicates from a good one) and the next replica is tried;
  // the read fails with CHECKSUM_MISMATCH only when no replica (nor the object store) holds
  // the right bytes. Default on; turning it off is an explicit opt-out that lets corrupted
  // memory reach the caller silently (bytes read from SSD are checked either way). See
  // docs/integrity.md.
  bool verify_checksum = true;
  // Replica locations remembered from earlier lookups, reused while the read lease granted
  // with them lasts, so a Get of a hot key skips the master round trip. A read from a stale
  // location (node died or restarted) fails and is retried through the master. 0 disables.
  // Default 65536 keys.
  size_t location_cache_entries = 65536;
  // Bytes of memory this client contributes to the pool, as a storage node would: a segment
  // named local_hostname(), mounted in the master while the client lives and unmounted (its
  // replicas dropped) when it is destroyed. Default 0: none.
  uint64_t global_segment_size = 0;
  // Credentials for the object-storage tier the master names (mooncake_master
  // --object_store), when it needs any; the apps fill them from AWS_ACCESS_KEY_ID,
  // AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. Default: none (anonymous requests).
  std::string object_store_access_key_id;
  std::string object_store_secret_access_key;
  std::string object_store_session_token;
  // The cluster secret (docs/security.md): every master RPC carries a credential derived from
  // it and the Transfer Engine proves it to its peers. A master or node that requires it
  // refuses a client without it (kUnauthenticated, "authentication failed: ..."). Default
  // null: none (an open cluster). The apps fill it from --auth_secret_file.
  std::shared_ptr<const auth::ClusterSecret> auth_secret;

  Status Validate() const;
};

// What this client did with the object-storage tier (all 0 when the master names none).
struct ObjectTierStats {
  uint64_t uploads = 0;          // write-through uploads done before PutEnd
  uint64_t upload_failures = 0;  // puts refused because their upload failed
  uint64_t read_throughs = 0;    // reads served from the object store: a pool miss, or every
                                 // replica failed (GetIntoRanges: one per key)
  uint64_t promotions = 0;       // of those, objects put back into the pool
};

// What this client's reads found wrong (docs/integrity.md).
struct ReadIntegrityStats {
  // Replicas whose bytes did not match their object's checksum (each reported to the master).
  uint64_t corrupt_replicas = 0;
  // Reports the master could not be told (unreachable): the replica stays until a later read.
  uint64_t failed_reports = 0;
  // GetIntoRanges ranges read unchecked: the object had no per-block checksums (a node found
  // it on its SSD after a restart) and checking would have read more than staging holds.
  uint64_t unverified_ranges = 0;
};

// One range of GetIntoRanges: `length` bytes of `key` from `source_offset` into
// `destination` (inside a registered buffer).
struct GetRange {
  std::string key;
  uint64_t source_offset = 0;
  void* destination = nullptr;
  uint64_t length = 0;
  // When > 0, the object must be exactly this many bytes, else the range fails (nothing is
  // read): BUFFER_OVERFLOW when it is larger, INVALID_PARAMS when smaller. For callers that
  // scatter a whole object over several buffers and must not read a prefix of a bigger one.
  uint64_t expected_object_size = 0;
};

class Client {
 public:
  // Starts the Transfer Engine and connects to the master (a Ping, so a wrong address fails
  // here, naming it).
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);
  virtual ~Client() = default;

  // ---- Plain bytes (staged through local_buffer_size of registered memory) -------------
  virtual Status Put(const std::string& key, std::span<const uint8_t> value,
                     const ReplicateConfig& config = {}, PutMode mode = PutMode::kCreate) = 0;
  // Put of the concatenation of `parts` (gathered straight into the staging buffer).
  virtual Status PutParts(const std::string& key,
                          const std::vector<std::span<const uint8_t>>& parts,
                          const ReplicateConfig& config = {}, PutMode mode = PutMode::kCreate) = 0;
  virtual Result<std::vector<uint8_t>> Get(const std::string& key) = 0;
  // One result per key, in order; one master round trip for the batch.
  virtual std::vector<Status> BatchPut(const std::vector<std::string>& keys,
                                       const std::vector<std::span<const uint8_t>>& values,
                                       const ReplicateConfig& config = {},
                                       PutMode mode = PutMode::kCreate) = 0;
  virtual std::vector<Result<std::vector<uint8_t>>> BatchGet(
      const std::vector<std::string>& keys) = 0;

  // ---- Zero-copy (bytes move straight from/into registered memory) -------------------------
  // Registers [address, address + length) for PutFrom/GetInto; the caller keeps ownership.
  virtual Status RegisterBuffer(void* address, size_t length) = 0;
  virtual Status UnregisterBuffer(void* address) = 0;
  virtual Status PutFrom(const std::string& key, const void* address, size_t length,
                         const ReplicateConfig& config = {}, PutMode mode = PutMode::kCreate) = 0;
  // Reads the whole object into [address, address + capacity); returns its size.
  // BUFFER_OVERFLOW when the object is larger than `capacity`.
  virtual Result<uint64_t> GetInto(const std::string& key, void* address, size_t capacity) = 0;
  virtual std::vector<Status> BatchPutFrom(const std::vector<std::string>& keys,
                                           const std::vector<const void*>& addresses,
                                           const std::vector<size_t>& lengths,
                                           const ReplicateConfig& config = {},
                                           PutMode mode = PutMode::kCreate) = 0;
  virtual std::vector<Result<uint64_t>> BatchGetInto(const std::vector<std::string>& keys,
                                                     const std::vector<void*>& addresses,
                                                     const std::vector<size_t>& capacities) = 0;
  // Several (key, source offset, destination, length) ranges in one call; one result per range.
  virtual std::vector<Status> GetIntoRanges(const std::vector<GetRange>& ranges) = 0;

  // ---- Index ---------------------------------------------------------------------------
  // OBJECT_HAS_LEASE while a reader holds a lease, unless RemoveMode::kForce.
  virtual Status Remove(const std::string& key, RemoveMode mode = RemoveMode::kNormal) = 0;
  virtual Result<bool> IsExist(const std::string& key) = 0;
  virtual Result<uint64_t> GetSize(const std::string& key) = 0;
  virtual std::vector<Result<bool>> BatchIsExist(const std::vector<std::string>& keys) = 0;
  // Removes every object whose key contains a match of `pattern` (RE2 syntax, linear time;
  // anchor with ^/$ for a full match); returns how many. kInvalidParams naming the pattern and
  // RE2's reason when RE2 rejects it (e.g. backreferences, lookaround).
  virtual Result<uint64_t> RemoveByRegex(const std::string& pattern,
                                         RemoveMode mode = RemoveMode::kNormal) = 0;
  // One result per key, in order; one master round trip.
  virtual std::vector<Status> BatchRemove(const std::vector<std::string>& keys,
                                          RemoveMode mode = RemoveMode::kNormal) = 0;
  // Removes every object; returns how many.
  virtual Result<uint64_t> RemoveAll(RemoveMode mode = RemoveMode::kNormal) = 0;
  virtual std::vector<Result<uint64_t>> BatchGetSize(const std::vector<std::string>& keys) = 0;
  // OK when the master answers (a Ping); the RPC error naming it otherwise.
  virtual Status Ping() = 0;

  // This client's Transfer Engine name ("host:port").
  virtual std::string local_hostname() const = 0;
  virtual ObjectTierStats object_tier_stats() const = 0;
  virtual ReadIntegrityStats read_integrity_stats() const = 0;
};

}  // namespace mooncake::store
