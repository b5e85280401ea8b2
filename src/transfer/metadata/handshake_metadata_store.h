#pragma once

// P2PHANDSHAKE: no metadata server. A segment's name is its "host:port"; looking it up means
// connecting there and receiving the descriptor in the HELLO exchange.

#include "transfer/metadata/metadata_store.h"

namespace mooncake::transfer {

class HandshakeMetadataStore : public MetadataStore {
 public:
  explicit HandshakeMetadataStore(MetadataStoreOptions options) : options_(std::move(options)) {}

  // The descriptor is served by the engine's own listener: nothing to store.
  Status Publish(const SegmentDescriptor&) override { return Status::Ok(); }
  Status Unpublish(const std::string&) override { return Status::Ok(); }
  Result<SegmentDescriptor> Lookup(const std::string& segment_name) override;

 private:
  const MetadataStoreOptions options_;
};

}  // namespace mooncake::transfer
