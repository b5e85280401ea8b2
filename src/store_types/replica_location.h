#pragma once

// Where one replica of an object is, as the master tells clients and nodes: which medium and
// node, whether it is readable yet, and its bytes in order.

#include <vector>

#include "mooncake/store/types.h"
#include "store_types/segment.h"

namespace mooncake {

struct ReplicaLocation {
  Medium medium = Medium::kDram;
  NodeId node_id;
  // Written and sealed by its put (readable); false while the writer is still writing.
  bool complete = false;
  // The object's bytes in order (one slice unless striped).
  std::vector<Allocation> slices;
};

}  // namespace mooncake
