#include "transfer/transport/tcp/target_session.h"

#include <fmt/format.h>

#include "common/logging.h"

namespace mooncake::transfer::tcp {
namespace {

// A file-segment request is staged in memory on the target: bound what one request may pin.
constexpr uint64_t kMaxFileRequest = uint64_t{64} << 20;

}  // namespace

TargetSession::TargetSession(UniqueFd fd, EventLoop* loop, std::string peer_label,
                             const MemoryRegistry* registry, file::FileSegments* files,
                             PeerCounterTable* peer_counters, DescriptorProvider descriptor,
                             std::chrono::milliseconds hello_timeout, uint32_t own_tag,
                             TargetIdentity identity)
    : Connection(std::move(fd), loop, std::move(peer_label)),
      registry_(registry),
      files_(files),
      peer_counters_(peer_counters),
      descriptor_(std::move(descriptor)),
      hello_timeout_(hello_timeout),
      identity_(std::move(identity)),
      own_tag_(own_tag) {}

Result<Connection::PayloadSink> TargetSession::OnHeader(const FrameHeader& header) {
  switch (state_) {
    case HelloState::kAwaitHello:
      if (header.type == FrameType::kHello) return PayloadSink{PayloadSink::Kind::kControl};
      return InvalidParams(
          fmt::format("{} sent {} before HELLO", peer_label(), FrameTypeName(header.type)));
    case HelloState::kAwaitProof:
      if (header.type == FrameType::kAuthProof) return PayloadSink{PayloadSink::Kind::kControl};
      // Not one byte of a request is read, let alone served, before the proof.
      Refuse(
          fmt::format("sent {} instead of proving the cluster secret", FrameTypeName(header.type)));
      return Unauthenticated(fmt::format("{} sent {} before authenticating", peer_label(),
                                         FrameTypeName(header.type)));
    case HelloState::kRefused:  // closing: nothing more is read
      return Unauthenticated(fmt::format("{} failed to authenticate", peer_label()));
    case HelloState::kReady:
      break;
  }
  switch (header.type) {
    case FrameType::kHello:
      return PayloadSink{PayloadSink::Kind::kControl};
    case FrameType::kReadRequest:
      Classify(header);
      return PayloadSink{};
    case FrameType::kWriteRequest:
      Classify(header);
      if (!current_valid_) return PayloadSink{PayloadSink::Kind::kDiscard};
      if (current_file_) {
        file_buffer_ = files_->AcquireStaging(header.length);
        if (!file_buffer_) {
          current_valid_ = false;
          return PayloadSink{PayloadSink::Kind::kDiscard};
        }
        return PayloadSink{PayloadSink::Kind::kMemory, file_buffer_.get()};
      }
      return PayloadSink{PayloadSink::Kind::kMemory,
                         reinterpret_cast<char*>(static_cast<uintptr_t>(header.address))};
    default:
      return InvalidParams(fmt::format("{} sent unexpected {} to a target", peer_label(),
                                       FrameTypeName(header.type)));
  }
}

void TargetSession::OnFrame(const FrameHeader& header, std::string&& control) {
  switch (header.type) {
    case FrameType::kHello:
      OnHello(header, std::move(control));
      break;
    case FrameType::kAuthProof:
      OnProof(header, std::move(control));
      break;
    case FrameType::kReadRequest:
      if (current_valid_ && current_file_) {
        std::shared_ptr<char> buffer = files_->AcquireStaging(header.length);
        if (buffer) {
          ServeFile(header, std::move(buffer));
          break;
        }
        current_valid_ = false;
      }
      if (current_valid_) {
        FrameHeader resp;
        resp.type = FrameType::kReadResponse;
        resp.request_id = header.request_id;
        resp.address = header.address;
        resp.length = header.length;
        replies_.push_back(
            MakeFrame(resp, reinterpret_cast<const char*>(static_cast<uintptr_t>(header.address))));
        CountServed(true, header.length);
      } else {
        Reply(FrameType::kReadResponse, header);
      }
      break;
    case FrameType::kWriteRequest:
      if (current_valid_ && current_file_) {
        ServeFile(header, std::move(file_buffer_));
        break;
      }
      if (current_valid_) CountServed(false, header.length);
      Reply(FrameType::kWriteResponse, header);
      break;
    default:
      break;
  }
}

void TargetSession::OnHello(const FrameHeader& header, std::string&& payload) {
  if (state_ == HelloState::kReady) {  // a repeated HELLO refreshes the descriptor
    Accept(header.request_id);
    return;
  }
  auto hello = DecodeHello(payload);
  if (!hello.ok()) {
    Close(hello.status().WithContext(fmt::format("HELLO from {}", peer_label())));
    return;
  }
  hello_ = std::move(*hello);
  if (identity_.secret == nullptr) {
    Accept(header.request_id);
    return;
  }
  // Our proof first: an initiator must not hand its requests to a target that cannot show
  // the secret. Its label differs from the initiator's, so it cannot be replayed as one.
  ChallengePayload challenge;
  challenge.nonce = nonce_ = auth::RandomNonce();
  challenge.name = identity_.name;
  challenge.proof = ProvePeer(*identity_.secret, AuthStep::kTcpTarget, hello_.nonce, nonce_,
                              hello_.name, identity_.name);
  FrameHeader frame;
  frame.type = FrameType::kAuthChallenge;
  frame.request_id = header.request_id;
  replies_.push_back(MakeControlFrame(frame, EncodeChallenge(challenge)));
  state_ = HelloState::kAwaitProof;
}

void TargetSession::OnProof(const FrameHeader& header, std::string&& payload) {
  if (header.status != 0) {
    Refuse("holds no cluster secret");
    return;
  }
  auto proof = DecodeProof(payload);
  if (!proof.ok() || !CheckPeerProof(*identity_.secret, AuthStep::kTcpInitiator, *proof, nonce_,
                                     hello_.nonce, hello_.name, identity_.name)) {
    Refuse("wrong proof of the cluster secret");
    return;
  }
  Accept(header.request_id);
}

void TargetSession::Accept(uint64_t request_id) {
  state_ = HelloState::kReady;
  if (peer_counters_ != nullptr && served_ == nullptr) served_ = peer_counters_->For(hello_.name);
  FrameHeader ack;
  ack.type = FrameType::kHelloAck;
  ack.request_id = request_id;
  replies_.push_back(MakeControlFrame(ack, descriptor_()));
}

void TargetSession::OnClose(const Status& reason) {
  if (state_ != HelloState::kAwaitProof || identity_.refusals == nullptr) return;
  identity_.refusals->Refused(
      "tcp", peer_label(),
      fmt::format("'{}' hung up when challenged for the cluster secret (another secret?)",
                  hello_.name));
}

void TargetSession::Refuse(std::string_view why) {
  state_ = HelloState::kRefused;
  if (identity_.refusals != nullptr) {
    identity_.refusals->Refused("tcp", peer_label(), fmt::format("'{}' {}", hello_.name, why));
  }
  // The peer learns that it failed, not why: no detail that helps guessing.
  FrameHeader ack;
  ack.type = FrameType::kHelloAck;
  ack.status = static_cast<int32_t>(StatusCode::kUnauthenticated);
  // Pending replies can only be our challenge (nothing else is sent before the proof).
  replies_.push_back(MakeControlFrame(ack, "authentication failed"));
  Send(std::move(replies_));
  replies_.clear();
  Close(Unauthenticated(fmt::format("{} failed to authenticate", peer_label())));
}

void TargetSession::CountServed(bool read, uint64_t bytes) {
  if (served_ == nullptr) return;
  (read ? served_->served_bytes_read : served_->served_bytes_written)
      .fetch_add(bytes, std::memory_order_relaxed);
}

void TargetSession::Classify(const FrameHeader& header) {
  current_stale_ = header.target_tag != 0 && header.target_tag != own_tag_;
  current_file_ = false;
  current_too_big_ = false;
  current_valid_ = !current_stale_ && registry_->Contains(header.address, header.length);
  if (current_valid_ || current_stale_ || files_ == nullptr ||
      !files_->Contains(header.address, header.length)) {
    return;
  }
  current_too_big_ = header.length > kMaxFileRequest;
  current_valid_ = current_file_ = !current_too_big_;
}

void TargetSession::ServeFile(const FrameHeader& header, std::shared_ptr<char> buffer) {
  const bool read = header.type == FrameType::kReadRequest;
  std::weak_ptr<Connection> weak = weak_from_this();
  char* data = buffer.get();
  auto done = [weak, header, read, served = served_,
               buffer = std::move(buffer)](const Status& status) {
    if (status.ok() && served != nullptr) {  // the table outlives the transport
      (read ? served->served_bytes_read : served->served_bytes_written)
          .fetch_add(header.length, std::memory_order_relaxed);
    }
    std::shared_ptr<Connection> self = weak.lock();
    if (!self) return;  // the peer went away; its request dies with the connection
    FrameHeader resp;
    resp.type = read ? FrameType::kReadResponse : FrameType::kWriteResponse;
    resp.request_id = header.request_id;
    resp.address = header.address;
    std::vector<OutFrame> frames;
    if (!status.ok()) {
      resp.status = static_cast<int32_t>(status.code());
      frames.push_back(MakeControlFrame(resp, status.message()));
    } else if (read) {
      resp.length = header.length;
      OutFrame frame = MakeFrame(resp, buffer.get());
      frame.hold = buffer;
      frames.push_back(std::move(frame));
    } else {
      frames.push_back(MakeFrame(resp));
    }
    self->Send(std::move(frames));
  };
  files_->Submit(read ? TransferOpcode::kRead : TransferOpcode::kWrite, header.address, data,
                 header.length, std::move(done));
}

void TargetSession::Reply(FrameType type, const FrameHeader& request) {
  FrameHeader resp;
  resp.type = type;
  resp.request_id = request.request_id;
  resp.address = request.address;
  if (current_valid_) {
    replies_.push_back(MakeFrame(resp));
    return;
  }
  resp.status = static_cast<int32_t>(StatusCode::kInvalidParams);
  replies_.push_back(MakeControlFrame(
      resp,
      current_stale_ ? std::string("request addressed an earlier incarnation of this segment (it "
                                   "restarted): re-read its descriptor")
      : current_too_big_
          ? fmt::format("file-segment request of {} bytes exceeds the {}-byte limit per "
                        "request",
                        request.length, kMaxFileRequest)
      : current_file_
          ? fmt::format("cannot allocate {} bytes to stage a file-segment request", request.length)
          : fmt::format("range 0x{:x}+{} is outside the registered buffers", request.address,
                        request.length)));
}

void TargetSession::OnReadBatchDone() {
  if (replies_.empty()) return;
  Send(std::move(replies_));
  replies_.clear();
}

void TargetSession::OnTick(std::chrono::steady_clock::time_point now) {
  if (state_ != HelloState::kReady && now - accepted_at_ > hello_timeout_) {
    Close(Status(StatusCode::kRpcTimeout, fmt::format("{} did not complete HELLO within {} ms",
                                                      peer_label(), hello_timeout_.count())));
  }
}

void TargetSession::OnBadStream(const Status& why) {
  // Tell a peer of another protocol version why it is refused before dropping it.
  if (why.code() != StatusCode::kInvalidVersion) return;
  FrameHeader ack;
  ack.type = FrameType::kHelloAck;
  ack.status = static_cast<int32_t>(StatusCode::kInvalidVersion);
  std::vector<OutFrame> frames;
  frames.push_back(MakeControlFrame(ack, why.message()));
  Send(std::move(frames));
}

}  // namespace mooncake::transfer::tcp
