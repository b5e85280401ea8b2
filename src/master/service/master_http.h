#pragma once

// The master's HTTP face on --metrics_port: /metrics (Prometheus text), /health, and / (a
// small status page). The core's state (objects, capacity and use per segment and medium,
// eviction counters) is read under the service lock at scrape time, never on the RPC path.

#include <cstdint>
#include <memory>
#include <string>

#include "common/metrics/metrics_registry.h"
#include "master/core/master_core.h"
#include "master/service/master_metrics.h"
#include "master/service/master_service.h"
#include "mooncake/common/status.h"

namespace mooncake {
class HttpServer;
}  // namespace mooncake

namespace mooncake::master {

class MasterHttp {
 public:
  // Registers the core's gauges in `registry` and serves on host:port (0 = a free port).
  // Every reference must outlive the returned object. kInvalidParams when the port is taken.
  static Result<std::unique_ptr<MasterHttp>> Start(const std::string& host, uint16_t port,
                                                   MasterServiceImpl& service,
                                                   MetricsRegistry& registry,
                                                   MasterMetrics& metrics);
  ~MasterHttp();

  uint16_t port() const;
  // Stops serving; idempotent.
  void Stop();

 private:
  MasterHttp() = default;

  std::unique_ptr<HttpServer> server_;
};

}  // namespace mooncake::master
