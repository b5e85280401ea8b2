#include <fmt/format.h>

#include "common/host_port.h"
#include "transfer/metadata/etcd_metadata_store.h"
#include "transfer/metadata/handshake_metadata_store.h"
#include "transfer/metadata/metadata_store.h"

namespace mooncake::transfer {
namespace {

// "h:p,h:p" → {"h:p", "h:p"}; nullopt unless every part is a host:port.
std::optional<std::vector<std::string>> ParseEndpointList(std::string_view list) {
  std::vector<std::string> endpoints;
  while (true) {
    size_t comma = list.find(',');
    std::string_view part = list.substr(0, comma);
    if (!ParseHostPort(part).ok()) return std::nullopt;
    endpoints.emplace_back(part);
    if (comma == std::string_view::npos) return endpoints;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

Result<std::unique_ptr<MetadataStore>> CreateMetadataStore(const MetadataStoreOptions& options) {
  const std::string& s = options.connection_string;
  if (s == "P2PHANDSHAKE")
    return std::unique_ptr<MetadataStore>(new HandshakeMetadataStore(options));
  const bool etcd_scheme = s.rfind("etcd://", 0) == 0;
  std::string_view list = etcd_scheme ? std::string_view(s).substr(7) : std::string_view(s);
  if (etcd_scheme && !list.empty() && list.back() == '/') list.remove_suffix(1);
  if (auto endpoints = ParseEndpointList(list)) {
    MC_ASSIGN_OR_RETURN(std::unique_ptr<EtcdMetadataStore> store,
                        EtcdMetadataStore::Create(options, std::move(*endpoints)));
    return std::unique_ptr<MetadataStore>(std::move(store));
  }
  if (etcd_scheme) {
    return InvalidParams(
        fmt::format("metadata server '{}': expected etcd://host:port[,host:port...]", s));
  }
  if (s.rfind("http://", 0) == 0) {
    return NotSupported(
        fmt::format("metadata server '{}': http metadata is not implemented yet "
                    "(use P2PHANDSHAKE or etcd://host:port)",
                    s));
  }
  return InvalidParams(
      fmt::format("unknown metadata connection string '{}' (expected "
                  "P2PHANDSHAKE, etcd://host:port[,host:port...] or "
                  "http://host:port/metadata)",
                  s));
}

}  // namespace mooncake::transfer
