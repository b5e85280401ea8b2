#pragma once

// A storage node's manifest: the exact list of the objects it holds, which the master keeps
// current by journaling every replica that appears on or leaves the node's segments (the node
// fetches the changes with its heartbeats) and from which a restarted master rebuilds its index
// (the node re-mounts with it). See src/master/core/manifest_journal.h.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "store_types/block_checksums.h"

namespace mooncake {

// One object a storage node holds, as its manifest lists it.
struct ManifestEntry {
  std::string key;
  // The replica's absolute address (segment base + offset) and the bytes it occupies there.
  uint64_t address = 0;
  uint64_t length = 0;
  // The object's size (<= length), version and checksum as sealed by its PutEnd.
  uint64_t size = 0;
  uint64_t version = 0;
  uint32_t checksum = 0;
  // Write-back: this version is in the object store (see MasterCore "Write-back").
  bool in_object_store = false;
  // The per-block CRC32Cs PutEnd sealed (null: none), so that a master rebuilt from the
  // manifests still lets ranged reads check only the blocks they touch. Entries read back
  // from SSD headers after a node restart have none.
  BlockChecksums block_checksums;
};

// One change to a segment's manifest.
struct ManifestChange {
  // Added: `entry` is now a COMPLETE replica on the segment. Removed: the replica of
  // entry.key at entry.address is gone (only key and address are set).
  bool removed = false;
  ManifestEntry entry;
};

// Consecutive changes of one segment's manifest, as a heartbeat reply carries them.
struct ManifestBatch {
  // Number of changes.front(); the node expects its last acknowledged number + 1.
  uint64_t first_seq = 1;
  std::vector<ManifestChange> changes;
};

// What the master did with each entry of the manifest a node mounted a segment with: every
// entry is counted exactly once.
struct MountReport {
  // Adopted as a COMPLETE replica (of a new object, or of one already known).
  size_t adopted = 0;
  // Lost to another claim on the key: an older version than the one kept, a different
  // size/checksum at the same version, a put of the key in flight, or a second replica on a
  // node that already holds one.
  size_t skipped_conflict = 0;
  // Malformed: bad key, length 0, size above max_object_size, length < size, version 0, or a
  // range outside the segment or overlapping one already taken.
  size_t skipped_invalid = 0;
  // The keys of the skipped entries, in manifest order: the node drops them from its
  // manifest (the master does not count those bytes as its objects).
  std::vector<std::string> rejected_keys;
};

}  // namespace mooncake
