#pragma once

// The master core's own per-object record, laid out for a small footprint: at a million
// objects the index is most of the master's memory (see bench/micro/master_core_memory_bench).
//
//  - ObjectRecord is one heap block: the fixed fields followed by the key's bytes, so a key
//    costs its length and no std::string (32 B plus a second heap chunk for keys > 15 B).
//  - A replica is 24 B: a SegmentId instead of the segment's and node's names, which the
//    core's SegmentIndex keeps once per segment; the first replica lives inside the record,
//    further ones in one exact-size heap array.
//  - A put in flight (rare at steady state) is a separate PendingPut behind a pointer.
//
// Records never move once created (ObjectTable holds pointers to them), so SegmentIndex and
// the core's deadline index may point at them. Plain data plus the replica storage; MasterCore
// keeps the invariants (see object_index.h) and ObjectTable owns the records.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "master/core/object_view.h"

namespace mooncake::master {

// A mounted segment's compact id in the core's SegmentIndex. Ids are reused after their
// segment is gone and no record refers to it any more.
using SegmentId = uint32_t;

// One replica as the core stores it.
struct ReplicaRecord {
  // Absolute address (segment base + offset) and the bytes asked for (padding excluded): the
  // allocation held in the SegmentPool.
  uint64_t address = 0;
  uint64_t length = 0;
  SegmentId segment = 0;
  // Position of this replica's entry in its segment's member list (SegmentIndex); kept by
  // SegmentIndex::Link/Unlink. Meaningless for replicas waiting for a deferred free.
  uint32_t member_slot = 0;
};
static_assert(sizeof(ReplicaRecord) == 24, "ReplicaRecord is the per-replica footprint");

// How an object is protected from eviction (see MasterCore's eviction rules).
struct PinState {
  // Never evicted.
  bool hard = false;
  // Evicted only after every unpinned object while now < soft_until; ordinary after.
  TimePoint soft_until{};
};

// A put or upsert in flight: the replicas being written (all PROCESSING).
struct PendingPut {
  uint64_t size = 0;
  // Unique per put: also the tie-break of the core's deadline index.
  uint64_t version = 0;
  int replica_num = 1;
  // Pins the object takes at PutEnd (soft_until counted from PutStart).
  PinState pin;
  // The bytes come from the object store (ReplicateConfig::from_object_store).
  bool from_object_store = false;
  std::vector<ReplicaRecord> replicas;
  TimePoint started;
  // started + put_timeout: from then on the put counts as reclaimed, whether or not Tick has
  // run yet.
  TimePoint deadline;
};

class ObjectRecord {
 public:
  static constexpr size_t kMaxReplicas = 16;

  // A record with every field zero for `key`, in one allocation with the key's bytes.
  // Release with Destroy.
  static ObjectRecord* Create(std::string_view key);
  static void Destroy(ObjectRecord* record);

  ObjectRecord(const ObjectRecord&) = delete;
  ObjectRecord& operator=(const ObjectRecord&) = delete;

  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_length_}; }

  // The visible version's replicas (COMPLETE), in placement order.
  std::span<ReplicaRecord> replicas() {
    return {replica_count_ <= 1 ? &one_ : many_, replica_count_};
  }
  std::span<const ReplicaRecord> replicas() const {
    return {replica_count_ <= 1 ? &one_ : many_, replica_count_};
  }
  // At most kMaxReplicas; the caller checks.
  void AddReplica(const ReplicaRecord& replica);
  // Removes replicas()[i], keeping the others' order.
  void EraseReplicaAt(size_t i);
  // Replaces the replicas with `replicas` (at most kMaxReplicas).
  void SetReplicas(std::span<const ReplicaRecord> replicas);
  // Moves the replicas out, leaving none.
  std::vector<ReplicaRecord> TakeReplicas();

  // The replica (visible or pending) on `segment` whose member entry is `member_slot`, or
  // nullptr.
  ReplicaRecord* FindMember(SegmentId segment, uint32_t member_slot);

  // ---- Object fields (see the invariants in object_index.h) ----
  uint64_t size = 0;
  uint64_t version = 0;
  // A read lease is live while now < lease_until. lease_streak_start is when the current
  // streak of back-to-back leases began (see MasterCore::GetReplicaList for the cap rule).
  TimePoint lease_until{};
  TimePoint lease_streak_start{};
  // Last GetReplicaList or PutEnd: the eviction order (ExistKey/GetSize are probes).
  TimePoint last_access{};
  // Evicted only after every unpinned object while now < soft_until.
  TimePoint soft_until{};
  // The put or upsert in flight, if any.
  std::unique_ptr<PendingPut> pending;
  uint32_t checksum = 0;
  // GetReplicaList calls that found the object only on SSD since it was last promoted or
  // lost its DRAM copy (saturates; see MasterCoreOptions::promote_after_hits). Fills padding.
  uint8_t ssd_hits = 0;
  // Write-back: the object store holds this version (see MasterCore "Write-back"). Fills
  // padding.
  bool in_object_store = false;

 private:
  explicit ObjectRecord(uint32_t key_length);
  ~ObjectRecord();
  void FreeHeapReplicas();

  // replica_count_ <= 1: the replica (if any) is one_; otherwise many_ holds exactly
  // replica_count_ replicas.
  union {
    ReplicaRecord one_;
    ReplicaRecord* many_;
  };
  uint32_t key_length_;
  uint8_t replica_count_ = 0;

 public:
  // Copies wanted (PutStart's replica_num), 1..kMaxReplicas.
  uint8_t replica_num = 1;
  // False until the first PutEnd (or adoption from a manifest).
  bool visible = false;
  // Never evicted.
  bool hard_pin = false;
};

}  // namespace mooncake::master
