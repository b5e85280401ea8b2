#pragma once

// Peer authentication of the Transfer Engine: the pieces the TCP HELLO (transport/tcp/
// handshake.cc, target_session.cc) and the shm control socket (transport/shm/shm_peer.cc,
// shm_exporter.cc) share.
//
// The exchange, on every connection, before anything else is served:
//   initiator → target   its fresh nonce Ni (and its name)
//   target → initiator   its fresh nonce Nt, proof Pt = Sign(<transport>-target, Ni, Nt, names)
//   initiator            checks Pt; a target that cannot show it gets nothing more
//   initiator → target   proof Pi = Sign(<transport>-initiator, Nt, Ni, names)
//   target               checks Pi; only then descriptors, keys, fds or bytes
// Both nonces bind each proof to this connection (a recorded proof is worthless on another
// one), and the role label binds it to its direction (a target's proof cannot be reflected
// back as an initiator's). The secret itself never travels.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "mooncake/common/cluster_secret.h"

namespace mooncake::transfer {

// The protocol steps a proof can belong to: one label each, so no proof passes another step.
enum class AuthStep {
  kTcpTarget,     // the target's answer to a TCP HELLO
  kTcpInitiator,  // the initiator's answer to the target's TCP challenge
  kShmTarget,     // the same two on the shm control socket
  kShmInitiator,
};

// The proof of the side that plays `step`, on a connection where it received `peer_nonce` and
// sent `own_nonce`; `initiator` and `target` are the names the two sides gave.
auth::Mac ProvePeer(const auth::ClusterSecret& secret, AuthStep step, const auth::Nonce& peer_nonce,
                    const auth::Nonce& own_nonce, std::string_view initiator,
                    std::string_view target);

// Whether `proof` is what the other side, playing `step`, had to send: it received our
// `own_nonce` and sent `peer_nonce`. Constant time (ClusterSecret::Verify).
bool CheckPeerProof(const auth::ClusterSecret& secret, AuthStep step, const auth::Mac& proof,
                    const auth::Nonce& own_nonce, const auth::Nonce& peer_nonce,
                    std::string_view initiator, std::string_view target);

// Peers this engine refused because they did not prove the secret. Counted always; logged at
// WARNING with the peer's address, but at most once per `interval` so that a scanner cannot
// flood the log (the lines in between are counted and summed up in the next one).
// Thread-safe.
class AuthRefusals {
 public:
  explicit AuthRefusals(std::chrono::milliseconds interval = std::chrono::seconds(10))
      : interval_(interval) {}

  // Counts one refusal: `transport` ("tcp", "shm"), the peer's address, and why (for the
  // log only; the peer is told nothing but "authentication failed").
  void Refused(std::string_view transport, std::string_view peer, std::string_view why);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  const std::chrono::milliseconds interval_;
  std::atomic<uint64_t> count_{0};
  std::mutex mutex_;  // guards the two fields below
  std::chrono::steady_clock::time_point last_logged_{};
  uint64_t unlogged_ = 0;
};

}  // namespace mooncake::transfer
