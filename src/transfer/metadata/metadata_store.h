#pragma once

// Where segment descriptors are published and looked up. P2PHANDSHAKE asks the peer itself;
// etcd (next) stores them in a cluster. Chosen by connection string.

#include <chrono>
#include <memory>
#include <string>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"

namespace mooncake {

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;
  // Makes this engine's descriptor findable by others.
  virtual Status Publish(const SegmentDescriptor& descriptor) = 0;
  virtual Status Unpublish(const std::string& segment_name) = 0;
  // Looks a segment up; kSegmentNotFound (or a transfer error naming the cause) when it
  // cannot be found.
  virtual Result<SegmentDescriptor> Lookup(const std::string& segment_name) = 0;
};

struct MetadataStoreOptions {
  std::string connection_string = "P2PHANDSHAKE";
  std::string local_name;  // announced to peers when asking them for their descriptor
  std::chrono::milliseconds timeout{3000};  // bound on one lookup
};

// "P2PHANDSHAKE" → handshake store. etcd:// and http:// are recognised and refused with
// kNotSupported until their backends exist; anything else is kInvalidParams.
Result<std::unique_ptr<MetadataStore>> CreateMetadataStore(const MetadataStoreOptions& options);

}  // namespace mooncake
