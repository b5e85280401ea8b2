#include "client/replica_ranges.h"

#include <algorithm>

namespace mooncake::store {
namespace {

// Replicas of a lower rank are read first.
int ReadRank(Medium medium) { return medium == Medium::kDram || medium == Medium::kVram ? 0 : 1; }
constexpr int kReadRanks = 2;

}  // namespace

Result<std::vector<RemotePiece>> MapObjectRange(const ReplicaLocation& replica, uint64_t offset,
                                                uint64_t length) {
  std::vector<RemotePiece> pieces;
  if (length == 0) return pieces;
  const uint64_t end = offset + length;
  if (end < offset) {
    return Status(StatusCode::kInvalidParams, "object range overflows 64 bits");
  }
  uint64_t slice_start = 0;  // object offset of the current slice
  for (const Allocation& slice : replica.slices) {
    const uint64_t slice_end = slice_start + slice.length;
    const uint64_t from = std::max(offset, slice_start);
    const uint64_t to = std::min(end, slice_end);
    if (from < to) {
      pieces.push_back(
          {slice.segment, slice.address + (from - slice_start), from - offset, to - from});
    }
    slice_start = slice_end;
    if (slice_start >= end) break;
  }
  if (slice_start < end) {
    return Status(StatusCode::kInvalidReplica, "replica on node '" + replica.node_id + "' holds " +
                                                   std::to_string(slice_start) +
                                                   " bytes, range ends at " + std::to_string(end));
  }
  return pieces;
}

std::vector<size_t> ReplicaReadOrder(const std::vector<ReplicaLocation>& replicas,
                                     uint64_t rotation) {
  std::vector<size_t> order;
  order.reserve(replicas.size());
  std::vector<size_t> group;
  for (int rank = 0; rank < kReadRanks; ++rank) {
    group.clear();
    for (size_t i = 0; i < replicas.size(); ++i) {
      if (ReadRank(replicas[i].medium) == rank) group.push_back(i);
    }
    for (size_t k = 0; k < group.size(); ++k) order.push_back(group[(rotation + k) % group.size()]);
  }
  return order;
}

}  // namespace mooncake::store
