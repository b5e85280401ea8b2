// The ucx transport of a build without UCX (libucx-dev was not found at configure time, or
// -DMC_WITH_UCX=OFF): it reports itself absent, and protocol "ucx" is refused.

#include "transfer/transport/ucx/ucx_transport.h"

namespace mooncake::transfer::ucx {

bool UcxTransport::Compiled() { return false; }

Result<std::unique_ptr<UcxTransport>> UcxTransport::Create(UcxTransportOptions /*options*/) {
  return NotSupported(
      "UCX transport not available: this build has no UCX (libucx-dev >= 1.13 was not found "
      "when it was configured, or MC_WITH_UCX=OFF)");
}

}  // namespace mooncake::transfer::ucx
