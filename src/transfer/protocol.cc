#include "transfer/protocol.h"

#include <fmt/format.h>

namespace mooncake::transfer {

Result<Protocol> ParseProtocol(std::string_view text) {
  if (text == "auto") return Protocol::kAuto;
  if (text == "tcp") return Protocol::kTcp;
  if (text == "shm") return Protocol::kShm;
  if (text == "ucx" || text == "rdma") return Protocol::kUcx;
  return NotSupported(
      fmt::format("protocol '{}' is not available (supported: auto, tcp, shm, ucx, rdma)", text));
}

const char* ProtocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kAuto:
      return "auto";
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kShm:
      return "shm";
    case Protocol::kUcx:
      return "ucx";
  }
  return "unknown";
}

}  // namespace mooncake::transfer
