#pragma once

// P2P Store: distributes named objects (checkpoints) between peers. A peer that has an
// object in memory Registers it: its shard map (sizes and content hashes) is published in
// etcd and the peer becomes a seed; no data moves. Other peers GetReplica it: every shard is
// pulled in pieces from holders chosen to spread load (rarest shard first, fewest active
// readers, random tie-break), over the Transfer Engine straight into the caller's memory,
// verified by hash, and the peer registers as a holder of each shard as soon as it is
// verified, so later peers pull from it. Holder entries live under an etcd lease this peer
// keeps alive: a dead peer vanishes from the map within the lease TTL. No master, no
// durability promise.
//
//   auto store = P2PStore::Create({.metadata_server = "etcd://10.0.0.1:2379",
//                                  .local_server_name = "10.0.0.2:0"}).value();
//   store->Register("ckpt-100", {addr}, {size});            // on the trainer
//   store->GetReplica("ckpt-100", {dst}, {size}).value();   // on each inference node
//
// Thread safety: every method may be called from any thread; calls for the same name must
// not overlap. Memory passed to Register/GetReplica stays owned by the caller and must stay
// valid (and, for Register, unchanged) until Unregister/DeleteReplica or destruction.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"

namespace mooncake::p2p {

enum class P2PHashAlgorithm {
  kXxh3_128,  // "xxh3-128": fast; detects corruption, not forgery
  kSha256,    // "sha256": for peers that are not trusted
};

struct P2PStoreOptions {
  // Where shard maps and holders live: "etcd://host:port[,host:port...]" (a bare
  // "host:port[,...]" means etcd too). Required. The Transfer Engine keeps its segment
  // descriptors there as well.
  std::string metadata_server;
  // "host:port" under which other peers reach this one; port 0 or "host" alone picks a free
  // port. Empty: "127.0.0.1:0" (loopback only).
  std::string local_server_name;
  // Transfer Engine protocol: "auto" (default: shm on this host, tcp elsewhere), "tcp", "ucx".
  std::string protocol = "auto";
  // TTL of the etcd lease holding this peer's holder entries (default 10 s, >= 1 s); renewed
  // every TTL/3 by a background thread. A dead peer disappears within about this long.
  std::chrono::seconds lease_ttl{10};
  // Hash of the shards of objects this peer Registers (default xxh3-128). Fetching peers use
  // whatever the object record names.
  P2PHashAlgorithm hash_algorithm = P2PHashAlgorithm::kXxh3_128;
  // Bytes per piece, the unit fetched from one holder (default 4 MiB, > 0).
  uint64_t piece_size = 4ull << 20;
  // Pieces in flight at once per GetReplica (default 8) and per holder (default 4).
  size_t max_pieces_in_flight = 8;
  size_t max_pieces_per_holder = 4;
  // Failed transfers of one piece before GetReplica gives up (default 5).
  int max_piece_attempts = 5;
  // Hash mismatches of one shard before GetReplica gives up (default 4).
  int max_shard_verifications = 4;
  // How often GetReplica re-reads the holders from etcd (default 200 ms).
  std::chrono::milliseconds holder_refresh_interval{200};
  // GetReplica fails when, for this long, nothing is in flight and no live holder can serve
  // a missing shard (default 15 s).
  std::chrono::milliseconds stall_timeout{15000};
  // Bound on one GetReplica call (default 1 h).
  std::chrono::milliseconds get_timeout{3600000};
  // Extra active readers counted against seeds (peers that Registered the object) when
  // choosing a holder (default 1): a shard that other peers already hold is read from them
  // first, so the seed's link carries the rare shards.
  uint32_t seed_bias = 1;
  // After GetReplica, serve what was fetched (default true). False: fetch only, never become
  // a holder (the "naive" everyone-from-the-seed mode, for benchmarks).
  bool serve_replicas = true;
  // Seed of the holder/shard tie-break RNG (default 0 = random).
  uint64_t scheduler_seed = 0;
  // Bound on one etcd request (default 3 s).
  std::chrono::milliseconds etcd_timeout{3000};
  // The cluster secret (docs/security.md), handed to this peer's Transfer Engine, which proves
  // it to the peers it reads from and requires it of those reading from it. Default null:
  // none (anyone who can reach local_server_name may read what this peer serves).
  // mooncake_p2p fills it from --auth_secret_file.
  std::shared_ptr<const auth::ClusterSecret> auth_secret;

  Status Validate() const;
};

// Extra arguments of Register.
struct P2PRegisterOptions {
  // Largest shard (default 64 MiB, > 0): each buffer is cut into shards of this size.
  uint64_t max_shard_size = 64ull << 20;
  // Optional names of the buffers (e.g. file names; empty, or one per buffer), published
  // with the object so that a fetching peer can recreate them.
  std::vector<std::string> part_names;
};

// One buffer of a registered object, as published.
struct P2PObjectPart {
  std::string name;  // empty unless given at Register
  uint64_t size = 0;
};

struct P2PObjectInfo {
  std::string name;
  uint64_t size = 0;  // bytes
  size_t shard_count = 0;
  std::string hash_algorithm;  // "xxh3-128" or "sha256"
  std::vector<P2PObjectPart> parts;
  size_t holder_count = 0;  // live peers holding at least one shard
  size_t seed_count = 0;    // of which Registered it
};

// Progress of a GetReplica, reported to GetReplicaOptions::on_progress.
struct ReplicaProgress {
  uint64_t bytes_done = 0;  // verified or fetched pieces
  uint64_t total_bytes = 0;
  size_t shards_verified = 0;
  size_t shard_count = 0;
  size_t holders_in_use = 0;  // holders with a piece in flight now
};

struct GetReplicaOptions {
  // Called from the calling thread about every `progress_interval`, and once at the end.
  std::function<void(const ReplicaProgress&)> on_progress;
  std::chrono::milliseconds progress_interval{500};
};

// What a completed GetReplica did.
struct ReplicaStats {
  uint64_t bytes = 0;
  uint64_t bytes_from_seeds = 0;  // pieces read from peers that Registered the object
  uint64_t bytes_from_peers = 0;  // pieces read from peers that fetched it
  size_t pieces_failed = 0;
  size_t shards_corrupt = 0;
  std::vector<std::string> holders_used;
  std::chrono::microseconds elapsed{0};
};

class P2PStore {
 public:
  // Starts a Transfer Engine, connects to etcd and grants this peer's lease.
  static Result<std::unique_ptr<P2PStore>> Create(P2PStoreOptions options);
  // Stops serving: revokes the lease (this peer's holder entries disappear at once) and
  // unregisters every buffer. Object records stay (see Unregister).
  virtual ~P2PStore() = default;

  // "host:port" of this peer's Transfer Engine segment.
  virtual std::string local_server_name() const = 0;

  // Publishes `name` (the concatenation of the buffers) and becomes its seed. Registering a
  // name that exists with the same content makes this peer one more seed; with different
  // content it is kObjectAlreadyExists while the old one has live holders (a record whose
  // holders are all gone is replaced). Sizes must be > 0.
  virtual Status Register(const std::string& name, const std::vector<void*>& addrs,
                          const std::vector<size_t>& sizes, const P2PRegisterOptions& options) = 0;
  Status Register(const std::string& name, const std::vector<void*>& addrs,
                  const std::vector<size_t>& sizes, uint64_t max_shard_size = 64ull << 20) {
    P2PRegisterOptions options;
    options.max_shard_size = max_shard_size;
    return Register(name, addrs, sizes, options);
  }

  // Pulls `name` into the buffers (their total size must equal the object's; the layout may
  // differ from the seed's) and, unless serve_replicas is off, keeps serving it afterwards.
  // kObjectNotFound naming the object when it is unknown or has no live holder;
  // kChecksumMismatch / kTransferFail when attempts run out; kRpcTimeout on stall/timeout.
  virtual Result<ReplicaStats> GetReplica(const std::string& name, const std::vector<void*>& addrs,
                                          const std::vector<size_t>& sizes,
                                          const GetReplicaOptions& options = {}) = 0;

  // Stops seeding an object this peer Registered: removes its holder entry and unregisters
  // the buffers; the object record is deleted when no live holder remains. kObjectNotFound
  // when this peer did not Register `name`.
  virtual Status Unregister(const std::string& name) = 0;
  // Drops a copy obtained with GetReplica, like Unregister. kObjectNotFound when this peer
  // holds no replica of `name`.
  virtual Status DeleteReplica(const std::string& name) = 0;

  // Objects whose name starts with `prefix` (all for ""), in name order.
  virtual Result<std::vector<P2PObjectInfo>> List(const std::string& prefix = "") = 0;
  // One object; kObjectNotFound when unknown.
  virtual Result<P2PObjectInfo> GetObjectInfo(const std::string& name) = 0;
  // Deletes the object's record and every holder entry from etcd, whoever holds it (peers
  // still holding memory keep it until they Unregister). kObjectNotFound when unknown.
  virtual Status Remove(const std::string& name) = 0;
};

}  // namespace mooncake::p2p
