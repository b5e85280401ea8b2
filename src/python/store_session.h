#pragma once

// The lifecycle behind one MooncakeDistributedStore: setup creates the store client (picking a
// port when the host name has none), calls borrow it, close destroys it. Free of pybind11.
//
// Thread safety: every method may be called from any thread. Calls hold a shared lock on the
// client for their duration; Setup and Close take it exclusively, so Close waits for calls in
// flight and a call never sees a half-destroyed client. Callers release the GIL first.

#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>

#include "mooncake/common/status.h"
#include "mooncake/store/client.h"
#include "python/store_options.h"

namespace mooncake::python {

class StoreSession {
 public:
  // The client, borrowed for one call; false when the store is not set up (or closed).
  class Lease {
   public:
    explicit operator bool() const { return client_ != nullptr; }
    store::Client* operator->() const { return client_; }
    store::Client& operator*() const { return *client_; }

   private:
    friend class StoreSession;
    explicit Lease(const StoreSession& session)
        : lock_(session.mutex_), client_(session.client_.get()) {}
    std::shared_lock<std::shared_mutex> lock_;
    store::Client* client_;
  };

  StoreSession();
  ~StoreSession();  // Close()
  StoreSession(const StoreSession&) = delete;
  StoreSession& operator=(const StoreSession&) = delete;

  // Creates the client; kInvalidParams when already set up. A bare host name gets a free port
  // of 12300-14300 (retried a few times should another process take it first).
  Status Setup(const StoreSetup& setup);
  // Destroys the client (unmounting its segment, freeing its memory) once calls in flight
  // finish. Idempotent.
  void Close();

  Lease Borrow() const { return Lease(*this); }
  // "host:port" of the client; "" when not set up.
  std::string hostname() const;

  // Closes every session alive in the process (at interpreter exit, before teardown).
  static void CloseAll();

 private:
  mutable std::shared_mutex mutex_;
  std::unique_ptr<store::Client> client_;
  std::string hostname_;

  static std::mutex& RegistryMutex();
  static std::set<StoreSession*>& Registry();
};

// The message of calls on a store that is not set up, with their code (INVALID_PARAMS).
Status NotSetUp(const char* method);

}  // namespace mooncake::python
