#pragma once

// A running master: the MasterCore behind the gRPC service, a tick thread driving its timers
// (put reclaim, deferred frees, node liveness, eviction), and the metrics/status HTTP server.
//
// Usage (apps/mooncake_master is exactly this):
//   auto server = MasterServer::Create(options);   // listening when it returns
//   ... wait for a signal ...
//   server->Shutdown();
//
// Thread safety: Shutdown() and the accessors may be called from any thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "master/core/master_core.h"
#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"
#include "store_types/object_tier.h"

namespace mooncake::master {

struct MasterServerOptions {
  MasterCoreOptions core;
  // Address the RPC and HTTP servers listen on. Default "": "127.0.0.1" (this machine only)
  // without auth_secret, "0.0.0.0" (all IPv4 interfaces) with one. A non-loopback host
  // without a secret is served, with one WARNING that the cluster is open (auth/open_bind.h).
  std::string host;
  // gRPC port. Default 50051; 0 picks a free port (see MasterServer::port()).
  uint16_t port = 50051;
  // HTTP port for /metrics, /health and the status page. Default 9003; 0 picks a free port;
  // -1 disables the HTTP server.
  int metrics_port = 9003;
  // Period of the core's Tick (timeouts, liveness, eviction). Default 100 ms; > 0.
  std::chrono::milliseconds tick_interval{100};
  // The object-storage tier handed to clients (Ping). Default: none.
  ObjectTierConfig object_tier;
  // The cluster secret every RPC must prove (master/codec/rpc_credentials.h); calls without a
  // valid credential get gRPC UNAUTHENTICATED. Default null: every call is accepted (an open
  // cluster). The metrics/status HTTP server is read-only and never asks for it.
  std::shared_ptr<const auth::ClusterSecret> auth_secret;

  // kInvalidParams naming the first bad field (core options included).
  Status Validate() const;
};

class MasterServer {
 public:
  // Validates the options, binds both ports and starts serving. Fails, with nothing left
  // running, on bad options or a port in use (kInvalidParams naming the port).
  static Result<std::unique_ptr<MasterServer>> Create(MasterServerOptions options);

  MasterServer(const MasterServer&) = delete;
  MasterServer& operator=(const MasterServer&) = delete;
  ~MasterServer();  // Shutdown()

  // The bound gRPC port, and the bound HTTP port (0 when disabled).
  uint16_t port() const;
  uint16_t metrics_port() const;
  // "host:port" clients should dial (0.0.0.0 is reported as 127.0.0.1).
  std::string address() const;
  // The host both servers listen on (options.host, or the default it stood for).
  const std::string& host() const;

  // Stops accepting RPCs, waits up to `grace` for the running ones, stops the tick thread and
  // the HTTP server. Idempotent.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(500));

 private:
  struct State;
  explicit MasterServer(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

}  // namespace mooncake::master
