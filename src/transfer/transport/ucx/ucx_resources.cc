#include "transfer/transport/ucx/ucx_resources.h"

#include <filesystem>
#include <system_error>

namespace mooncake::transfer::ucx {

bool HostHasRdmaDevice(const std::string& sysfs_dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(sysfs_dir, ec);
  return !ec && it != std::filesystem::directory_iterator();
}

bool ListsRdmaTransport(std::string_view info) {
  size_t start = 0;
  while (start < info.size()) {
    size_t end = info.find('\n', start);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(start, end - start);
    start = end + 1;
    // "#      resource 1  :  md 1  dev 1  flags -- tcp/lo"
    if (line.find("resource") == std::string_view::npos) continue;
    size_t dashes = line.find("-- ");
    if (dashes == std::string_view::npos) continue;
    std::string_view tl = line.substr(dashes + 3);
    tl = tl.substr(0, tl.find('/'));
    if (tl.starts_with("rc") || tl.starts_with("dc") || tl.starts_with("ud")) return true;
  }
  return false;
}

}  // namespace mooncake::transfer::ucx
