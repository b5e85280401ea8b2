#pragma once

// Per-call credentials of the master's RPCs, derived from the cluster secret.
//
// A MasterClient given a secret sets the request header's `auth` field (proto/master.proto,
// RequestHeader) of every call to:
//   v1.<unix_ms>.<nonce>.<mac>
// unix_ms: the caller's wall clock in milliseconds since the epoch (decimal); nonce: 16 fresh
// random bytes (hex); mac: HMAC-SHA256 under the caller's signing key, label "master-rpc", over
// {method, unix_ms, nonce} (hex), where method is the RPC's name in proto/master.proto
// ("BatchRemove"). A master given a secret checks it before it runs any method
// (MasterServiceImpl::Serve) and answers gRPC UNAUTHENTICATED when it is missing, malformed,
// more than kMaxClockSkew away from the master's clock, or made with no key the master accepts.
// A master without a secret ignores it (an open cluster).
//
// What it proves: the caller holds the secret, signed within the skew window, for this method.
// What it does not: the request body is not signed and the master keeps no replay cache, so an
// observer on the path who records a call may replay that method's credential (with a body of
// its choosing) until the window closes; the RPCs are not encrypted either. The protection is
// against strangers who can reach the port, not against an attacker on the network path: run
// the cluster on a private network or over IPsec/WireGuard for that (docs/security.md).

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"

namespace mooncake::master {

// The HMAC label: a master-RPC proof never passes for another protocol step.
inline constexpr char kAuthLabel[] = "master-rpc";
// Largest difference between the caller's clock and the master's that is accepted, either way.
// Clocks of a cluster are NTP-synchronised to well under a second; 5 minutes leaves room for a
// badly kept one while bounding how long a recorded credential stays usable.
inline constexpr std::chrono::minutes kMaxClockSkew{5};

// The credential for one call of `method` at `now`.
std::string MakeRpcCredential(const auth::ClusterSecret& secret, std::string_view method,
                              std::chrono::system_clock::time_point now);

// OK when `credential` (RequestHeader.auth) is a valid credential for `method` made within
// kMaxClockSkew of `now` under a key `secret` accepts; otherwise kUnauthenticated saying which
// of those failed (never which key or how the MAC differed).
Status CheckRpcCredential(const auth::ClusterSecret& secret, std::string_view method,
                          std::string_view credential, std::chrono::system_clock::time_point now);

// How long a credential is reused: a client signs once per method per interval, and the master
// checks a credential's MAC once per interval. A fresh pair of HMACs on every call cost a put
// (two RPCs) about 40 us, 8% of a 1 MiB put over loopback (bench/store_auth_overhead.sh);
// reuse allows nothing a recorded credential does not already allow for kMaxClockSkew.
inline constexpr std::chrono::seconds kCredentialReuse{1};

// The client side: the credential to send for `method` at `now`, made anew once the last one
// for that method is kCredentialReuse old. Thread-safe.
class RpcSigner {
 public:
  explicit RpcSigner(std::shared_ptr<const auth::ClusterSecret> secret)
      : secret_(std::move(secret)) {}
  std::string CredentialFor(std::string_view method, std::chrono::system_clock::time_point now);

 private:
  struct Issued {
    std::chrono::system_clock::time_point at;
    std::string credential;
  };
  const std::shared_ptr<const auth::ClusterSecret> secret_;
  std::mutex mutex_;
  std::unordered_map<std::string, Issued> issued_;  // by method: one entry per RPC at most
};

// The master side: CheckRpcCredential, remembering for kCredentialReuse (steady clock) the
// credentials that passed, per method. At most kMaxRemembered are kept (then all are forgotten:
// a stranger cannot grow it, since only valid credentials enter). Thread-safe.
class RpcVerifier {
 public:
  explicit RpcVerifier(std::shared_ptr<const auth::ClusterSecret> secret)
      : secret_(std::move(secret)) {}
  Status Check(std::string_view method, std::string_view credential,
               std::chrono::system_clock::time_point now);

 private:
  static constexpr size_t kMaxRemembered = 4096;
  const std::shared_ptr<const auth::ClusterSecret> secret_;
  std::mutex mutex_;
  // method + '\n' + credential -> when it passed the full check (steady clock).
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> passed_;
};

}  // namespace mooncake::master
