#pragma once

// ClientOptions carries the object store's credentials as three public strings (the client
// API's, kept for its users); inside the project they travel as tier::ObjectStoreCredentials,
// the one credentials type. The two conversions between them, in one place.

#include "mooncake/store/client.h"
#include "tier/object_store_credentials.h"

namespace mooncake::store {

// The credentials `options` gives the object tier.
tier::ObjectStoreCredentials ObjectStoreCredentialsOf(const ClientOptions& options);
// Gives `options` these credentials for the object tier (apps: CredentialsFromEnvironment()).
void SetObjectStoreCredentials(const tier::ObjectStoreCredentials& credentials,
                               ClientOptions& options);

}  // namespace mooncake::store
