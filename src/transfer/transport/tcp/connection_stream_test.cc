// Tests of the framed connection's byte handling: gathered writes that the kernel accepts
// only in part, payloads landing straight in their destination, and malformed streams.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>

#include "transfer/transport/tcp/connection.h"

namespace mooncake::transfer::tcp {
namespace {

// Receives frames: data frames land at `memory + address`, control frames are recorded.
class RecordingConnection : public Connection {
 public:
  RecordingConnection(UniqueFd fd, EventLoop* loop, char* memory)
      : Connection(std::move(fd), loop, "test peer"), memory_(memory) {}

  struct Seen {
    FrameHeader header;
    std::string control;
  };

  std::vector<Seen> WaitForFrames(size_t n) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return frames_.size() >= n || closed_; });
    return frames_;
  }
  Status WaitForClose() {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return closed_; });
    return close_reason_;
  }
  bool saw_close() {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 protected:
  Result<PayloadSink> OnHeader(const FrameHeader& h) override {
    if (h.type == FrameType::kWriteRequest) {
      return PayloadSink{PayloadSink::Kind::kMemory, memory_ + h.address};
    }
    return PayloadSink{PayloadSink::Kind::kControl};
  }
  void OnFrame(const FrameHeader& h, std::string&& control) override {
    std::lock_guard lock(mutex_);
    frames_.push_back({h, std::move(control)});
    cv_.notify_all();
  }
  void OnClose(const Status& reason) override {
    std::lock_guard lock(mutex_);
    closed_ = true;
    close_reason_ = reason;
    cv_.notify_all();
  }

 private:
  char* memory_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Seen> frames_;
  bool closed_ = false;
  Status close_reason_;
};

TEST(ConnectionStreamTest, GatheredFramesSurvivePartialWritesInOrderAndIntact) {
  auto loop = EventLoop::Create(std::chrono::milliseconds(50)).value();
  std::vector<char> source(8 << 20), dest(8 << 20, 0);
  std::mt19937_64 rng(7);
  for (auto& c : source) c = static_cast<char>(rng());
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  // A tiny socket buffer forces sendmsg to stop mid-frame, mid-header and mid-payload.
  int small = 4096;
  setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  auto sender = std::make_shared<RecordingConnection>(UniqueFd(fds[0]), loop.get(), nullptr);
  auto receiver = std::make_shared<RecordingConnection>(UniqueFd(fds[1]), loop.get(), dest.data());
  ASSERT_TRUE(sender->Attach().ok());
  ASSERT_TRUE(receiver->Attach().ok());

  std::vector<OutFrame> frames;
  uint64_t offset = 0;
  for (int i = 0; i < 300; ++i) {
    FrameHeader h;
    h.request_id = i;
    if (i % 7 == 0) {
      h.type = FrameType::kHello;
      frames.push_back(MakeControlFrame(h, "control-" + std::to_string(i)));
      continue;
    }
    h.type = FrameType::kWriteRequest;
    h.address = offset;
    h.length = 1 + rng() % (i % 5 == 0 ? 200000 : 3000);  // small and large (direct-read) frames
    frames.push_back(MakeFrame(h, source.data() + offset));
    offset += h.length;
  }
  ASSERT_LT(offset, source.size());
  sender->Send(std::move(frames));

  auto seen = receiver->WaitForFrames(300);
  ASSERT_EQ(seen.size(), 300u);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(seen[i].header.request_id, static_cast<uint64_t>(i));
    if (i % 7 == 0) {
      EXPECT_EQ(seen[i].control, "control-" + std::to_string(i));
    }
  }
  EXPECT_EQ(std::memcmp(source.data(), dest.data(), offset), 0);
  EXPECT_FALSE(receiver->saw_close());
}

TEST(ConnectionStreamTest, GarbageClosesTheConnectionWithAReason) {
  auto loop = EventLoop::Create(std::chrono::milliseconds(50)).value();
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  auto conn = std::make_shared<RecordingConnection>(UniqueFd(fds[0]), loop.get(), nullptr);
  ASSERT_TRUE(conn->Attach().ok());
  char garbage[64];
  std::memset(garbage, 0xAB, sizeof(garbage));
  ASSERT_EQ(write(fds[1], garbage, sizeof(garbage)), 64);
  Status reason = conn->WaitForClose();
  EXPECT_FALSE(reason.ok());
  EXPECT_NE(reason.message().find("malformed frame"), std::string::npos) << reason.ToString();
  char byte;
  EXPECT_EQ(read(fds[1], &byte, 1), 0);  // the peer sees the close
  close(fds[1]);
}

}  // namespace
}  // namespace mooncake::transfer::tcp
