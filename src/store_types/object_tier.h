#pragma once

// How the store uses the object-storage tier, as the master is configured
// (mooncake_master --object_store=URL --object_store_policy=...) and hands it to clients and
// nodes in its Ping answer. Credentials are not part of it: each process brings its own (the
// AWS_* variables, read by the apps; see src/tier/object_store_credentials.h).

#include <cstdint>
#include <string>
#include <string_view>

#include "mooncake/common/status.h"

namespace mooncake {

enum class ObjectTierPolicy : uint8_t {
  kNone,          // no object tier
  kWriteThrough,  // the writer uploads before the put is acknowledged (PutEnd)
  kWriteBack,     // a node holding a replica uploads after the put is acknowledged
};

// "none", "write-through", "write-back"; anything else is kInvalidParams naming the choices.
Result<ObjectTierPolicy> ParseObjectTierPolicy(std::string_view text);
const char* ObjectTierPolicyName(ObjectTierPolicy policy);

struct ObjectTierConfig {
  // "s3://bucket[/prefix]" or "file:///dir"; empty: no object tier.
  std::string url;
  // S3-compatible endpoint ("http://host:port"); empty: AWS.
  std::string endpoint;
  std::string region = "us-east-1";
  ObjectTierPolicy policy = ObjectTierPolicy::kNone;

  bool enabled() const { return !url.empty() && policy != ObjectTierPolicy::kNone; }
  // A URL without a policy, a policy without a URL or a malformed URL: refused,
  // naming the flag.
  Status Validate() const;
};

}  // namespace mooncake
