#include "python/store_options.h"

#include <algorithm>
#include <string>

#include "client/client_credentials.h"
#include "tier/object_store_credentials.h"

namespace mooncake::python {
namespace {

constexpr uint64_t kMaxReplicas = 16;

std::string PyBool(bool b) { return b ? "True" : "False"; }

// Python's repr of a str, for the plain names used here.
std::string PyRepr(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

const char* ActionName(SoftPinAction action) {
  switch (action) {
    case SoftPinAction::kPreserve:
      return "PRESERVE";
    case SoftPinAction::kEnable:
      return "ENABLE";
    case SoftPinAction::kDisable:
      return "DISABLE";
  }
  return "UNKNOWN";
}

}  // namespace

std::string PyReplicateConfig::ToString() const {
  std::string segments = "[";
  for (size_t i = 0; i < preferred_segments.size(); ++i) {
    if (i > 0) segments += ", ";
    segments += PyRepr(preferred_segments[i]);
  }
  segments += "]";
  return "ReplicateConfig(replica_num=" + std::to_string(replica_num) +
         ", with_hard_pin=" + PyBool(with_hard_pin) + ", soft_pin_action=SoftPinAction." +
         ActionName(soft_pin_action) +
         ", soft_pin_ttl_ms=" + (soft_pin_ttl_ms ? std::to_string(*soft_pin_ttl_ms) : "None") +
         ", preferred_segments=" + segments + ", preferred_segment=" + PyRepr(preferred_segment) +
         ", prefer_alloc_in_same_node=" + PyBool(prefer_alloc_in_same_node) + ")";
}

Result<ReplicateConfig> ToClientConfig(const PyReplicateConfig& config) {
  if (config.replica_num < 1 || config.replica_num > kMaxReplicas) {
    return InvalidParams("ReplicateConfig.replica_num must be in 1.." +
                         std::to_string(kMaxReplicas) + ", got " +
                         std::to_string(config.replica_num));
  }
  ReplicateConfig out;
  out.replica_num = static_cast<int>(config.replica_num);
  out.with_hard_pin = config.with_hard_pin;
  if (!config.preferred_segment.empty()) out.preferred_segments.push_back(config.preferred_segment);
  for (const std::string& segment : config.preferred_segments) {
    if (std::find(out.preferred_segments.begin(), out.preferred_segments.end(), segment) ==
        out.preferred_segments.end()) {
      out.preferred_segments.push_back(segment);
    }
  }
  if (config.soft_pin_action == SoftPinAction::kEnable) {
    out.soft_pin_ttl = config.soft_pin_ttl_ms ? std::chrono::milliseconds(*config.soft_pin_ttl_ms)
                                              : kDefaultSoftPinTtl;
  } else if (config.soft_pin_ttl_ms) {
    return InvalidParams(std::string("ReplicateConfig.soft_pin_ttl_ms is set but soft_pin_action "
                                     "is ") +
                         ActionName(config.soft_pin_action) + " (use SoftPinAction.ENABLE)");
  }
  return out;
}

store::ClientOptions ToClientOptions(const StoreSetup& setup) {
  store::ClientOptions options;
  options.master_address = setup.master_server_addr;
  options.local_hostname = setup.local_hostname.empty() ? "127.0.0.1" : setup.local_hostname;
  options.metadata_server = setup.metadata_server;
  options.protocol = setup.protocol;
  options.local_buffer_size =
      setup.local_buffer_size == 0 ? kMinLocalBuffer : setup.local_buffer_size;
  options.global_segment_size = setup.global_segment_size;
  // The binding is where Python users start the store: it reads the environment, as apps do.
  store::SetObjectStoreCredentials(tier::CredentialsFromEnvironment(), options);
  return options;
}

}  // namespace mooncake::python
