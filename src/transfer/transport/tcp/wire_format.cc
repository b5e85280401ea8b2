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
         type <= static_cast<uint8_t>(FrameType::kWriteResponse);
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
  }
  return "UNKNOWN";
}

}  // namespace mooncake::transfer::tcp
