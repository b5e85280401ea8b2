#include "transfer/transport/tcp/initiator_channel.h"

#include <fmt/format.h>

namespace mooncake::transfer::tcp {
namespace {

const char* OpName(TransferOpcode op) { return op == TransferOpcode::kRead ? "READ" : "WRITE"; }

}  // namespace

InitiatorChannel::InitiatorChannel(UniqueFd fd, EventLoop* loop, std::string peer_label,
                                   std::chrono::milliseconds timeout, LostSlicesHandler on_lost)
    : Connection(std::move(fd), loop, std::move(peer_label)),
      timeout_(timeout),
      on_lost_(std::move(on_lost)) {}

bool InitiatorChannel::Submit(std::vector<Slice>& slices) {
  std::vector<OutFrame> frames;
  frames.reserve(slices.size());
  {
    std::lock_guard lock(mutex_);
    // Checked under mutex_: OnClose drains inflight_ under it after closed() turns true, so a
    // slice is either drained by OnClose or never inserted.
    if (closed()) return false;
    if (inflight_.empty()) NoteProgress();  // the timeout counts from the first outstanding slice
    uint64_t bytes = 0;
    for (Slice& s : slices) {
      FrameHeader h;
      h.request_id = next_id_++;
      h.address = s.remote_address;
      h.length = s.length;
      h.target_tag = s.target_tag;
      if (s.opcode == TransferOpcode::kRead) {
        h.type = FrameType::kReadRequest;
        frames.push_back(MakeFrame(h));
      } else {
        h.type = FrameType::kWriteRequest;
        frames.push_back(MakeFrame(h, s.local));
      }
      bytes += s.length;
      inflight_.emplace(h.request_id, std::move(s));
    }
    inflight_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }
  slices.clear();
  Send(std::move(frames));
  return true;
}

Result<Connection::PayloadSink> InitiatorChannel::OnHeader(const FrameHeader& header) {
  if (header.type != FrameType::kReadResponse && header.type != FrameType::kWriteResponse) {
    return InvalidParams(fmt::format("{} sent unexpected {} to an initiator", peer_label(),
                                     FrameTypeName(header.type)));
  }
  std::lock_guard lock(mutex_);
  auto it = inflight_.find(header.request_id);
  if (it == inflight_.end()) {
    return InvalidParams(
        fmt::format("{} answered unknown request {}", peer_label(), header.request_id));
  }
  Slice& s = it->second;
  const bool is_read = s.opcode == TransferOpcode::kRead;
  if (is_read != (header.type == FrameType::kReadResponse)) {
    return InvalidParams(fmt::format("{} answered request {} with {}", peer_label(),
                                     header.request_id, FrameTypeName(header.type)));
  }
  if (header.status != 0) return PayloadSink{PayloadSink::Kind::kControl};
  if (!is_read) {
    if (header.length != 0) return InvalidParams("WRITE_RESPONSE with a payload");
    return PayloadSink{};
  }
  if (header.length != s.length) {
    return InvalidParams(fmt::format("{} returned {} bytes for a {}-byte READ", peer_label(),
                                     header.length, s.length));
  }
  PayloadSink sink{PayloadSink::Kind::kMemory, s.local};
  if (s.want_crc) {
    // The loop thread extends it as the payload lands; the entry stays in inflight_ (and so
    // in place) until OnFrame or OnClose, both on this thread. A retried slice starts afresh.
    s.crc = 0;
    s.crc_ready = false;
    sink.crc = &s.crc;
  }
  return sink;
}

void InitiatorChannel::OnFrame(const FrameHeader& header, std::string&& control) {
  Slice s;
  {
    std::lock_guard lock(mutex_);
    auto it = inflight_.find(header.request_id);
    if (it == inflight_.end()) return;  // OnHeader checked; cannot happen
    s = std::move(it->second);
    inflight_.erase(it);
  }
  inflight_bytes_.fetch_sub(s.length, std::memory_order_relaxed);
  if (header.status == 0) {
    // A READ's whole payload landed through the sink, which checksummed it (want_crc).
    s.crc_ready = s.want_crc;
    ReportSliceSucceeded(s);
    return;
  }
  s.task->SliceFailed(Status(static_cast<StatusCode>(header.status),
                             fmt::format("segment {} refused {} of 0x{:x}+{}: {}", peer_label(),
                                         OpName(s.opcode), s.remote_address, s.length, control)));
}

void InitiatorChannel::OnTick(std::chrono::steady_clock::time_point now) {
  bool waiting;
  {
    std::lock_guard lock(mutex_);
    waiting = !inflight_.empty();
  }
  if (waiting && now - last_progress() > timeout_) {
    Close(Status(StatusCode::kRpcTimeout,
                 fmt::format("no data from {} for {} ms", peer_label(), timeout_.count())));
  }
}

void InitiatorChannel::OnClose(const Status& reason) {
  std::vector<Slice> lost;
  {
    std::lock_guard lock(mutex_);
    lost.reserve(inflight_.size());
    for (auto& [id, s] : inflight_) lost.push_back(std::move(s));
    inflight_.clear();
  }
  inflight_bytes_.store(0, std::memory_order_relaxed);
  if (!lost.empty()) on_lost_(this, std::move(lost), reason);
}

}  // namespace mooncake::transfer::tcp
