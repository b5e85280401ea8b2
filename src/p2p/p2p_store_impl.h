#pragma once

// The P2PStore behind P2PStore::Create: a Transfer Engine serving this peer's buffers, an etcd
// client, one lease for all of this peer's holder records (kept alive by a background thread,
// re-granted with every record re-published if etcd forgot it), and the objects this peer
// holds.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mooncake/p2p/p2p_store.h"
#include "mooncake/transfer/transfer_engine.h"
#include "p2p/p2p_records.h"
#include "transfer/metadata/etcd_client.h"

namespace mooncake::p2p {

class P2PStoreImpl final : public P2PStore {
 public:
  P2PStoreImpl(P2PStoreOptions options, std::unique_ptr<transfer::EtcdClient> etcd,
               std::unique_ptr<transfer::TransferEngine> engine, transfer::EtcdLeaseId lease);
  ~P2PStoreImpl() override;

  std::string local_server_name() const override { return engine_->local_server_name(); }
  Status Register(const std::string& name, const std::vector<void*>& addrs,
                  const std::vector<size_t>& sizes, const P2PRegisterOptions& options) override;
  Result<ReplicaStats> GetReplica(const std::string& name, const std::vector<void*>& addrs,
                                  const std::vector<size_t>& sizes,
                                  const GetReplicaOptions& options) override;
  Status Unregister(const std::string& name) override;
  Status DeleteReplica(const std::string& name) override;
  Result<std::vector<P2PObjectInfo>> List(const std::string& prefix) override;
  Result<P2PObjectInfo> GetObjectInfo(const std::string& name) override;
  Status Remove(const std::string& name) override;

 private:
  enum class Kind { kSeed, kReplica };
  struct LocalObject {
    Kind kind = Kind::kSeed;
    bool published = false;         // holder record put in etcd
    std::vector<void*> registered;  // buffers registered with the engine
    HolderRecord holder;
  };

  // Claims `name` locally (kObjectAlreadyExists if this peer already holds it).
  Status Reserve(const std::string& name, Kind kind);
  void Release(const std::string& name);
  // Registers the buffers with the engine; on failure unregisters those done.
  Result<std::vector<void*>> RegisterBuffers(const std::vector<void*>& addrs,
                                             const std::vector<size_t>& sizes);
  void UnregisterBuffers(const std::vector<void*>& registered);
  // Puts this peer's holder record of `name` (`held` shards, `fetching` ones) under the lease.
  Status Publish(const std::string& name, const std::vector<bool>& held,
                 const std::vector<bool>& fetching = {});
  // Unregister / DeleteReplica.
  Status Drop(const std::string& name, Kind kind);
  Result<std::optional<ObjectRecord>> ReadObject(const std::string& name);
  void KeepAliveLoop();
  // Grants a fresh lease and re-puts every published holder record. publish_mu_ held.
  Status RenewLeaseLocked();

  const P2PStoreOptions options_;
  std::unique_ptr<transfer::EtcdClient> etcd_;
  std::unique_ptr<transfer::TransferEngine> engine_;

  // Serializes holder-record writes and lease changes (held across etcd calls), so a
  // re-publish after a lease change never resurrects a record that was just removed.
  std::mutex publish_mu_;
  transfer::EtcdLeaseId lease_;  // guarded by publish_mu_

  std::mutex mu_;  // guards objects_ (never held across I/O)
  std::map<std::string, LocalObject> objects_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread keepalive_;
};

}  // namespace mooncake::p2p
