#pragma once

// The master core's side of every mounted segment: a compact SegmentId for replica records,
// the segment's name, node and medium stored once (not per replica), and the segment's
// members — one entry per replica on it — so losing a segment costs O(replicas on it), not a
// scan of every object.
//
// Members are an unordered vector of record pointers; each ReplicaRecord remembers its
// entry's position (member_slot), so Unlink is O(1): the last entry moves into the hole and
// the replica it belongs to (found by segment and slot among its record's replicas, at most
// 2 x kMaxReplicas) learns its new position.
//
// Invariant (kept by MasterCore, checked by its CheckInvariants): every replica of a record,
// visible or in a pending put, is linked exactly once, and members[r.member_slot] is its
// record. Replicas waiting for a deferred free are not linked. A segment marked gone (already
// unmounted in the SegmentPool, its replicas being dropped) must not be freed in the pool.
//
// Not thread-safe; owned by MasterCore.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "master/core/manifest_journal.h"
#include "master/core/object_record.h"
#include "store_types/segment.h"

namespace mooncake::master {

class SegmentIndex {
 public:
  struct Segment {
    std::string name;
    NodeId node;
    Medium medium = Medium::kDram;
    // Unmounted from the pool; being dropped (see the file comment).
    bool gone = false;
    // Its node is leaving (MasterCore::Drain); mirrors SegmentPool's flag.
    bool draining = false;
    std::vector<ObjectRecord*> members;
    // Manifest changes on their way to the node; null when the node does not track a
    // manifest (SegmentSpec::track_manifest).
    std::unique_ptr<ManifestJournal> journal;
  };

  // Registers a just-mounted segment and returns its id. The name must not be registered.
  SegmentId Add(const SegmentSpec& spec);
  // The id of the registered segment `name`, or nullopt.
  std::optional<SegmentId> Find(std::string_view name) const;
  // `id` must be registered.
  const Segment& Get(SegmentId id) const { return *segments_[id]; }
  // The journal of `id` (registered), or null when its node does not track a manifest.
  ManifestJournal* Journal(SegmentId id) { return segments_[id]->journal.get(); }
  bool Contains(SegmentId id) const { return id < segments_.size() && segments_[id]; }
  // Marks `id` gone and forgets its name (a new mount may reuse the name at once).
  void MarkGone(SegmentId id);
  // Marks `id` draining (see Segment::draining).
  void MarkDraining(SegmentId id) { segments_[id]->draining = true; }
  // Releases a gone segment's id for reuse; its members must be empty.
  void Remove(SegmentId id);
  // Number of registered segments (gone ones included until Removed).
  size_t size() const { return by_name_.size(); }
  // Calls fn(SegmentId, const Segment&) for every registered segment.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (SegmentId id = 0; id < segments_.size(); ++id) {
      if (segments_[id]) fn(id, *segments_[id]);
    }
  }

  // The bytes of an object of `size` bytes in `replica` (on a registered segment) as readers,
  // writers and copies address them: the whole allocation on DRAM/VRAM; on SSD, `size` bytes
  // (at least 1) past the header block (the padding up to the block boundary is not the
  // object's).
  Allocation DataRange(const ReplicaRecord& replica, uint64_t size) const;

  // Adds `replica` (of `record`, on replica.segment) to its segment's members and sets its
  // member_slot.
  void Link(ObjectRecord* record, ReplicaRecord& replica);
  // Removes `replica`'s entry from its segment's members.
  void Unlink(const ReplicaRecord& replica);
  // Moves out every member entry of `id` (an object appears once per replica it has there);
  // the member_slots of those replicas become meaningless.
  std::vector<ObjectRecord*> TakeMembers(SegmentId id);

 private:
  std::vector<std::unique_ptr<Segment>> segments_;  // by id; null for free ids
  std::vector<SegmentId> free_ids_;
  std::map<std::string, SegmentId, std::less<>> by_name_;
};

}  // namespace mooncake::master
