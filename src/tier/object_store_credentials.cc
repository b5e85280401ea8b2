#include "tier/object_store_credentials.h"

#include <cstdlib>

namespace mooncake::tier {

ObjectStoreCredentials CredentialsFromEnvironment() {
  auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value != nullptr ? value : "");
  };
  return ObjectStoreCredentials{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"),
                                env("AWS_SESSION_TOKEN")};
}

}  // namespace mooncake::tier
