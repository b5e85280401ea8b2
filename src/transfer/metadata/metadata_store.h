#pragma once

// Where segment descriptors are published and looked up. P2PHANDSHAKE asks the peer itself;
// etcd stores them in a cluster (etcd_metadata_store.h). Chosen by connection string.

#include <chrono>
#include <memory>
#include <string>

#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"

namespace mooncake::transfer {

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
  // etcd only: TTL of the lease the published descriptor is attached to (default 10 s, at
  // least 1 s; etcd may raise it to its minimum). A dead process's descriptor disappears
  // within about this long; keep-alives are sent every third of it.
  std::chrono::seconds lease_ttl{10};
  // P2PHANDSHAKE only: the cluster secret proved to and demanded of the peer whose descriptor
  // is asked for (null: none). A lookup that fails authentication is kUnauthenticated. (etcd
  // readers are not authenticated: keys are never published there when a secret is set.)
  std::shared_ptr<const auth::ClusterSecret> auth_secret;
};

// "P2PHANDSHAKE" → handshake store; "etcd://host:port[,host:port...]" or a bare
// "host:port[,host:port...]" → etcd store (nothing is contacted until the first Publish or
// Lookup); "http://..." is recognised and refused with kNotSupported until its backend exists;
// anything else is kInvalidParams.
Result<std::unique_ptr<MetadataStore>> CreateMetadataStore(const MetadataStoreOptions& options);

}  // namespace mooncake::transfer
