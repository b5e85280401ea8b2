#pragma once

// How the store uses the object-storage tier, as the master is configured
// (mooncake_master --object_store=URL --object_store_policy=...) and hands it to clients in
// its Ping answer. Credentials are not part of it: each process brings its own (the AWS_*
// variables, read by the apps).

#include <string>
#include <string_view>

#include "mooncake/common/status.h"

namespace mooncake::tier {

enum class ObjectTierPolicy {
  kNone,          // no object tier
  kWriteThrough,  // the writer uploads before the put is acknowledged (PutEnd)
  kWriteBack,     // a node holding a replica uploads after the put is acknowledged
};

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

struct ObjectStoreCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
};

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, as the AWS CLI reads them.
// For apps and language bindings only: libraries take credentials in their options.
ObjectStoreCredentials CredentialsFromEnvironment();

Result<ObjectTierPolicy> ParseObjectTierPolicy(std::string_view text);
const char* ObjectTierPolicyName(ObjectTierPolicy policy);

}  // namespace mooncake::tier
