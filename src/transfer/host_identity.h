#pragma once

#include <string>

namespace mooncake::transfer {

// "<boot id>/<network namespace inode>": two processes share memory cheaply only when both
// parts match, so network namespaces emulate separate hosts faithfully.
std::string LocalHostIdentity();

}  // namespace mooncake::transfer
