#pragma once

// What callers of MasterCore see of objects and replicas: plain values built at call time from
// the core's compact records (object_record.h), so they carry names (segment, node) where the
// records carry only a SegmentId. Nothing here points into the core.

#include <chrono>
#include <cstdint>
#include <vector>

#include "store_types/block_checksums.h"
#include "store_types/segment.h"

namespace mooncake::master {

using TimePoint = std::chrono::steady_clock::time_point;

// PROCESSING: allocated, the writer is still transferring the bytes; never shown to readers.
// COMPLETE: written and sealed by PutEnd; readable.
enum class ReplicaStatus : uint8_t { kProcessing, kComplete };

// One copy of an object's bytes: a single contiguous allocation (no striping yet).
struct ReplicaView {
  // The medium of `allocation.segment`.
  Medium medium = Medium::kDram;
  // The node owning `allocation.segment`.
  NodeId node;
  ReplicaStatus status = ReplicaStatus::kProcessing;
  Allocation allocation;

  friend bool operator==(const ReplicaView&, const ReplicaView&) = default;
};

// A readable object as GetReplicaList returns it: only COMPLETE replicas.
struct ObjectView {
  uint64_t size = 0;
  uint64_t version = 0;
  uint32_t checksum = 0;
  std::vector<ReplicaView> replicas;
  // When the read lease just granted lapses.
  TimePoint lease_until{};
  // Per-block CRC32Cs (null: at most one block, or not known).
  BlockChecksums block_checksums;
};

// What PutStart/UpsertStart hand back: where to write the bytes.
struct PutStartResult {
  // One per replica placed, on distinct nodes, all kProcessing.
  std::vector<ReplicaView> replicas;
  // replica_num minus replicas.size(): how many replicas could not be placed on a further
  // distinct node (best effort); 0 when all were placed.
  int replicas_short = 0;
  // The version the object will have once PutEnd seals it.
  uint64_t version = 0;
};

}  // namespace mooncake::master
