#pragma once

// Which replica of an object a read tries first, and which (segment, remote address, length)
// pieces of that replica hold object bytes [offset, offset + length). Pure; the client turns
// each piece into one Transfer Engine request.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "master/client/master_api.h"
#include "mooncake/common/status.h"

namespace mooncake::store {

struct RemotePiece {
  std::string segment;
  uint64_t remote_address = 0;
  // Where the piece starts within the requested range (0 for the first piece).
  uint64_t range_offset = 0;
  uint64_t length = 0;
};

// The pieces of `replica` holding object bytes [offset, offset + length), in object order.
// kInvalidReplica when the replica's slices do not cover the range (a replica shorter than
// the object the master described).
Result<std::vector<RemotePiece>> MapObjectRange(const ReplicaLocation& replica, uint64_t offset,
                                                uint64_t length);

// The order in which one read tries `replicas`, as indices into it (each once): memory
// replicas (DRAM, VRAM) before all others (SSD), so an object promoted to DRAM is read from
// memory as long as that copy lives, and SSD only when every memory replica failed. Within
// each of the two groups, list order rotated by `rotation`: callers pass a counter that
// advances per read, spreading readers over equal replicas.
std::vector<size_t> ReplicaReadOrder(const std::vector<ReplicaLocation>& replicas,
                                     uint64_t rotation);

}  // namespace mooncake::store
