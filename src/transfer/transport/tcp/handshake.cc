#include "transfer/transport/tcp/handshake.h"

#include <fmt/format.h>

#include "transfer/segment_descriptor_codec.h"
#include "transfer/transport/tcp/wire_format.h"

namespace mooncake::transfer::tcp {

Result<HandshakeResult> ConnectAndHandshake(const HostPort& address, const std::string& local_name,
                                            Deadline deadline, const std::string& bind_host) {
  const std::string where = address.ToString();
  MC_ASSIGN_OR_RETURN(UniqueFd fd, ConnectWithDeadline(address, deadline, bind_host));

  FrameHeader hello;
  hello.type = FrameType::kHello;
  hello.length = local_name.size();
  EncodedHeader encoded = EncodeHeader(hello);
  Status sent = SendAll(fd.get(), encoded.data(), encoded.size(), deadline);
  if (sent.ok()) sent = SendAll(fd.get(), local_name.data(), local_name.size(), deadline);
  if (!sent.ok()) return sent.WithContext(fmt::format("handshake with {}", where));

  EncodedHeader raw;
  Status got = RecvAll(fd.get(), raw.data(), raw.size(), deadline);
  if (!got.ok()) return got.WithContext(fmt::format("handshake with {}", where));
  auto header = DecodeHeader(raw.data());
  if (!header.ok()) return header.status().WithContext(fmt::format("handshake with {}", where));
  if (header->type != FrameType::kHelloAck) {
    return Status(StatusCode::kInvalidParams,
                  fmt::format("handshake with {}: expected HELLO_ACK, got {}", where,
                              FrameTypeName(header->type)));
  }
  std::string payload(header->length, '\0');
  got = RecvAll(fd.get(), payload.data(), payload.size(), deadline);
  if (!got.ok()) return got.WithContext(fmt::format("handshake with {}", where));
  if (header->status != 0) {
    return Status(static_cast<StatusCode>(header->status),
                  fmt::format("{} refused the handshake: {}", where, payload));
  }
  auto descriptor = DecodeSegmentDescriptor(payload);
  if (!descriptor.ok()) {
    return descriptor.status().WithContext(fmt::format("descriptor from {}", where));
  }
  if (descriptor->protocol_version != kProtocolVersion) {
    return Status(StatusCode::kInvalidVersion,
                  fmt::format("{} speaks transfer protocol v{}, this build speaks v{}", where,
                              descriptor->protocol_version, kProtocolVersion));
  }
  return HandshakeResult{std::move(fd), std::move(*descriptor)};
}

}  // namespace mooncake::transfer::tcp
