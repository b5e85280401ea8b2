#pragma once

// A way of moving slices to and from other segments. The engine picks one per peer; each
// implementation (tcp now; shm, ucx later) lives in its own folder under transport/.

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
  // Starts the slices; their tasks are told of completion or failure. On error, slices not
  // started stay in `slices` for the caller to fail.
  virtual Status Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) = 0;
  // Drops connections to a segment; its in-flight slices fail.
  virtual void Disconnect(const std::string& segment_name) = 0;
};

}  // namespace mooncake::transfer
