#include "master/core/ssd_quarantine.h"

#include <fmt/format.h>

#include <cstdint>

namespace mooncake::master {

bool SsdQuarantine::HoldIfUnacknowledged(SegmentId id, const SegmentIndex::Segment& segment,
                                         uint64_t address, uint64_t length) {
  if (segment.medium != Medium::kSsd || !segment.journal ||
      segment.journal->last_seq() <= segment.journal->acked_seq()) {
    return false;
  }
  ranges_[id].push_back(Range{segment.journal->last_seq(), address, length});
  return true;
}

void SsdQuarantine::Release(SegmentId id, const SegmentIndex::Segment& segment, SegmentPool& pool) {
  auto it = ranges_.find(id);
  if (it == ranges_.end()) return;
  const uint64_t acked = segment.journal ? segment.journal->acked_seq() : UINT64_MAX;
  std::deque<Range>& ranges = it->second;
  while (!ranges.empty() && ranges.front().seq <= acked) {
    // Held since it was quarantined (invariant), so Free cannot fail.
    pool.Free(segment.name, ranges.front().address, ranges.front().length).IgnoreError();
    ranges.pop_front();
  }
  if (ranges.empty()) ranges_.erase(it);
}

size_t SsdQuarantine::Ranges() const {
  size_t n = 0;
  for (const auto& [id, ranges] : ranges_) n += ranges.size();
  return n;
}

uint64_t SsdQuarantine::Bytes() const {
  uint64_t bytes = 0;
  for (const auto& [id, ranges] : ranges_) {
    for (const Range& r : ranges) bytes += r.length;
  }
  return bytes;
}

Status SsdQuarantine::CheckInvariants(const SegmentIndex& segments, const SegmentPool& pool,
                                      std::map<SegmentId, size_t>& held_on) const {
  for (const auto& [id, ranges] : ranges_) {
    if (!segments.Contains(id) || segments.Get(id).gone) {
      return InternalError(
          fmt::format("master core inconsistent: quarantined ranges on unknown segment id {}", id));
    }
    const SegmentIndex::Segment& segment = segments.Get(id);
    if (segment.medium != Medium::kSsd || !segment.journal || ranges.empty()) {
      return InternalError(
          fmt::format("master core inconsistent: segment '{}' has a quarantine but is no "
                      "manifest-tracking SSD segment (or it is empty)",
                      segment.name));
    }
    for (const Range& r : ranges) {
      ++held_on[id];
      Status held = pool.CheckHeld(segment.name, r.address, r.length);
      if (!held.ok()) return held.WithContext("quarantined SSD range not held");
    }
  }
  return Status::Ok();
}

}  // namespace mooncake::master
