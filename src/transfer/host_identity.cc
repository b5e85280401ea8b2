#include "transfer/host_identity.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <fstream>

namespace mooncake::transfer {

std::string LocalHostIdentity() {
  std::string boot_id = "unknown-boot";
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  if (in) std::getline(in, boot_id);
  struct stat st {};
  unsigned long long netns = 0;
  if (stat("/proc/self/ns/net", &st) == 0) netns = st.st_ino;
  return fmt::format("{}/{}", boot_id, netns);
}

}  // namespace mooncake::transfer
