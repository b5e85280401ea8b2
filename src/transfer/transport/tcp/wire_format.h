#pragma once

// Frame layout of the TCP transport. Every frame is a fixed 40-byte little-endian header,
// followed by `length` payload bytes for the types that carry one:
//
//   offset size field
//   0      4    magic 'MCTE'
//   4      2    protocol version
//   6      1    frame type
//   7      1    flags (0)
//   8      4    status (StatusCode, 0 = OK) — responses only
//   12     4    target tag: READ/WRITE requests carry IncarnationTag() of the target
//                incarnation they were validated against; 0 = unchecked
//   16     8    request id (echoed by the response)
//   24     8    address in the target's registered memory
//   32     8    length: bytes requested (READ_REQUEST) or payload bytes (all other types)
//
// READ_REQUEST carries no payload; READ_RESPONSE carries `length` bytes of data when OK and an
// error message otherwise. WRITE_REQUEST carries the data; WRITE_RESPONSE carries nothing when
// OK and an error message otherwise. HELLO carries the client's nonce and name (EncodeHello);
// HELLO_ACK carries the server's segment descriptor (JSON) or, when status is not OK, an error
// message.
//
// A connection opens with (src/transfer/peer_auth.h explains the proofs):
//   HELLO ──►
//         ◄── AUTH_CHALLENGE (target nonce, proof, name)   only when the target has a secret
//   AUTH_PROOF ──►                                          only after a challenge
//         ◄── HELLO_ACK (descriptor; kUnauthenticated "authentication failed" when refused)
// A target with a secret answers nothing but AUTH_CHALLENGE, and accepts nothing but
// AUTH_PROOF, until the proof checked out. An initiator with a secret sends nothing after HELLO
// until the target's proof checked out; a HELLO_ACK without a challenge fails it. An initiator
// without a secret answers a challenge with AUTH_PROOF carrying kUnauthenticated and a reason.
//
// Version 2 added the nonce to HELLO and the two AUTH frames; a v1 peer is told the versions
// (HELLO_ACK kInvalidVersion) and dropped.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"

namespace mooncake::transfer::tcp {

inline constexpr uint32_t kFrameMagic = 0x4554434D;  // "MCTE" in memory order
inline constexpr uint16_t kProtocolVersion = 2;
inline constexpr size_t kFrameHeaderSize = 40;
// Control payloads (HELLO, descriptors, error messages) are small.
inline constexpr uint64_t kMaxControlPayload = 4 << 20;
// Frames a peer may send before it is authenticated are smaller still: strangers must not make
// us buffer megabytes.
inline constexpr uint64_t kMaxHandshakePayload = 64 << 10;
// Data payloads of one frame; requests are sliced far below this.
inline constexpr uint64_t kMaxDataPayload = 1ull << 30;

enum class FrameType : uint8_t {
  kHello = 1,
  kHelloAck = 2,
  kReadRequest = 3,
  kReadResponse = 4,
  kWriteRequest = 5,
  kWriteResponse = 6,
  kAuthChallenge = 7,
  kAuthProof = 8,
};

struct FrameHeader {
  uint16_t version = kProtocolVersion;
  FrameType type = FrameType::kHello;
  int32_t status = 0;
  uint64_t request_id = 0;
  uint64_t address = 0;
  uint64_t length = 0;
  uint32_t target_tag = 0;

  // Bytes of payload that follow this header on the wire.
  uint64_t PayloadBytes() const { return type == FrameType::kReadRequest ? 0 : length; }
};

// A non-zero 32-bit digest of a segment incarnation. A target refuses requests tagged for
// another incarnation: addresses computed from a dead process's descriptor must never land in
// the memory of its successor on the same port.
inline uint32_t IncarnationTag(uint64_t incarnation) {
  return static_cast<uint32_t>(incarnation ^ (incarnation >> 32)) | 1u;
}

using EncodedHeader = std::array<uint8_t, kFrameHeaderSize>;

void EncodeHeader(const FrameHeader& header, uint8_t* out);
inline EncodedHeader EncodeHeader(const FrameHeader& header) {
  EncodedHeader out;
  EncodeHeader(header, out.data());
  return out;
}

// Decodes and validates a header: magic, version, known type, payload size limits. A failure
// means the byte stream cannot be trusted and the connection must be dropped.
Result<FrameHeader> DecodeHeader(const uint8_t* data);

const char* FrameTypeName(FrameType type);

// HELLO's payload: the initiator's fresh nonce, then its name.
struct HelloPayload {
  auth::Nonce nonce{};
  std::string name;
};
std::string EncodeHello(const HelloPayload& hello);
// InvalidParams when shorter than a nonce.
Result<HelloPayload> DecodeHello(std::string_view payload);

// AUTH_CHALLENGE's payload: the target's fresh nonce, its proof, then its name.
struct ChallengePayload {
  auth::Nonce nonce{};
  auth::Mac proof{};
  std::string name;
};
std::string EncodeChallenge(const ChallengePayload& challenge);
Result<ChallengePayload> DecodeChallenge(std::string_view payload);

// AUTH_PROOF's payload with status OK: exactly the initiator's proof. (With a status, a message.)
Result<auth::Mac> DecodeProof(std::string_view payload);

}  // namespace mooncake::transfer::tcp
