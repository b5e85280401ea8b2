#include "transfer/transport/tcp/wire_format.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>

namespace mooncake::transfer::tcp {
namespace {

// x86-64 and aarch64 are little-endian; the static_assert keeps a big-endian port honest.
static_assert(std::endian::native == std::endian::little, "wire format assumes little-endian");

template <typename T>
void Put(uint8_t* out, size_t offset, T value) {
  std::memcpy(out + offset, &value, sizeof(T));
}

template <typename T>
T Get(const uint8_t* data, size_t offset) {
  T value;
  std::memcpy(&value, data + offset, sizeof(T));
  return value;
}

bool IsKnownType(uint8_t type) {
  return type >= static_cast<uint8_t>(FrameType::kHello) &&
         type <= static_cast<uint8_t>(FrameType::kAuthProof);
}

}  // namespace

void EncodeHeader(const FrameHeader& header, uint8_t* out) {
  Put<uint32_t>(out, 0, kFrameMagic);
  Put<uint16_t>(out, 4, header.version);
  Put<uint8_t>(out, 6, static_cast<uint8_t>(header.type));
  Put<uint8_t>(out, 7, 0);
  Put<int32_t>(out, 8, header.status);
  Put<uint32_t>(out, 12, header.target_tag);
  Put<uint64_t>(out, 16, header.request_id);
  Put<uint64_t>(out, 24, header.address);
  Put<uint64_t>(out, 32, header.length);
}

Result<FrameHeader> DecodeHeader(const uint8_t* data) {
  uint32_t magic = Get<uint32_t>(data, 0);
  if (magic != kFrameMagic) {
    return Status(StatusCode::kInvalidParams, fmt::format("bad frame magic 0x{:08x}", magic));
  }
  FrameHeader header;
  header.version = Get<uint16_t>(data, 4);
  if (header.version != kProtocolVersion) {
    return Status(StatusCode::kInvalidVersion,
                  fmt::format("peer speaks transfer protocol v{}, this build speaks v{}",
                              header.version, kProtocolVersion));
  }
  uint8_t type = Get<uint8_t>(data, 6);
  if (!IsKnownType(type)) {
    return Status(StatusCode::kInvalidParams, fmt::format("unknown frame type {}", type));
  }
  header.type = static_cast<FrameType>(type);
  header.status = Get<int32_t>(data, 8);
  header.request_id = Get<uint64_t>(data, 16);
  header.address = Get<uint64_t>(data, 24);
  header.length = Get<uint64_t>(data, 32);
  header.target_tag = Get<uint32_t>(data, 12);

  bool is_data = header.status == 0 && (header.type == FrameType::kReadResponse ||
                                        header.type == FrameType::kWriteRequest);
  uint64_t limit = is_data ? kMaxDataPayload : kMaxControlPayload;
  if (header.type == FrameType::kReadRequest) limit = kMaxDataPayload;
  if (header.type == FrameType::kHello || header.type == FrameType::kAuthChallenge ||
      header.type == FrameType::kAuthProof) {
    limit = kMaxHandshakePayload;
  }
  if (header.length > limit) {
    return Status(StatusCode::kInvalidParams,
                  fmt::format("{} frame announces {} bytes, limit is {}",
                              FrameTypeName(header.type), header.length, limit));
  }
  return header;
}

const char* FrameTypeName(FrameType type) {
  switch (type) {
    case FrameType::kHello:
      return "HELLO";
    case FrameType::kHelloAck:
      return "HELLO_ACK";
    case FrameType::kReadRequest:
      return "READ_REQUEST";
    case FrameType::kReadResponse:
      return "READ_RESPONSE";
    case FrameType::kWriteRequest:
      return "WRITE_REQUEST";
    case FrameType::kWriteResponse:
      return "WRITE_RESPONSE";
    case FrameType::kAuthChallenge:
      return "AUTH_CHALLENGE";
    case FrameType::kAuthProof:
      return "AUTH_PROOF";
  }
  return "UNKNOWN";
}

std::string EncodeHello(const HelloPayload& hello) {
  std::string out(auth::AsBytes(hello.nonce));
  out += hello.name;
  return out;
}

Result<HelloPayload> DecodeHello(std::string_view payload) {
  HelloPayload hello;
  if (payload.size() < hello.nonce.size()) {
    return InvalidParams(fmt::format("HELLO of {} bytes carries no nonce (v{} needs {} bytes)",
                                     payload.size(), kProtocolVersion, hello.nonce.size()));
  }
  std::memcpy(hello.nonce.data(), payload.data(), hello.nonce.size());
  hello.name = payload.substr(hello.nonce.size());
  return hello;
}

std::string EncodeChallenge(const ChallengePayload& challenge) {
  std::string out(auth::AsBytes(challenge.nonce));
  out += auth::AsBytes(challenge.proof);
  out += challenge.name;
  return out;
}

Result<ChallengePayload> DecodeChallenge(std::string_view payload) {
  ChallengePayload c;
  const size_t fixed = c.nonce.size() + c.proof.size();
  if (payload.size() < fixed) {
    return InvalidParams(
        fmt::format("AUTH_CHALLENGE of {} bytes, expected at least {}", payload.size(), fixed));
  }
  std::memcpy(c.nonce.data(), payload.data(), c.nonce.size());
  std::memcpy(c.proof.data(), payload.data() + c.nonce.size(), c.proof.size());
  c.name = payload.substr(fixed);
  return c;
}

Result<auth::Mac> DecodeProof(std::string_view payload) {
  auth::Mac proof{};
  if (payload.size() != proof.size()) {
    return InvalidParams(
        fmt::format("AUTH_PROOF of {} bytes, expected {}", payload.size(), proof.size()));
  }
  std::memcpy(proof.data(), payload.data(), proof.size());
  return proof;
}

}  // namespace mooncake::transfer::tcp
