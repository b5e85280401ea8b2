#pragma once

// The local control channel of the shm transport: abstract-namespace Unix SOCK_SEQPACKET
// sockets (one message per send, fds passed with SCM_RIGHTS) and the fixed-size messages
// exchanged on them. Abstract names live in the network namespace, so only processes of the
// same emulated host can connect. Both ends are builds of this project on one host; the
// magic and version fields still guard against another build or a stray client.
//
//   initiator                          exporter (target)
//   HELLO(incarnation, name)   ──►     checks uid (SO_PEERCRED) and incarnation
//                              ◄──     HELLO reply + control table fd; connection stays open:
//                              ◄──     RELEASED(buffer id) notices; hang-up = owner exited
//   FETCH(address, length)     ──►     (a fresh connection per fetch)
//                              ◄──     FETCH reply (+ buffer memfd when shared), then close
//
// With a cluster secret, every connection (HELLO and FETCH alike) first goes through the
// challenge–response of src/transfer/peer_auth.h: the first request carries the initiator's
// nonce; the exporter answers CHALLENGE (its nonce and proof) instead of the reply; the
// initiator checks that proof and sends PROOF; only then does the exporter answer the first
// request, fd attached. A refused initiator gets a reply with kUnauthenticated and no fd.

#include <chrono>
#include <cstdint>
#include <string>

#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"
#include "transfer/transport/tcp/socket_util.h"

namespace mooncake::transfer::shm {

using tcp::UniqueFd;

inline constexpr uint32_t kShmMagic = 0x4d53434d;  // "MCSM" in memory order
// 2: nonces and proofs (cluster secret) in every request and reply.
inline constexpr uint16_t kShmVersion = 2;
// Longest abstract name: sun_path holds 108 bytes, the first is the NUL of the abstract form.
inline constexpr size_t kMaxEndpointName = 100;

enum class MessageType : uint16_t {
  kHello = 1,
  kHelloReply = 2,
  kFetch = 3,
  kFetchReply = 4,
  kReleased = 5,
  kChallenge = 6,  // exporter → initiator: nonce + proof, instead of the first reply
  kProof = 7,      // initiator → exporter: proof, answering a challenge
};

struct Request {
  uint32_t magic = kShmMagic;
  uint16_t version = kShmVersion;
  MessageType type = MessageType::kHello;
  uint64_t incarnation = 0;  // HELLO: the incarnation the initiator expects
  uint64_t address = 0;      // FETCH: the range asked for
  uint64_t length = 0;
  char name[64] = {};   // the initiator's segment name (logs, proofs), NUL-padded
  auth::Nonce nonce{};  // HELLO/FETCH: the initiator's fresh nonce
  auth::Mac proof{};    // PROOF: the initiator's proof
};

struct Reply {
  uint32_t magic = kShmMagic;
  uint16_t version = kShmVersion;
  MessageType type = MessageType::kHelloReply;
  int32_t status = 0;  // StatusCode; non-zero: `message` says why
  uint32_t slot = 0;   // FETCH: control-table slot of the buffer
  uint64_t incarnation = 0;
  uint64_t slots = 0;  // HELLO: number of slots in the control table
  uint64_t id = 0;     // FETCH: buffer id, held by its slot while registered
  uint64_t base = 0;   // FETCH: the registered buffer containing the range
  uint64_t length = 0;
  uint64_t fd_offset = 0;  // FETCH with fd: where `base` lies in the memfd
  char message[128] = {};
  auth::Nonce nonce{};  // CHALLENGE: the exporter's fresh nonce
  auth::Mac proof{};    // CHALLENGE: the exporter's proof
};

// Owner → initiator on the watch connection: a buffer was unregistered.
struct Notice {
  uint32_t magic = kShmMagic;
  MessageType type = MessageType::kReleased;
  uint16_t reserved = 0;
  uint64_t id = 0;
};

static_assert(sizeof(Request) == 160 && sizeof(Reply) == 256 && sizeof(Notice) == 16);

// "@mooncake-te/<segment>/<incarnation hex>", shortened to "@mooncake-te/<hex>" when long.
// The leading '@' marks the abstract namespace.
std::string EndpointName(const std::string& segment, uint64_t incarnation);

// Listens on an abstract endpoint ("@..."), non-blocking, close-on-exec.
Result<UniqueFd> ListenAbstract(const std::string& endpoint);
// Connects to an abstract endpoint; kSegmentNotFound when nobody listens there.
Result<UniqueFd> ConnectAbstract(const std::string& endpoint);

// Sends one message, with `fd` attached when >= 0. Bounded by `timeout`.
Status SendMessage(int socket, const void* data, size_t length, int fd,
                   std::chrono::milliseconds timeout);
// Receives one message of exactly `length` bytes (a shorter or longer one is an error) and
// the fd attached to it, if any, into *fd (else an invalid UniqueFd). Bounded by `timeout`.
Status ReceiveMessage(int socket, void* data, size_t length, UniqueFd* fd,
                      std::chrono::milliseconds timeout);

// True when the other end of a connected socket closed or failed (non-blocking check).
bool PeerHungUp(int socket);

// Copies `text` into a fixed char array, NUL-terminated, truncated as needed.
template <size_t N>
void CopyText(char (&out)[N], const std::string& text) {
  size_t n = text.size() < N - 1 ? text.size() : N - 1;
  text.copy(out, n);
  out[n] = '\0';
}
template <size_t N>
std::string TextOf(const char (&in)[N]) {
  size_t n = 0;
  while (n < N && in[n] != '\0') ++n;
  return std::string(in, n);
}

}  // namespace mooncake::transfer::shm
