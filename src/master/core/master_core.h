#pragma once

// The master's pure core: the object index (key -> size, version, checksum, replicas, lease)
// on top of the SegmentPool. Two-phase puts, upserts, read leases with a cap, removal, and the
// reaction to segments vanishing. No threads, no sockets, no clock reads of its own: time
// comes from the injected Clock, so tests drive it with a FakeClock.
//
// Not thread-safe: the service that owns a MasterCore serialises every call.
//
// Lease-cap rule (why reads can never hold an object forever):
//   A lease is live while now < lease_until. A lease streak is a run of back-to-back leases.
//   GetReplicaList at `now`:
//     - if the lease has lapsed (now >= lease_until), a new streak begins: streak_start = now;
//     - lease_until = min(now + default_lease_ttl, streak_start + max_lease_ttl).
//   So however often an object is read, its lease lapses at the latest max_lease_ttl after
//   the streak began; at that instant Remove (and, later, eviction) succeeds, and only a read
//   after it may start a new streak. ExistKey and GetSize take no lease at all.
//
// Eviction (per medium; order from the EvictionPolicy, LRU by default):
//   When used / capacity > eviction_high_watermark (checked by Tick), or a PutStart/UpsertStart
//   finds no room, whole visible objects with a replica on that medium are evicted until
//   used / capacity <= high - eviction_ratio (for a put: also until the put's bytes would
//   fit). Never evicted: objects with a live read lease, hard-pinned objects, objects with a
//   put/upsert in flight. Soft-pinned objects go only after every unpinned candidate. Only
//   GetReplicaList and PutEnd refresh an object's place in the LRU order; ExistKey and
//   GetSize are probes, so polling keys can neither keep them resident nor starve puts.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "master/core/eviction_policy.h"
#include "master/core/master_types.h"
#include "master/core/object_entry.h"
#include "master/core/segment_pool.h"
#include "mooncake/common/clock.h"
#include "mooncake/common/status.h"

namespace mooncake {

struct MasterCoreOptions {
  // Read lease granted by GetReplicaList. Default 5 s; > 0 and <= max_lease_ttl.
  std::chrono::milliseconds default_lease_ttl{5000};
  // How long one streak of back-to-back leases may last in total (see the lease-cap rule in
  // the file comment). Default 30 s; >= default_lease_ttl.
  std::chrono::milliseconds max_lease_ttl{30000};
  // A PutStart/UpsertStart not ended or revoked within this long is reclaimed by Tick().
  // Default 30 s; > 0.
  std::chrono::milliseconds put_timeout{30000};
  // Longest accepted key, in bytes; empty and longer keys are kInvalidKey. Default 4096; > 0.
  size_t max_key_length = 4096;
  // Largest accepted object, in bytes; larger sizes are kInvalidParams. Default 1 TiB; > 0.
  uint64_t max_object_size = uint64_t{1} << 40;
  // Eviction starts on a medium once used / capacity exceeds this. Default 0.95; <= 1.
  double eviction_high_watermark = 0.95;
  // Eviction frees down to used / capacity <= eviction_high_watermark - eviction_ratio.
  // Default 0.05; 0 < eviction_ratio < eviction_high_watermark.
  double eviction_ratio = 0.05;
  // A node whose last Mount or Heartbeat is this long ago is declared dead by Tick(): all its
  // segments are unmounted and their replicas dropped. Default 10 s; > 0.
  std::chrono::milliseconds client_ttl{10000};

  // kInvalidParams naming the first field out of range.
  Status Validate() const;
};

// How PutStart/UpsertStart place an object.
struct ReplicateConfig {
  // Copies wanted, each on a distinct node; 1..16.
  int replica_num = 1;
  // Segments to try first, in order (see SegmentPool::AllocateOnMedium).
  std::vector<std::string> preferred_segments;
  // Every replica goes to a segment of this medium.
  Medium medium = Medium::kDram;
  // Never evict the object (Remove still may).
  bool with_hard_pin = false;
  // Evict the object only after every unpinned one, for this long after PutStart; then it is
  // ordinary. Unset: no soft pin. An upsert's PutEnd replaces the object's pins with these.
  std::optional<std::chrono::milliseconds> soft_pin_ttl;
};

// What eviction has done since the core was created. Every candidate a run looks at is
// either evicted or counted in exactly one skipped_* field.
struct EvictionStats {
  // Eviction runs that found a medium over its watermark, or a put that did not fit.
  uint64_t runs = 0;
  uint64_t evicted_objects = 0;
  // Object bytes freed (size x replicas; allocation padding excluded).
  uint64_t evicted_bytes = 0;
  // Passed over because a read lease was live.
  uint64_t skipped_leased = 0;
  // Passed over because hard-pinned.
  uint64_t skipped_pinned = 0;
  // Passed over because a put or upsert of the key was in flight.
  uint64_t skipped_in_flight = 0;
};

// One object a storage node already holds, as its manifest announces it when it (re)mounts a
// segment: how a restarted master regains its index from the nodes (see MountWithManifest).
struct ManifestEntry {
  std::string key;
  // The replica's absolute address (segment base + offset) and the bytes it occupies there.
  uint64_t address = 0;
  uint64_t length = 0;
  // The object's size (<= length), version and checksum as sealed by its PutEnd.
  uint64_t size = 0;
  uint64_t version = 0;
  uint32_t checksum = 0;
};

// What MountWithManifest did with each manifest entry: every entry is counted exactly once.
struct MountReport {
  // Adopted as a COMPLETE replica (of a new object, or of one already known).
  size_t adopted = 0;
  // Lost to another claim on the key: an older version than the one kept, a different
  // size/checksum at the same version, a put of the key in flight, or a second replica on a
  // node that already holds one.
  size_t skipped_conflict = 0;
  // Malformed: bad key, size 0 or above max_object_size, length < size, version 0, or a range
  // outside the segment or overlapping one already taken.
  size_t skipped_invalid = 0;
};

enum class RemoveMode : uint8_t {
  // Refuse (kObjectHasLease) while a read lease is live.
  kNormal,
  // Remove even while leased: the caller accepts that readers may see their bytes vanish.
  kForce,
};

class MasterCore {
 public:
  static constexpr int kMaxReplicaNum = 16;

  // Fails with kInvalidParams when `options` do not validate. `clock` must outlive the core.
  static Result<std::unique_ptr<MasterCore>> Create(MasterCoreOptions options, const Clock& clock);

  MasterCore(const MasterCore&) = delete;
  MasterCore& operator=(const MasterCore&) = delete;

  // ---- Segments -------------------------------------------------------------------------
  // Mounts a segment (errors as SegmentPool::Mount). When the mount is from a newer epoch of
  // its node, the older epoch's segments are dropped first, with every replica they held
  // (see DropSegments).
  Status Mount(const SegmentSpec& spec);
  // Unmounts one segment (errors as SegmentPool::Unmount) and drops its replicas.
  Status Unmount(std::string_view name, const NodeId& node, Epoch epoch);
  // Unmounts every segment of `node` (e.g. missed liveness) and drops their replicas; returns
  // how many segments went.
  size_t UnmountNode(const NodeId& node);
  // Mount, then adopts each entry of the node's manifest as a COMPLETE replica on that
  // segment, reserving its range so no allocation can overlap it. A key the index lacks is
  // created with the entry's size, version and checksum; a key known at the same version,
  // size and checksum gains the replica; of two versions the higher is kept (a lower known
  // version is dropped, like an upsert's old one). Bad or conflicting entries are skipped and
  // counted in the report, never failing the mount; only the Mount itself can fail. Versions
  // handed to later puts are above every adopted one.
  Result<MountReport> MountWithManifest(const SegmentSpec& spec,
                                        const std::vector<ManifestEntry>& manifest);

  // ---- Liveness (master_core_liveness.cc) -----------------------------------------------
  // A node's Mount or MountWithManifest counts as its first heartbeat. Heartbeat records that
  // `node` is alive now. Errors: kClientNotFound (the node has no mounted segment, e.g. it
  // already expired, or `epoch` is newer than its mounted incarnation: it must mount again),
  // kInvalidVersion (`epoch` is older than the node's current incarnation).
  Status Heartbeat(const NodeId& node, Epoch epoch);
  // Nodes Tick() declared dead (no heartbeat for client_ttl) since the last call, in the order
  // they expired; clears the list.
  std::vector<NodeId> TakeExpiredNodes();

  // ---- Puts -----------------------------------------------------------------------------
  // Allocates config.replica_num replicas of `size` bytes on distinct nodes; the object stays
  // invisible until PutEnd. Places fewer replicas (best effort, `replicas_short` > 0) when too
  // few distinct nodes have room, as long as one fits. Errors, changing nothing:
  //  kInvalidKey (empty or too long key), kInvalidParams (size 0 or > max_object_size,
  //  replica_num outside 1..16), kObjectAlreadyExists (the key exists, visible or not),
  //  kNoAvailableHandle (no replica fits anywhere, even after evicting synchronously on the
  //  medium once; see Eviction in the file comment).
  Result<PutStartResult> PutStart(std::string_view key, uint64_t size,
                                  const ReplicateConfig& config);
  // Like PutStart, but an existing visible key is allowed: the new version's replicas are
  // allocated alongside the old ones, which stay readable until PutEnd swaps the versions
  // atomically. A key whose put or upsert is still in flight is kReplicaIsNotReady.
  Result<PutStartResult> UpsertStart(std::string_view key, uint64_t size,
                                     const ReplicateConfig& config);
  // Seals the put (or upsert) in flight for `key`: its replicas become COMPLETE and visible
  // with `checksum`. For an upsert the old version's replicas are freed now if no read lease
  // is live, else when the lease lapses (Tick), and the new version starts unleased.
  // Errors: kObjectNotFound (unknown key, or the put was revoked or reclaimed),
  // kInvalidParams (no put in flight: the object is already complete).
  Status PutEnd(std::string_view key, uint32_t checksum);
  // Abandons the put (or upsert) in flight for `key`, freeing its allocations; an upserted
  // object keeps its old version. Errors: kObjectNotFound, kInvalidParams (nothing in flight).
  Status PutRevoke(std::string_view key);

  // ---- Reads ----------------------------------------------------------------------------
  // The COMPLETE replicas of a visible object, granting or extending its read lease under the
  // lease-cap rule. kObjectNotFound for unknown or never-completed keys; kInvalidKey for bad
  // keys.
  Result<ObjectView> GetReplicaList(std::string_view key);
  // Whether a visible object exists. Takes no lease. kInvalidKey for bad keys.
  Result<bool> ExistKey(std::string_view key) const;
  // The size of a visible object; kObjectNotFound otherwise. Takes no lease.
  Result<uint64_t> GetSize(std::string_view key) const;

  // ---- Removal --------------------------------------------------------------------------
  // Removes a visible object and frees its replicas. Errors: kObjectNotFound,
  // kObjectHasLease (lease live, kNormal), kReplicaIsNotReady (a put or upsert is in flight:
  // its writer owns it until PutEnd/PutRevoke/timeout; even kForce refuses).
  Status Remove(std::string_view key, RemoveMode mode);
  // Removes every visible object whose key contains a match of `pattern` (ECMAScript
  // std::regex, regex_search) and returns how many; objects that Remove would refuse are
  // skipped. kInvalidParams for an invalid pattern.
  Result<size_t> RemoveByRegex(std::string_view pattern, RemoveMode mode);
  // Removes every visible object Remove would accept and returns how many.
  size_t RemoveAll(RemoveMode mode);

  // ---- Time -----------------------------------------------------------------------------
  // Reclaims puts/upserts in flight for >= put_timeout and frees old upsert replicas whose
  // protecting lease has lapsed. Call periodically (the service's timer).
  // First unmounts every node whose last heartbeat is >= client_ttl ago (as UnmountNode).
  // Then evicts on every medium above eviction_high_watermark.
  void Tick();
  // Counters of every eviction run so far.
  const EvictionStats& eviction_stats() const { return eviction_stats_; }

  // ---- Queries --------------------------------------------------------------------------
  // Visible objects with fewer COMPLETE replicas than their replica_num (for re-replication).
  size_t ObjectsBelowReplicaTarget() const;
  // Keys in the index, visible or not.
  size_t ObjectCount() const { return objects_.size(); }
  // Old upsert replicas waiting for a lease to lapse.
  size_t DeferredFreeCount() const { return deferred_.size(); }
  const SegmentPool& segment_pool() const { return pool_; }

 private:
  // Old replicas kept alive for readers until `until`.
  struct Deferred {
    TimePoint until;
    std::vector<Replica> replicas;
  };
  using ObjectMap = std::map<std::string, ObjectEntry, std::less<>>;

  MasterCore(MasterCoreOptions options, const Clock& clock);

  Status ValidateKey(std::string_view key) const;
  Status ValidatePut(std::string_view key, uint64_t size, const ReplicateConfig& config) const;
  // Allocates up to config.replica_num replicas on distinct nodes; kNoAvailableHandle (with
  // nothing held) when none fits.
  Result<PendingPut> Allocate(uint64_t size, const ReplicateConfig& config);
  // Allocate, and when nothing fits, evict on config.medium (never `protected_key`) to make
  // room for replica_num x size bytes and try once more.
  Result<PendingPut> AllocateOrEvict(uint64_t size, const ReplicateConfig& config,
                                     std::string_view protected_key);
  // Evicts on `medium` until its used bytes are <= target_used (or no candidate is left);
  // never `protected_key`. One eviction run in the stats.
  void EvictOn(Medium medium, uint64_t target_used, std::string_view protected_key);
  // used / capacity <= high - ratio, in bytes.
  uint64_t LowWatermarkBytes(uint64_t capacity) const;
  static PutStartResult ResultOf(const PendingPut& pending);
  void FreeReplicas(const std::vector<Replica>& replicas);
  bool LeaseLive(const ObjectEntry& entry) const { return clock_.Now() < entry.lease_until; }
  // Why Remove would refuse `entry` (OK when it would not).
  Status RemovableStatus(std::string_view key, const ObjectEntry& entry, RemoveMode mode) const;
  void Erase(ObjectMap::iterator it);
  // Forgets every replica on the named segments (already gone from the pool, so nothing is
  // freed there); objects left with no COMPLETE replica are removed, puts left with no
  // replica are cancelled.
  void DropSegments(const std::vector<std::string>& segments);
  // Unmounts the nodes past client_ttl (the liveness part of Tick).
  void ExpireDeadNodes();
  // Adopts one manifest entry on the just-mounted segment `spec` (MountWithManifest).
  void Adopt(const SegmentSpec& spec, const ManifestEntry& entry, MountReport& report);

  MasterCoreOptions options_;
  const Clock& clock_;
  SegmentPool pool_;
  ObjectMap objects_;
  std::vector<Deferred> deferred_;
  uint64_t next_version_ = 1;
  // Last Mount/Heartbeat of every node with mounted segments.
  std::map<NodeId, TimePoint, std::less<>> last_seen_;
  std::vector<NodeId> expired_nodes_;
  std::unique_ptr<EvictionPolicy> eviction_policy_;
  EvictionStats eviction_stats_;
};

}  // namespace mooncake
