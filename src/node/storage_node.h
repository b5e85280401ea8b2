#pragma once

// A storage node: contributes one DRAM segment to the pool. It allocates the segment as
// registered Transfer Engine memory (clients read and write it directly), mounts it in the
// master under a fresh epoch, and keeps the mount alive with heartbeats. When the master
// says it does not know the node (the master restarted, or declared the node dead), the node
// mounts again.
//
// Thread safety: Stop() and the accessors may be called from any thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "mooncake/common/status.h"

namespace mooncake {

struct StorageNodeOptions {
  // "host:port" of mooncake_master. Required.
  std::string master_address;
  // The node's Transfer Engine name "host:port" (clients connect here); port 0 picks one.
  // Required.
  std::string listen;
  // Stable identity across restarts. Default: the listen name (with the port actually bound).
  std::string node_id;
  // Transfer Engine metadata: "P2PHANDSHAKE" (default) or "etcd://host:port".
  std::string metadata_server = "P2PHANDSHAKE";
  // Transfer Engine protocol: "auto" (default: the segment lives in shared memory, so clients
  // on this host read and write it with one memcpy; others use TCP), "tcp", "shm".
  std::string protocol = "auto";
  // Bytes of DRAM contributed. Required, > 0.
  uint64_t segment_size = 0;
  // Period of heartbeats; must stay well below the master's client_ttl. Default 500 ms.
  std::chrono::milliseconds heartbeat_interval{500};
  // Deadline of every master RPC. Default 2 s.
  std::chrono::milliseconds rpc_timeout{2000};

  Status Validate() const;
};

class StorageNode {
 public:
  // Allocates the segment, starts the engine and mounts; fails (nothing left running) when
  // the master is unreachable or refuses the mount.
  static Result<std::unique_ptr<StorageNode>> Create(StorageNodeOptions options);
  ~StorageNode();  // Stop()

  StorageNode(const StorageNode&) = delete;
  StorageNode& operator=(const StorageNode&) = delete;

  const std::string& node_id() const;
  // The segment's name (the Transfer Engine's "host:port").
  const std::string& segment_name() const;
  uint64_t epoch() const;
  // Times the node mounted again after the master forgot it.
  uint64_t remounts() const;

  // Stops heartbeats, unmounts (best effort) and frees the segment. Idempotent.
  void Stop();

 private:
  struct State;
  explicit StorageNode(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace mooncake
