#include "store_types/object_tier.h"

#include <fmt/format.h>

namespace mooncake {

Result<ObjectTierPolicy> ParseObjectTierPolicy(std::string_view text) {
  if (text == "none") return ObjectTierPolicy::kNone;
  if (text == "write-through") return ObjectTierPolicy::kWriteThrough;
  if (text == "write-back") return ObjectTierPolicy::kWriteBack;
  return InvalidParams(
      fmt::format("object store policy '{}' is not one of write-through, write-back, none", text));
}

const char* ObjectTierPolicyName(ObjectTierPolicy policy) {
  switch (policy) {
    case ObjectTierPolicy::kNone:
      return "none";
    case ObjectTierPolicy::kWriteThrough:
      return "write-through";
    case ObjectTierPolicy::kWriteBack:
      return "write-back";
  }
  return "none";
}

Status ObjectTierConfig::Validate() const {
  if (url.empty()) {
    if (policy != ObjectTierPolicy::kNone) {
      return InvalidParams(fmt::format("--object_store_policy={} needs --object_store=URL",
                                       ObjectTierPolicyName(policy)));
    }
    return Status::Ok();
  }
  if (url.rfind("s3://", 0) != 0 && url.rfind("file:///", 0) != 0) {
    return InvalidParams(fmt::format(
        "--object_store '{}' must be s3://bucket[/prefix] or file:///absolute/dir", url));
  }
  if (!endpoint.empty() && endpoint.rfind("http://", 0) != 0 &&
      endpoint.rfind("https://", 0) != 0) {
    return InvalidParams(
        fmt::format("--object_store_endpoint '{}' must start with http:// or https://", endpoint));
  }
  return Status::Ok();
}

}  // namespace mooncake
