#pragma once

// A small etcd v3 client over etcd's HTTP/JSON gateway (/v3/kv/*, /v3/lease/*), enough for
// metadata: put (optionally under a lease), get, prefix get, delete, and leases (grant,
// keep-alive, revoke). Keys and values are arbitrary bytes (base64 on the wire).
//
// Every request has a deadline (EtcdClientOptions::request_timeout). With several endpoints,
// a request that cannot reach one (connection refused, timeout, HTTP 5xx) is tried on the
// next, starting from the one that answered last. Errors are kEtcdOperationError naming the
// endpoint(s), the operation and the cause; a lease that etcd does not know (expired or
// revoked) is kLeaseExpired.
//
// Thread safety: every method may be called from any thread concurrently (one HTTP
// connection per request).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mooncake/common/status.h"

namespace mooncake::transfer {

// An etcd lease id; 0 means "no lease".
using EtcdLeaseId = int64_t;

struct EtcdClientOptions {
  // "host:port" of each etcd member's client URL (http). Required, at least one.
  std::vector<std::string> endpoints;
  // Bound on one request to one endpoint, connecting included (default 3 s). A request that
  // fails over to every endpoint may take endpoints.size() times this.
  std::chrono::milliseconds request_timeout{3000};
  // Bound on the TCP connect to one endpoint (default 1 s, capped at request_timeout), so an
  // unreachable member is skipped quickly.
  std::chrono::milliseconds connect_timeout{1000};

  Status Validate() const;
};

struct EtcdKeyValue {
  std::string key;
  std::string value;
  EtcdLeaseId lease = 0;     // lease the key is attached to, 0 for none
  int64_t mod_revision = 0;  // revision of the last change of this key
};

struct EtcdLease {
  EtcdLeaseId id = 0;
  std::chrono::seconds ttl{0};  // as granted: etcd may raise a small TTL to its minimum
};

class EtcdClient {
 public:
  static Result<std::unique_ptr<EtcdClient>> Create(EtcdClientOptions options);

  // Sets `key` to `value`, attached to `lease` when non-zero (the key is deleted when the
  // lease ends). kLeaseExpired when etcd does not know `lease`.
  Status Put(const std::string& key, const std::string& value, EtcdLeaseId lease = 0);
  // The key's current value, or nullopt when it does not exist.
  Result<std::optional<EtcdKeyValue>> Get(const std::string& key);
  // Every key starting with `prefix` (non-empty), in key order.
  Result<std::vector<EtcdKeyValue>> GetPrefix(const std::string& prefix);
  // Deletes `key`; returns how many keys were deleted (0 or 1).
  Result<int64_t> Delete(const std::string& key);

  // Grants a lease of `ttl` (at least 1 s).
  Result<EtcdLease> GrantLease(std::chrono::seconds ttl);
  // Renews `lease` once; returns its TTL afterwards. 0 means etcd no longer knows the lease
  // (expired or revoked): its keys are gone and the caller needs a new lease.
  Result<std::chrono::seconds> KeepAlive(EtcdLeaseId lease);
  // Revokes `lease`, deleting its keys. kLeaseExpired when etcd does not know it.
  Status RevokeLease(EtcdLeaseId lease);

  // "host:port,host:port", for error messages.
  std::string EndpointList() const;

 private:
  explicit EtcdClient(EtcdClientOptions options) : options_(std::move(options)) {}
  // POSTs the JSON `body` to `path` ("/v3/kv/put") on each endpoint in turn, starting at the
  // preferred one, until one answers; returns the body of a 200 answer. `operation` names the
  // request in errors.
  Result<std::string> Post(std::string_view operation, const std::string& path,
                           const std::string& body);

  const EtcdClientOptions options_;
  // Endpoint that answered last; requests start there. Relaxed: only a hint.
  std::atomic<size_t> preferred_{0};
};

}  // namespace mooncake::transfer
