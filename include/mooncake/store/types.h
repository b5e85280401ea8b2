#pragma once

// The store's vocabulary that the client API shares with the master and the storage nodes:
// where a segment's bytes live, how a put places its replicas, and what put and remove do with
// a key that exists or is being read. Plain values; namespace mooncake, like Status, because
// every module speaks it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mooncake {

// Where a segment's bytes live.
enum class Medium : uint8_t { kDram, kVram, kSsd };

// "DRAM", "VRAM", "SSD"; "UNKNOWN" for a value outside the enum.
inline const char* MediumName(Medium medium) {
  switch (medium) {
    case Medium::kDram:
      return "DRAM";
    case Medium::kVram:
      return "VRAM";
    case Medium::kSsd:
      return "SSD";
  }
  return "UNKNOWN";
}

// Most replicas one object may have.
inline constexpr int kMaxReplicaNum = 16;

// How a put places an object's replicas.
struct ReplicateConfig {
  // Copies wanted, each on a distinct node; 1..16. Fewer are placed (best effort) when fewer
  // nodes have room, as long as one fits.
  int replica_num = 1;
  // Segments to try first, in order; then the others of `medium`, most free bytes first.
  std::vector<std::string> preferred_segments;
  // Every replica goes to a segment of this medium (a DRAM put that does not fit may still go
  // to free SSD space when the cluster has an SSD tier). Default DRAM.
  Medium medium = Medium::kDram;
  // Never evicted (Remove still may).
  bool with_hard_pin = false;
  // Evicted only after every unpinned object, for this long after the put; then ordinary.
  // Unset: no soft pin. An upsert replaces the object's pins with these.
  std::optional<std::chrono::milliseconds> soft_pin_ttl;
  // The bytes come from the object-storage tier (a read-through putting a pool miss back): the
  // master counts a read-through, and with write-back the object needs no upload. Set by the
  // store client itself; the client ignores a caller's value.
  bool from_object_store = false;
};

// What a put does with a key that exists.
enum class PutMode : uint8_t {
  // The put fails with OBJECT_ALREADY_EXISTS; the stored object is unchanged.
  kCreate,
  // The stored object is replaced atomically (readers see the old or the new object).
  kUpsert,
};

// What a remove does with an object a reader holds a lease on.
enum class RemoveMode : uint8_t {
  // Refuse (OBJECT_HAS_LEASE) while a read lease is live.
  kNormal,
  // Remove even while leased: the caller accepts that readers may see their bytes vanish.
  kForce,
};

}  // namespace mooncake
