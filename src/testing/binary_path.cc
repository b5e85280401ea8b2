#include "testing/binary_path.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace mooncake::testing {

std::string BinaryPath(std::string_view name) {
  const char* bin_dir = std::getenv("MC_BIN_DIR");
  std::string dir;
  if (bin_dir != nullptr && bin_dir[0] != '\0') {
    dir = bin_dir;
  } else {
    std::error_code ec;
    std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    dir = ec ? std::string(".") : self.parent_path().string();
  }
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + "/" + std::string(name);
}

}  // namespace mooncake::testing
