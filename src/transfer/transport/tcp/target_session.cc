#include "transfer/transport/tcp/target_session.h"

#include <fmt/format.h>

namespace mooncake::tcp {

TargetSession::TargetSession(UniqueFd fd, EventLoop* loop, std::string peer_label,
                             const MemoryRegistry* registry, DescriptorProvider descriptor,
                             std::chrono::milliseconds hello_timeout, uint32_t own_tag)
    : Connection(std::move(fd), loop, std::move(peer_label)),
      registry_(registry),
      descriptor_(std::move(descriptor)),
      hello_timeout_(hello_timeout),
      own_tag_(own_tag) {}

Result<Connection::PayloadSink> TargetSession::OnHeader(const FrameHeader& header) {
  if (!hello_done_ && header.type != FrameType::kHello) {
    return InvalidParams(fmt::format("{} sent {} before HELLO", peer_label(),
                                     FrameTypeName(header.type)));
  }
  switch (header.type) {
    case FrameType::kHello:
      return PayloadSink{PayloadSink::Kind::kControl};
    case FrameType::kReadRequest:
      current_stale_ = header.target_tag != 0 && header.target_tag != own_tag_;
      current_valid_ = !current_stale_ && registry_->Contains(header.address, header.length);
      return PayloadSink{};
    case FrameType::kWriteRequest:
      current_stale_ = header.target_tag != 0 && header.target_tag != own_tag_;
      current_valid_ = !current_stale_ && registry_->Contains(header.address, header.length);
      if (!current_valid_) return PayloadSink{PayloadSink::Kind::kDiscard};
      return PayloadSink{PayloadSink::Kind::kMemory,
                         reinterpret_cast<char*>(static_cast<uintptr_t>(header.address))};
    default:
      return InvalidParams(fmt::format("{} sent unexpected {} to a target", peer_label(),
                                       FrameTypeName(header.type)));
  }
}

void TargetSession::OnFrame(const FrameHeader& header, std::string&& control) {
  switch (header.type) {
    case FrameType::kHello: {
      hello_done_ = true;
      FrameHeader ack;
      ack.type = FrameType::kHelloAck;
      ack.request_id = header.request_id;
      replies_.push_back(MakeControlFrame(ack, descriptor_()));
      break;
    }
    case FrameType::kReadRequest:
      if (current_valid_) {
        FrameHeader resp;
        resp.type = FrameType::kReadResponse;
        resp.request_id = header.request_id;
        resp.address = header.address;
        resp.length = header.length;
        replies_.push_back(
            MakeFrame(resp, reinterpret_cast<const char*>(static_cast<uintptr_t>(header.address))));
      } else {
        Reply(FrameType::kReadResponse, header);
      }
      break;
    case FrameType::kWriteRequest:
      Reply(FrameType::kWriteResponse, header);
      break;
    default:
      break;
  }
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
      resp, current_stale_
                ? std::string("request addressed an earlier incarnation of this segment (it "
                              "restarted): re-read its descriptor")
                : fmt::format("range 0x{:x}+{} is outside the registered buffers",
                              request.address, request.length)));
}

void TargetSession::OnReadBatchDone() {
  if (replies_.empty()) return;
  Send(std::move(replies_));
  replies_.clear();
}

void TargetSession::OnTick(std::chrono::steady_clock::time_point now) {
  if (!hello_done_ && now - accepted_at_ > hello_timeout_) {
    Close(Status(StatusCode::kRpcTimeout, fmt::format("{} sent no HELLO within {} ms",
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

}  // namespace mooncake::tcp
