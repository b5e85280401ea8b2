#pragma once

// Credentials for the object-storage tier. Not part of the tier's configuration the master hands
// out (store_types/object_tier.h): each process brings its own.

#include <string>

namespace mooncake::tier {

struct ObjectStoreCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
};

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, as the AWS CLI reads them.
// For apps and language bindings only: libraries take credentials in their options.
ObjectStoreCredentials CredentialsFromEnvironment();

}  // namespace mooncake::tier
