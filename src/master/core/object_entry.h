#pragma once

// The master core's per-object record and the read-only views of it handed to callers. Plain
// data; MasterCore (master_core.h) owns every ObjectEntry and keeps the invariants below.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "master/core/master_types.h"

namespace mooncake {

using TimePoint = std::chrono::steady_clock::time_point;

// PROCESSING: allocated, the writer is still transferring the bytes; never shown to readers.
// COMPLETE: written and sealed by PutEnd; readable.
enum class ReplicaStatus : uint8_t { kProcessing, kComplete };

// One copy of an object's bytes: a single contiguous allocation (no striping yet).
struct Replica {
  Medium medium = Medium::kDram;
  // The node owning `allocation.segment` when the replica was placed.
  NodeId node;
  ReplicaStatus status = ReplicaStatus::kProcessing;
  Allocation allocation;
};

// What callers see of a replica (the same fields; a separate name so the record may grow
// private bookkeeping later without leaking it).
using ReplicaView = Replica;

// How an object is protected from eviction (see MasterCore's eviction rules).
struct PinState {
  // Never evicted.
  bool hard = false;
  // Evicted only after every unpinned object while now < soft_until; ordinary after.
  TimePoint soft_until{};
};

// A put in flight: the replicas being written, and when it began (for the put timeout).
struct PendingPut {
  uint64_t size = 0;
  uint64_t version = 0;
  int replica_num = 1;
  // Pins the object takes at PutEnd (soft_until counted from PutStart).
  PinState pin;
  std::vector<Replica> replicas;  // all kProcessing
  TimePoint started;
};

// Invariants (kept by MasterCore):
//  - `visible` is false until the first PutEnd; then the object has >= 1 replica, all
//    kComplete, and `pending` (if any) is an in-flight Upsert of a new version.
//  - while !visible, `pending` holds the first put and `replicas` is empty.
//  - every allocation in `replicas` and `pending->replicas` is held in the SegmentPool.
struct ObjectEntry {
  bool visible = false;
  uint64_t size = 0;
  uint64_t version = 0;
  uint32_t checksum = 0;
  int replica_num = 1;
  std::vector<Replica> replicas;
  std::optional<PendingPut> pending;
  // A read lease is live while now < lease_until. lease_streak_start is when the current
  // streak of back-to-back leases began (see MasterCore::GetReplicaList for the cap rule).
  TimePoint lease_until{};
  TimePoint lease_streak_start{};
  // Last GetReplicaList or PutEnd: the eviction order (ExistKey/GetSize are probes).
  TimePoint last_access{};
  PinState pin;
};

// A readable object as GetReplicaList returns it: only COMPLETE replicas.
struct ObjectView {
  uint64_t size = 0;
  uint64_t version = 0;
  uint32_t checksum = 0;
  std::vector<ReplicaView> replicas;
  // When the read lease just granted lapses.
  TimePoint lease_until{};
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

}  // namespace mooncake
