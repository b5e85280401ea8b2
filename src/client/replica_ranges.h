#pragma once

// Maps a byte range of an object onto the slices of one of its replicas: which (segment,
// remote address, length) pieces hold object bytes [offset, offset + length). Pure; the
// client turns each piece into one Transfer Engine request.

#include <cstdint>
#include <string>
#include <vector>

#include "master/client/master_client.h"
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

}  // namespace mooncake::store
