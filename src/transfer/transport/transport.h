#pragma once

// A way of moving slices to and from other segments. Each implementation lives in its own
// folder under transport/: tcp (any peer; also other engines' file segments), shm (same-host
// peers), ucx (RDMA through UCX) and file (this engine's own file segments). The SliceRouter
// (slice_router.h) picks one per target and decides what becomes of the slices it hands back.

#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/slice.h"

namespace mooncake::transfer {

class Transport {
 public:
  virtual ~Transport() = default;

  // Endpoints on which this engine serves its own segment.
  virtual std::vector<EndpointDescriptor> endpoints() const = 0;
  // Makes sure `target` is reachable (connecting if needed).
  virtual Status Connect(const SegmentDescriptor& target) = 0;
  // Starts the slices it takes and removes them from `slices`; their tasks are told of
  // completion or failure. Slices it does not take stay in `slices` (for the router to hand to
  // another transport or fail), and the status says why.
  virtual Status Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) = 0;
  // Drops connections to a segment; its in-flight slices fail.
  virtual void Disconnect(const std::string& segment_name) = 0;
};

}  // namespace mooncake::transfer
