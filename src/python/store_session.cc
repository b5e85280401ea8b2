#include "python/store_session.h"

#include <utility>

#include "common/auth/open_bind.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "python/local_hostname.h"

namespace mooncake::python {
namespace {

// Attempts at a bare host name: each picks a port that was free a moment before.
constexpr int kPortAttempts = 5;

}  // namespace

Status NotSetUp(const char* method) {
  return InvalidParams(std::string("MooncakeDistributedStore.") + method +
                       ": the store is not set up (or was closed): call setup() first");
}

StoreSession::StoreSession() {
  std::lock_guard lock(RegistryMutex());
  Registry().insert(this);
}

StoreSession::~StoreSession() {
  {
    std::lock_guard lock(RegistryMutex());
    Registry().erase(this);
  }
  Close();
}

Status StoreSession::Setup(const StoreSetup& setup) {
  std::unique_lock lock(mutex_);
  if (client_ != nullptr) {
    return InvalidParams("MooncakeDistributedStore.setup: already set up as '" + hostname_ +
                         "': close() first");
  }
  store::ClientOptions options = ToClientOptions(setup);
  // The binding is where Python users start the store: like an app, it reads the secret file
  // (the keyword's, else $MC_AUTH_SECRET_FILE's).
  MC_ASSIGN_OR_RETURN(options.auth_secret, auth::LoadConfiguredSecret(setup.auth_secret_file));
  const std::string host = options.local_hostname;
  const bool pick_port = LacksPort(host);
  for (int attempt = 1;; ++attempt) {
    if (pick_port) {
      MC_ASSIGN_OR_RETURN(options.local_hostname, WithFreePort(host));
    }
    auto client = store::Client::Create(options);
    if (client.ok()) {
      client_ = std::move(*client);
      hostname_ = client_->local_hostname();
      auth::WarnIfOpen("MooncakeDistributedStore", {hostname_}, options.auth_secret.get());
      return Status::Ok();
    }
    // Another process may have bound the picked port between the check and the engine's
    // bind: then try another one. Any other failure is final.
    auto picked = ParseHostPort(options.local_hostname);
    if (!pick_port || attempt >= kPortAttempts || !picked.ok() || PortIsFree(host, picked->port)) {
      return client.status();
    }
    MC_LOG_INFO("setup: port of '{}' taken meanwhile; picking another", options.local_hostname);
  }
}

void StoreSession::Close() {
  std::unique_ptr<store::Client> client;
  {
    std::unique_lock lock(mutex_);
    client = std::move(client_);
    hostname_.clear();
  }
  client.reset();  // outside the lock: unmounting takes a master round trip
}

std::string StoreSession::hostname() const {
  std::shared_lock lock(mutex_);
  return hostname_;
}

void StoreSession::CloseAll() {
  std::lock_guard lock(RegistryMutex());
  for (StoreSession* session : Registry()) session->Close();
}

std::mutex& StoreSession::RegistryMutex() {
  static std::mutex* mutex = new std::mutex;  // never destroyed: used up to process exit
  return *mutex;
}

std::set<StoreSession*>& StoreSession::Registry() {
  static auto* sessions = new std::set<StoreSession*>;
  return *sessions;
}

}  // namespace mooncake::python
