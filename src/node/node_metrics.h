#pragma once

// A storage node's HTTP endpoint: GET /metrics (Prometheus text) and GET /health. Off unless
// mooncake_node gets --metrics_port (several nodes often share a host).
//
// What it reports is what the node itself knows: its segment's size, the objects and bytes in
// its manifest, heartbeats and re-mounts, copy tasks run and the bytes they moved, draining, and
// bytes per peer as its Transfer Engine saw them (TCP served bytes, copy reads). Same-host
// clients read and write the segment's shared memory directly, without the node: those bytes
// are not seen (nor are UCX one-sided ones).

#include <cstdint>
#include <memory>
#include <string>

#include "common/http/http_server.h"
#include "common/metrics/metrics_registry.h"
#include "mooncake/common/status.h"
#include "node/storage_node.h"

namespace mooncake::node {

class NodeMetricsServer {
 public:
  // Serves `node` (which must outlive the server) on host:port (port 0: any free port).
  static Result<std::unique_ptr<NodeMetricsServer>> Start(const std::string& host, uint16_t port,
                                                          const StorageNode& node);
  ~NodeMetricsServer();

  uint16_t port() const;

 private:
  NodeMetricsServer() = default;
  MetricsRegistry registry_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace mooncake::node
