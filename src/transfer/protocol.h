#pragma once

// The engine's protocol as TransferEngineOptions::protocol names it, parsed once at the edge
// (Validate, Create): everything inside the engine branches on the enum, never on the string.

#include <cstdint>
#include <string_view>

#include "mooncake/common/status.h"

namespace mooncake::transfer {

enum class Protocol : uint8_t {
  kAuto,  // shared memory to same-host peers, UCX where both ends offer RDMA, else TCP
  kTcp,   // TCP only
  kShm,   // shared memory only (same-host peers)
  kUcx,   // UCX one-sided put/get only ("rdma" is upstream's name for it)
};

// "auto", "tcp", "shm", "ucx" or "rdma"; anything else is kNotSupported naming the choices.
Result<Protocol> ParseProtocol(std::string_view text);
// "auto", "tcp", "shm", "ucx".
const char* ProtocolName(Protocol protocol);

}  // namespace mooncake::transfer
