#include "transfer/route_choice.h"

#include <fmt/format.h>

namespace mooncake::transfer {

const char* RouteName(Route route) {
  switch (route) {
    case Route::kTcp:
      return "tcp";
    case Route::kShm:
      return "shm";
    case Route::kUcx:
      return "ucx";
  }
  return "unknown";
}

Result<Route> ChooseRoute(const LocalTransports& local, const SegmentDescriptor& target) {
  const Protocol protocol = local.protocol;
  if (protocol == Protocol::kTcp) return Route::kTcp;
  if (protocol == Protocol::kUcx) {
    if (!local.ucx) {
      return NotSupported(
          fmt::format("protocol ucx cannot reach segment {}: UCX is not running "
                      "in this engine",
                      target.name));
    }
    if (target.ucx_address.empty()) {
      return NotSupported(
          fmt::format("protocol ucx cannot reach segment {}: it serves no UCX "
                      "(start it with protocol ucx)",
                      target.name));
    }
    return Route::kUcx;
  }
  // Same host: identical boot id and network namespace, and the target serves shared memory.
  const bool same_host = local.shm && !target.shm_endpoint.empty() && !target.host_id.empty() &&
                         target.host_id == local.host_id;
  if (protocol == Protocol::kShm) {
    if (same_host) return Route::kShm;
    return NotSupported(
        fmt::format("protocol shm cannot reach segment {}: {}", target.name,
                    target.shm_endpoint.empty()
                        ? std::string("it serves no shared memory (protocol tcp?)")
                        : fmt::format("it runs on another host (host id {}, this host {})",
                                      target.host_id, local.host_id)));
  }
  if (same_host) return Route::kShm;
  if (local.ucx && local.ucx_rdma && target.ucx_rdma && !target.ucx_address.empty()) {
    return Route::kUcx;
  }
  return Route::kTcp;
}

}  // namespace mooncake::transfer
