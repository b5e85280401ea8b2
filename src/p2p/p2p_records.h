#pragma once

// What the P2P Store keeps in etcd, and the keys. Layout (prefix mooncake/p2p/v1/):
//
//   objects/<name>                      object record (no lease): name, size, hash algorithm,
//                                       shards [{size, hash}], parts [{name, size}]
//   holders/<escaped name>/<segment>    holder record, under the holder's lease: the holder's
//                                       segment, its buffers in object order, which shards it
//                                       holds (verified), which it is fetching now, whether
//                                       it is a seed
//
// One holder record per (object, peer) lists the peer's shards, rather than one key per
// (shard, peer): a fetching peer re-reads the holders several times a second, and this keeps
// that read (and etcd's load) proportional to the number of peers, not peers × shards.
// <escaped name> replaces '%' by "%25" and '/' by "%2F", so that no name's holder prefix is a
// prefix of another's.

#include <cstdint>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/p2p/p2p_store.h"
#include "p2p/object_layout.h"

namespace mooncake::p2p {

struct ShardRecord {
  uint64_t size = 0;
  std::string hash;  // lower-case hex
  friend bool operator==(const ShardRecord&, const ShardRecord&) = default;
};

struct ObjectRecord {
  std::string name;
  uint64_t size = 0;
  std::string hash_algorithm;  // "xxh3-128" | "sha256"
  std::vector<ShardRecord> shards;
  std::vector<P2PObjectPart> parts;
  // Same content (size, algorithm, shards); names of parts may differ.
  bool SameContent(const ObjectRecord& other) const {
    return size == other.size && hash_algorithm == other.hash_algorithm && shards == other.shards;
  }
};

// A peer's entry for one object. It may hold no shard yet (only fetching).
struct HolderRecord {
  std::string segment;          // Transfer Engine segment name "host:port"
  std::vector<Extent> buffers;  // the holder's memory in object order
  std::vector<bool> shards;     // shards[i]: holds shard i, verified
  std::vector<bool> fetching;   // fetching[i]: fetching shard i now (empty: none)
  bool seed = false;            // Registered the object (rather than fetched it)
  bool HoldsAny() const;
};

inline constexpr char kP2PKeyPrefix[] = "mooncake/p2p/v1/";

std::string ObjectKey(const std::string& name);
std::string ObjectKeyPrefix();  // every object record starts with it
std::string HolderPrefix(const std::string& name);
std::string HolderKey(const std::string& name, const std::string& segment);

// Object names: 1..1024 bytes, no NUL or newline; kInvalidParams naming it otherwise.
Status ValidateObjectName(const std::string& name);

std::string EncodeObjectRecord(const ObjectRecord& record);
// Checks structure and consistency (shard sizes add up to size, parts too when present).
Result<ObjectRecord> DecodeObjectRecord(const std::string& json);
std::string EncodeHolderRecord(const HolderRecord& record);
// `shard_count` and `object_size`: what the record must match.
Result<HolderRecord> DecodeHolderRecord(const std::string& json, size_t shard_count,
                                        uint64_t object_size);

}  // namespace mooncake::p2p
