#include "client/client_credentials.h"

namespace mooncake::store {

tier::ObjectStoreCredentials ObjectStoreCredentialsOf(const ClientOptions& options) {
  return tier::ObjectStoreCredentials{options.object_store_access_key_id,
                                      options.object_store_secret_access_key,
                                      options.object_store_session_token};
}

void SetObjectStoreCredentials(const tier::ObjectStoreCredentials& credentials,
                               ClientOptions& options) {
  options.object_store_access_key_id = credentials.access_key_id;
  options.object_store_secret_access_key = credentials.secret_access_key;
  options.object_store_session_token = credentials.session_token;
}

}  // namespace mooncake::store
