#include "transfer/transport/tcp/connection.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/logging.h"
#include "mooncake/common/crc32c.h"

namespace mooncake::transfer::tcp {
namespace {

constexpr size_t kStagingSize = 256 << 10;
// Payload left to receive above which we read straight into the destination.
constexpr uint64_t kDirectReadThreshold = 16 << 10;
constexpr int kMaxIov = 256;
// A peer that sends requests faster than it reads replies stops being read past this.
constexpr size_t kMaxQueuedBytes = 256u << 20;
// Bounded work per readiness event keeps one busy connection from starving the others.
constexpr int kMaxReadsPerEvent = 32;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

OutFrame MakeFrame(const FrameHeader& header, const char* data) {
  OutFrame f;
  EncodeHeader(header, f.header.data());
  f.data = data;
  f.length = data == nullptr ? 0 : header.length;
  return f;
}

OutFrame MakeControlFrame(FrameHeader header, std::string payload) {
  header.length = payload.size();
  OutFrame f;
  EncodeHeader(header, f.header.data());
  f.owned = std::move(payload);
  return f;
}

Connection::Connection(UniqueFd fd, EventLoop* loop, std::string peer_label)
    : fd_(std::move(fd)),
      loop_(loop),
      peer_label_(std::move(peer_label)),
      last_progress_ns_(NowNs()),
      staging_(kStagingSize) {}

Connection::~Connection() = default;

Status Connection::Attach() {
  MC_RETURN_IF_ERROR(SetNonBlocking(fd_.get()));
  std::lock_guard lock(write_mutex_);
  interest_ = EPOLLIN;
  return loop_->Add(shared_from_this(), interest_);
}

std::chrono::steady_clock::time_point Connection::last_progress() const {
  return std::chrono::steady_clock::time_point(
      std::chrono::nanoseconds(last_progress_ns_.load(std::memory_order_relaxed)));
}

void Connection::NoteProgress() { last_progress_ns_.store(NowNs(), std::memory_order_relaxed); }

void Connection::Send(std::vector<OutFrame>&& frames) {
  std::lock_guard lock(write_mutex_);
  if (closed()) return;
  for (auto& f : frames) {
    queued_bytes_ += kFrameHeaderSize + f.PayloadLength();
    queue_.push_back(std::move(f));
  }
  FlushLocked();
}

void Connection::FlushLocked() {
  while (!queue_.empty() && !closed()) {
    iovec iov[kMaxIov];
    int count = 0;
    size_t skip = front_sent_;
    for (auto it = queue_.begin(); it != queue_.end() && count + 2 <= kMaxIov; ++it) {
      const char* parts[2] = {reinterpret_cast<const char*>(it->header.data()), it->Payload()};
      size_t sizes[2] = {kFrameHeaderSize, it->PayloadLength()};
      for (int p = 0; p < 2; ++p) {
        if (skip >= sizes[p]) {
          skip -= sizes[p];
          continue;
        }
        iov[count++] = {const_cast<char*>(parts[p]) + skip, sizes[p] - skip};
        skip = 0;
      }
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t n = sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // Cannot close here: write_mutex_ is held, and CloseNow takes it. Always hand the close
      // to the loop, even on the loop thread itself (Close() would run CloseNow inline there
      // and self-deadlock: an EPOLLOUT flush, a reply, or a retry onto a sibling channel).
      loop_->Post([self = shared_from_this(),
                   reason = TransferFail(
                       fmt::format("send to {} failed: {}", peer_label_, std::strerror(errno)))] {
        self->CloseNow(reason);
      });
      return;
    }
    size_t left = static_cast<size_t>(n);
    queued_bytes_ -= left;
    while (left > 0) {
      size_t frame_left = kFrameHeaderSize + queue_.front().PayloadLength() - front_sent_;
      if (left >= frame_left) {
        left -= frame_left;
        front_sent_ = 0;
        queue_.pop_front();
      } else {
        front_sent_ += left;
        left = 0;
      }
    }
  }
  UpdateInterestLocked();
}

void Connection::UpdateInterestLocked() {
  if (closed()) return;
  if (reading_paused_ && queued_bytes_ < kMaxQueuedBytes / 2) reading_paused_ = false;
  uint32_t want =
      (reading_paused_ ? 0u : uint32_t{EPOLLIN}) | (queue_.empty() ? 0u : uint32_t{EPOLLOUT});
  if (want != interest_) {
    interest_ = want;
    loop_->Modify(this, want).IgnoreError();  // fails only once the fd is gone
  }
}

void Connection::Close(Status reason) {
  if (closed()) return;
  if (loop_->InLoopThread()) {
    CloseNow(reason);
    return;
  }
  loop_->Post([self = shared_from_this(), reason = std::move(reason)] { self->CloseNow(reason); });
}

void Connection::OnLoopStopped() { CloseNow(TransferFail("transfer engine is shutting down")); }

void Connection::CloseNow(const Status& reason) {
  {
    std::lock_guard lock(write_mutex_);
    if (closed()) return;
    closed_.store(true, std::memory_order_release);
    queue_.clear();
    queued_bytes_ = 0;
  }
  MC_LOG_DEBUG("connection to {} closed: {}", peer_label_, reason.ToString());
  auto self = shared_from_this();  // Remove may drop the loop's reference
  loop_->Remove(this);
  shutdown(fd_.get(), SHUT_RDWR);
  OnClose(reason);
}

void Connection::OnEvents(uint32_t events) {
  if (events & EPOLLOUT) {
    std::lock_guard lock(write_mutex_);
    FlushLocked();
  }
  if (closed()) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) HandleReadable();
}

void Connection::HandleReadable() {
  for (int round = 0; round < kMaxReadsPerEvent && !closed(); ++round) {
    ssize_t n;
    const bool direct = read_state_ == ReadState::kPayload &&
                        sink_.kind == PayloadSink::Kind::kMemory && read_pos_ == write_pos_ &&
                        current_.PayloadBytes() - payload_done_ >= kDirectReadThreshold;
    if (direct) {
      n = recv(fd_.get(), sink_.dest + payload_done_, current_.PayloadBytes() - payload_done_,
               MSG_DONTWAIT);
    } else {
      if (read_pos_ == write_pos_) read_pos_ = write_pos_ = 0;
      if (write_pos_ == staging_.size()) {  // compact the partial frame to the front
        std::memmove(staging_.data(), staging_.data() + read_pos_, write_pos_ - read_pos_);
        write_pos_ -= read_pos_;
        read_pos_ = 0;
      }
      n = recv(fd_.get(), staging_.data() + write_pos_, staging_.size() - write_pos_, MSG_DONTWAIT);
    }
    if (n == 0) {
      CloseNow(TransferFail(fmt::format("connection closed by {}", peer_label_)));
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      CloseNow(TransferFail(
          fmt::format("receive from {} failed: {}", peer_label_, std::strerror(errno))));
      return;
    }
    NoteProgress();
    if (direct) {
      if (sink_.crc != nullptr) {
        *sink_.crc = Crc32cExtend(*sink_.crc, sink_.dest + payload_done_, static_cast<size_t>(n));
      }
      payload_done_ += static_cast<uint64_t>(n);
    } else {
      write_pos_ += static_cast<size_t>(n);
    }
    if (!ProcessBuffered()) return;
  }
  OnReadBatchDone();
  std::lock_guard lock(write_mutex_);
  if (queued_bytes_ > kMaxQueuedBytes) reading_paused_ = true;
  UpdateInterestLocked();
}

bool Connection::ProcessBuffered() {
  while (!closed()) {
    if (read_state_ == ReadState::kHeader) {
      if (write_pos_ - read_pos_ < kFrameHeaderSize) return true;
      auto header = DecodeHeader(staging_.data() + read_pos_);
      if (!header.ok()) {
        Status why =
            header.status().WithContext(fmt::format("malformed frame from {}", peer_label_));
        MC_LOG_WARN("{}", why.ToString());
        OnBadStream(why);
        CloseNow(why);
        return false;
      }
      read_pos_ += kFrameHeaderSize;
      current_ = *header;
      auto sink = OnHeader(current_);
      if (!sink.ok()) {
        // A subclass that closed the connection itself has already said why (and rate-limits
        // what strangers can make it log).
        if (!closed()) {
          MC_LOG_WARN("dropping connection to {}: {}", peer_label_, sink.status().ToString());
        }
        CloseNow(sink.status());
        return false;
      }
      sink_ = *sink;
      payload_done_ = 0;
      control_.clear();
      read_state_ = ReadState::kPayload;
    }
    const uint64_t total = current_.PayloadBytes();
    const size_t available = write_pos_ - read_pos_;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(available, total - payload_done_));
    if (take > 0) {
      const uint8_t* src = staging_.data() + read_pos_;
      if (sink_.kind == PayloadSink::Kind::kMemory && sink_.crc != nullptr) {
        *sink_.crc = Crc32cCopy(sink_.dest + payload_done_, src, take, *sink_.crc);
      } else if (sink_.kind == PayloadSink::Kind::kMemory) {
        std::memcpy(sink_.dest + payload_done_, src, take);
      } else if (sink_.kind == PayloadSink::Kind::kControl) {
        control_.append(reinterpret_cast<const char*>(src), take);
      }
      read_pos_ += take;
      payload_done_ += take;
    }
    if (payload_done_ < total) return true;
    read_state_ = ReadState::kHeader;
    OnFrame(current_, std::move(control_));
    control_.clear();
  }
  return false;
}

}  // namespace mooncake::transfer::tcp
