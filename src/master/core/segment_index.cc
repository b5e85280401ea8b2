#include "master/core/segment_index.h"

#include <algorithm>
#include <utility>

#include "store_types/ssd_geometry.h"

namespace mooncake::master {

Allocation SegmentIndex::DataRange(const ReplicaRecord& replica, uint64_t size) const {
  const Segment& segment = Get(replica.segment);
  if (segment.medium == Medium::kSsd) {
    return Allocation{segment.name, replica.address + kSsdHeaderBytes, std::max<uint64_t>(size, 1)};
  }
  return Allocation{segment.name, replica.address, replica.length};
}

SegmentId SegmentIndex::Add(const SegmentSpec& spec) {
  SegmentId id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<SegmentId>(segments_.size());
    segments_.emplace_back();
  }
  auto segment = std::make_unique<Segment>();
  segment->name = spec.name;
  segment->node = spec.node_id;
  segment->medium = spec.medium;
  if (spec.track_manifest) segment->journal = std::make_unique<ManifestJournal>();
  segments_[id] = std::move(segment);
  by_name_[spec.name] = id;
  return id;
}

std::optional<SegmentId> SegmentIndex::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

void SegmentIndex::MarkGone(SegmentId id) {
  Segment& segment = *segments_[id];
  segment.gone = true;
  auto it = by_name_.find(segment.name);
  if (it != by_name_.end() && it->second == id) by_name_.erase(it);
}

void SegmentIndex::Remove(SegmentId id) {
  segments_[id].reset();
  free_ids_.push_back(id);
}

void SegmentIndex::Link(ObjectRecord* record, ReplicaRecord& replica) {
  std::vector<ObjectRecord*>& members = segments_[replica.segment]->members;
  replica.member_slot = static_cast<uint32_t>(members.size());
  members.push_back(record);
}

void SegmentIndex::Unlink(const ReplicaRecord& replica) {
  std::vector<ObjectRecord*>& members = segments_[replica.segment]->members;
  const uint32_t hole = replica.member_slot;
  const uint32_t last = static_cast<uint32_t>(members.size() - 1);
  if (hole != last) {
    ObjectRecord* moved = members[last];
    members[hole] = moved;
    // The moved entry's replica is never `replica` itself (their slots differ).
    if (ReplicaRecord* r = moved->FindMember(replica.segment, last)) r->member_slot = hole;
  }
  members.pop_back();
  // Give memory back after a segment sheds most of its objects (eviction, removals);
  // amortised O(1) like the growth.
  if (members.capacity() > 64 && members.size() < members.capacity() / 4) {
    members.shrink_to_fit();
  }
}

std::vector<ObjectRecord*> SegmentIndex::TakeMembers(SegmentId id) {
  return std::exchange(segments_[id]->members, {});
}

}  // namespace mooncake::master
