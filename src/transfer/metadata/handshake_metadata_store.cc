#include "transfer/metadata/handshake_metadata_store.h"

#include <fmt/format.h>

#include "common/host_port.h"
#include "transfer/transport/tcp/handshake.h"

namespace mooncake::transfer {

Result<SegmentDescriptor> HandshakeMetadataStore::Lookup(const std::string& segment_name) {
  auto address = ParseHostPort(segment_name);
  if (!address.ok()) {
    return Status(StatusCode::kSegmentNotFound,
                  fmt::format("segment '{}' is not a host:port name, which P2PHANDSHAKE needs",
                              segment_name));
  }
  auto result = tcp::ConnectAndHandshake(*address, options_.local_name, options_.auth_secret.get(),
                                         std::chrono::steady_clock::now() + options_.timeout);
  if (!result.ok()) {
    // An authentication failure is no "not found": the caller must be able to tell.
    const bool refused = result.status().code() == StatusCode::kUnauthenticated;
    return Status(
        refused ? StatusCode::kUnauthenticated : StatusCode::kSegmentNotFound,
        fmt::format("segment '{}' not reachable: {}", segment_name, result.status().message()));
  }
  return std::move(result->descriptor);
}

}  // namespace mooncake::transfer
