#pragma once

// The values behind upstream's Python surface, free of pybind11: ReplicateConfig as Python
// sees it, setup()'s arguments, and their translation into the store client's options.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/store/client.h"

namespace mooncake::python {

// What a put does to an object's soft pin (upstream's SoftPinAction).
enum class SoftPinAction : uint8_t {
  // No soft pin is asked for (an upsert replaces the object's pins: see ToClientConfig).
  kPreserve,
  // Soft-pin for soft_pin_ttl_ms, or kDefaultSoftPinTtl when that is unset.
  kEnable,
  // No soft pin.
  kDisable,
};

// Soft pin of SoftPinAction::kEnable without a TTL: upstream's default, 30 minutes.
inline constexpr std::chrono::milliseconds kDefaultSoftPinTtl{30 * 60 * 1000};

// mooncake.store.ReplicateConfig.
struct PyReplicateConfig {
  // Copies on distinct nodes, 1..16 (else a put returns INVALID_PARAMS).
  uint64_t replica_num = 1;
  bool with_hard_pin = false;
  SoftPinAction soft_pin_action = SoftPinAction::kPreserve;
  // Only with kEnable; with kPreserve or kDisable a put returns INVALID_PARAMS.
  std::optional<uint64_t> soft_pin_ttl_ms;
  // Segments (storage node / client "host:port" names) to place replicas on first.
  std::vector<std::string> preferred_segments;
  // One more preferred segment, tried before preferred_segments. "" = none.
  std::string preferred_segment;
  // Accepted for compatibility; every replica here is one allocation on one node already.
  bool prefer_alloc_in_same_node = false;

  // "ReplicateConfig(replica_num=1, with_hard_pin=False, ...)".
  std::string ToString() const;
};

// kInvalidParams (naming the field) for a config no put may use.
Result<ReplicateConfig> ToClientConfig(const PyReplicateConfig& config);

// MooncakeDistributedStore.setup()'s arguments, sizes already parsed.
struct StoreSetup {
  // "host:port", or "host" alone: then a free port of 12300-14300 is picked. "" = "127.0.0.1".
  std::string local_hostname;
  // "P2PHANDSHAKE" or "etcd://host:port[,...]" (a bare "host:port" means etcd).
  std::string metadata_server = "P2PHANDSHAKE";
  // Memory this client contributes to the pool (0 = none).
  uint64_t global_segment_size = uint64_t{16} << 20;
  // Staging memory for put/get of plain bytes; 0 (allowed upstream) means kMinLocalBuffer.
  uint64_t local_buffer_size = uint64_t{16} << 20;
  // "tcp", "auto", "shm", "rdma" / "ucx" (the UCX transport).
  std::string protocol = "tcp";
  // RDMA device names; unused by tcp/shm.
  std::string rdma_devices;
  // "host:port" of mooncake_master.
  std::string master_server_addr = "127.0.0.1:50051";
  // The cluster secret file (docs/security.md): the master and nodes of a cluster with a
  // secret refuse a client without it. "" = the file $MC_AUTH_SECRET_FILE names, else none.
  std::string auth_secret_file;
};

inline constexpr uint64_t kMinLocalBuffer = uint64_t{1} << 20;

// The client options for `setup` (local_hostname as given: the caller picks a missing port;
// auth_secret not loaded: the caller reads the file).
store::ClientOptions ToClientOptions(const StoreSetup& setup);

}  // namespace mooncake::python
