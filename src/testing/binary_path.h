#pragma once

// Where tests find the project's own binaries (servers, benches) to launch.

#include <string>
#include <string_view>

namespace mooncake::testing {

// "$MC_BIN_DIR/<name>" (mc_add_test sets MC_BIN_DIR to build/bin); when MC_BIN_DIR is unset or
// empty, "<directory of the running test binary>/<name>". Does not check that the file exists.
std::string BinaryPath(std::string_view name);

}  // namespace mooncake::testing
