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
// OK and an error message otherwise. HELLO carries the client's name; HELLO_ACK carries the
// server's segment descriptor (JSON) or, when status is not OK, an error message.

#include <array>
#include <cstdint>
#include <string>

#include "mooncake/common/status.h"

namespace mooncake::transfer::tcp {

inline constexpr uint32_t kFrameMagic = 0x4554434D;  // "MCTE" in memory order
inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderSize = 40;
// Control payloads (HELLO, descriptors, error messages) are small.
inline constexpr uint64_t kMaxControlPayload = 4 << 20;
// Data payloads of one frame; requests are sliced far below this.
inline constexpr uint64_t kMaxDataPayload = 1ull << 30;

enum class FrameType : uint8_t {
  kHello = 1,
  kHelloAck = 2,
  kReadRequest = 3,
  kReadResponse = 4,
  kWriteRequest = 5,
  kWriteResponse = 6,
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

}  // namespace mooncake::transfer::tcp
