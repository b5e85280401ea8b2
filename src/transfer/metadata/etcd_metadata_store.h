#pragma once

// Segment descriptors stored in etcd, so peers find each other by name through the cluster.
//
// Key layout (one key per segment; the value is the descriptor's JSON, as written by
// EncodeSegmentDescriptor):
//
//   mooncake/transfer/v1/segments/<segment name>   e.g.
//   mooncake/transfer/v1/segments/10.0.0.2:12345
//
// The key is attached to an etcd lease owned by the publishing engine (TTL
// MetadataStoreOptions::lease_ttl), so it vanishes within about one TTL after that process
// dies. A background thread keeps the lease alive (every TTL/3); when etcd cannot be reached
// it retries with exponential backoff (100 ms doubling, capped at min(TTL/2, 2 s)); when the
// lease is gone (it expired while etcd was unreachable, or etcd lost its data) it grants a
// new lease and puts the latest descriptor again. A Publish that fails after the first
// success is likewise retried by that thread, so the latest descriptor always ends up in
// etcd once it is reachable.
//
// Thread safety: every method may be called from any thread concurrently.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "transfer/metadata/etcd_client.h"
#include "transfer/metadata/metadata_store.h"

namespace mooncake::transfer {

class EtcdMetadataStore : public MetadataStore {
 public:
  // "mooncake/transfer/v1/segments/"
  static const char kSegmentKeyPrefix[];
  // kSegmentKeyPrefix + segment_name.
  static std::string SegmentKey(const std::string& segment_name);

  // `endpoints`: "host:port" of each etcd member. Contacts nothing yet; fails only on invalid
  // options (kInvalidParams).
  static Result<std::unique_ptr<EtcdMetadataStore>> Create(const MetadataStoreOptions& options,
                                                           std::vector<std::string> endpoints);
  // Stops the keep-alive thread (waits for at most one in-flight request). Does not delete
  // the key: call Unpublish first, or it lives until its lease expires.
  ~EtcdMetadataStore() override;

  // Puts `descriptor` under its segment's key, attached to this store's lease (granted on
  // first use), and remembers it as the latest. On failure (kEtcdOperationError naming the
  // endpoints and the cause) the descriptor is still retried in the background. A store
  // publishes one segment: another name than the first is kInvalidParams.
  Status Publish(const SegmentDescriptor& descriptor) override;
  // Deletes the key and revokes the lease, best-effort (both are tried; the first error is
  // returned), and stops re-publishing. Bounded by the request timeout per etcd request; no
  // request at all when no lease is held (then no key of this store can be in etcd).
  Status Unpublish(const std::string& segment_name) override;
  // kSegmentNotFound when the key does not exist; kEtcdOperationError when etcd cannot be
  // read or the stored value is not a descriptor for `segment_name`.
  Result<SegmentDescriptor> Lookup(const std::string& segment_name) override;

  // The lease the descriptor is currently attached to (0: none yet, or lost and not yet
  // replaced). For tests and diagnostics.
  EtcdLeaseId lease_id() const;

 private:
  EtcdMetadataStore(const MetadataStoreOptions& options, std::unique_ptr<EtcdClient> client);

  void KeepAliveLoop();
  // One keep-alive round: renews the lease, or re-puts the latest descriptor when it is not
  // in etcd (lease lost, or an earlier put failed). Takes io_mutex_.
  Status Refresh();
  // Grants a lease if there is none and puts the latest descriptor. io_mutex_ held.
  Status PutLatestLocked();
  std::chrono::milliseconds KeepAliveInterval() const;  // mutex_ held
  std::chrono::milliseconds MaxBackoff() const;         // mutex_ held

  const std::chrono::seconds requested_ttl_;
  const std::unique_ptr<EtcdClient> client_;

  // Serializes everything that writes the key or changes the lease, so that puts land in
  // the order of the descriptors' generations and a lease is never granted twice.
  std::mutex io_mutex_;

  mutable std::mutex mutex_;  // guards the fields below; never held across a request
  std::condition_variable wake_;
  bool stop_ = false;
  bool published_ = false;       // between the first Publish and Unpublish
  std::string segment_name_;     // set by the first Publish
  std::string latest_json_;      // latest descriptor, encoded
  uint64_t generation_ = 0;      // bumped by every Publish
  uint64_t put_generation_ = 0;  // generation last put successfully
  EtcdLeaseId lease_id_ = 0;
  std::chrono::seconds granted_ttl_{0};
  std::thread thread_;  // keep-alive; started by the first Publish
};

}  // namespace mooncake::transfer
