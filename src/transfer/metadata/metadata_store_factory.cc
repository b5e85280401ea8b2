#include <fmt/format.h>

#include "common/host_port.h"
#include "transfer/metadata/handshake_metadata_store.h"
#include "transfer/metadata/metadata_store.h"

namespace mooncake {

Result<std::unique_ptr<MetadataStore>> CreateMetadataStore(const MetadataStoreOptions& options) {
  const std::string& s = options.connection_string;
  if (s == "P2PHANDSHAKE") return std::unique_ptr<MetadataStore>(new HandshakeMetadataStore(options));
  if (s.rfind("etcd://", 0) == 0 || s.rfind("http://", 0) == 0 ||
      ParseHostPort(s).ok()) {
    return NotSupported(fmt::format("metadata server '{}': only P2PHANDSHAKE is implemented so far "
                                    "(etcd and http metadata are planned)",
                                    s));
  }
  return InvalidParams(fmt::format("unknown metadata connection string '{}' (expected "
                                   "P2PHANDSHAKE, etcd://host:port or http://host:port/metadata)",
                                   s));
}

}  // namespace mooncake
