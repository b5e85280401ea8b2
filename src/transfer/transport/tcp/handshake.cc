#include "transfer/transport/tcp/handshake.h"

#include <fmt/format.h>

#include "transfer/peer_auth.h"
#include "transfer/segment_descriptor_codec.h"
#include "transfer/transport/tcp/wire_format.h"

namespace mooncake::transfer::tcp {
namespace {

struct Frame {
  FrameHeader header;
  std::string payload;
};

Status SendFrame(int fd, FrameHeader header, std::string_view payload, Deadline deadline) {
  header.length = payload.size();
  EncodedHeader encoded = EncodeHeader(header);
  MC_RETURN_IF_ERROR(SendAll(fd, encoded.data(), encoded.size(), deadline));
  return SendAll(fd, payload.data(), payload.size(), deadline);
}

Result<Frame> ReceiveFrame(int fd, Deadline deadline) {
  EncodedHeader raw;
  MC_RETURN_IF_ERROR(RecvAll(fd, raw.data(), raw.size(), deadline));
  Frame frame;
  MC_ASSIGN_OR_RETURN(frame.header, DecodeHeader(raw.data()));
  frame.payload.resize(frame.header.PayloadBytes());
  MC_RETURN_IF_ERROR(RecvAll(fd, frame.payload.data(), frame.payload.size(), deadline));
  return frame;
}

// Answers the target's AUTH_CHALLENGE: checks its proof and sends ours. With no secret here,
// tells the target why we cannot (so that its log says so) and fails.
Status AnswerChallenge(int fd, const Frame& frame, const HelloPayload& hello,
                       const auth::ClusterSecret* secret, const std::string& where,
                       Deadline deadline) {
  FrameHeader proof;
  proof.type = FrameType::kAuthProof;
  if (secret == nullptr) {
    proof.status = static_cast<int32_t>(StatusCode::kUnauthenticated);
    SendFrame(fd, proof, "the initiator has no cluster secret", deadline).IgnoreError();
    return Unauthenticated(fmt::format(
        "authentication failed: peer {} requires the cluster secret and this process has none "
        "(--auth_secret_file / MC_AUTH_SECRET_FILE)",
        where));
  }
  auto challenge = DecodeChallenge(frame.payload);
  if (!challenge.ok() ||
      !CheckPeerProof(*secret, AuthStep::kTcpTarget, challenge->proof, hello.nonce,
                      challenge->nonce, hello.name, challenge->name)) {
    // Nothing more goes to a target that cannot show the secret: it might be an impostor
    // waiting for our writes' payload or our reads' destinations.
    return Unauthenticated(fmt::format(
        "authentication failed: peer {} does not prove the cluster secret (a different secret, "
        "or not the segment it claims to be)",
        where));
  }
  const auth::Mac mine = ProvePeer(*secret, AuthStep::kTcpInitiator, challenge->nonce, hello.nonce,
                                   hello.name, challenge->name);
  return SendFrame(fd, proof, auth::AsBytes(mine), deadline);
}

}  // namespace

Result<HandshakeResult> ConnectAndHandshake(const HostPort& address, const std::string& local_name,
                                            const auth::ClusterSecret* secret, Deadline deadline,
                                            const std::string& bind_host) {
  const std::string where = address.ToString();
  const std::string context = fmt::format("handshake with {}", where);
  MC_ASSIGN_OR_RETURN(UniqueFd fd, ConnectWithDeadline(address, deadline, bind_host));

  HelloPayload hello;
  hello.nonce = auth::RandomNonce();
  hello.name = local_name;
  FrameHeader header;
  header.type = FrameType::kHello;
  MC_RETURN_IF_ERROR(
      SendFrame(fd.get(), header, EncodeHello(hello), deadline).WithContext(context));

  auto frame = ReceiveFrame(fd.get(), deadline);
  if (!frame.ok()) return frame.status().WithContext(context);
  bool challenged = false;
  if (frame->header.type == FrameType::kAuthChallenge) {
    challenged = true;
    MC_RETURN_IF_ERROR(
        AnswerChallenge(fd.get(), *frame, hello, secret, where, deadline).WithContext(context));
    frame = ReceiveFrame(fd.get(), deadline);
    if (!frame.ok()) return frame.status().WithContext(context);
  }
  if (frame->header.type != FrameType::kHelloAck) {
    return InvalidParams(
        fmt::format("{}: expected HELLO_ACK, got {}", context, FrameTypeName(frame->header.type)));
  }
  if (frame->header.status != 0) {
    const auto code = static_cast<StatusCode>(frame->header.status);
    if (code == StatusCode::kUnauthenticated) {
      return Unauthenticated(fmt::format(
          "authentication failed: peer {} refused our proof of the cluster secret (the two "
          "sides hold different secrets)",
          where));
    }
    return Status(code, fmt::format("{} refused the handshake: {}", where, frame->payload));
  }
  if (secret != nullptr && !challenged) {
    return Unauthenticated(fmt::format(
        "authentication failed: peer {} does not prove the cluster secret (it answered without "
        "a challenge: is it running without --auth_secret_file?)",
        where));
  }
  auto descriptor = DecodeSegmentDescriptor(frame->payload);
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
