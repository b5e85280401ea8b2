#include "transfer/transport/tcp/connection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mooncake::transfer::tcp {
namespace {

using ::testing::HasSubstr;

// A Connection that only records how it was closed.
class RecordingConnection : public Connection {
 public:
  using Connection::Connection;

  bool closed_callback_ran() const { return close_count_.load() > 0; }
  int close_count() const { return close_count_.load(); }
  Status close_reason() {
    std::lock_guard lock(mutex_);
    return reason_;
  }

 protected:
  Result<PayloadSink> OnHeader(const FrameHeader&) override {
    return PayloadSink{PayloadSink::Kind::kDiscard};
  }
  void OnFrame(const FrameHeader&, std::string&&) override {}
  void OnClose(const Status& reason) override {
    {
      std::lock_guard lock(mutex_);
      reason_ = reason;
    }
    close_count_.fetch_add(1);
  }

 private:
  std::atomic<int> close_count_{0};
  std::mutex mutex_;
  Status reason_;
};

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    peer_fd_ = fds[1];
    loop_ = EventLoop::Create(std::chrono::milliseconds(10)).value();
    connection_ = std::make_shared<RecordingConnection>(UniqueFd(fds[0]), loop_.get(), "test-peer");
    ASSERT_TRUE(connection_->Attach().ok());
  }

  void TearDown() override {
    if (peer_fd_ >= 0) close(peer_fd_);
    if (!connection_->closed_callback_ran()) {
      // The loop thread may be wedged: joining it would hang the whole test binary.
      (void)loop_.release();
    }
  }

  // Waits (10 s bound) for OnClose; false on timeout.
  bool WaitForClose() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!connection_->closed_callback_ran()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  int peer_fd_ = -1;
  std::unique_ptr<EventLoop> loop_;
  std::shared_ptr<RecordingConnection> connection_;
};

TEST_F(ConnectionTest, PeerClosingIsReportedOnce) {
  close(peer_fd_);
  peer_fd_ = -1;
  ASSERT_TRUE(WaitForClose());
  EXPECT_TRUE(connection_->closed());
  EXPECT_EQ(connection_->close_reason().code(), StatusCode::kTransferFail);
  EXPECT_THAT(connection_->close_reason().message(), HasSubstr("test-peer"));
  connection_->Close(TransferFail("again"));  // a second close is a no-op
  loop_.reset();                              // runs anything still posted
  EXPECT_EQ(connection_->close_count(), 1);
}

TEST_F(ConnectionTest, SendFailingOnTheLoopThreadClosesTheConnection) {
  // Queue far more than the socket buffer holds, so the rest is written from the loop thread
  // when the socket turns writable; then the peer goes away and that write fails.
  FrameHeader header;
  header.type = FrameType::kHelloAck;
  std::vector<OutFrame> frames;
  frames.push_back(MakeControlFrame(header, std::string(4 << 20, 'x')));
  connection_->Send(std::move(frames));
  ASSERT_FALSE(connection_->closed());
  close(peer_fd_);
  peer_fd_ = -1;

  ASSERT_TRUE(WaitForClose()) << "OnClose never ran: the loop thread is stuck";
  EXPECT_EQ(connection_->close_reason().code(), StatusCode::kTransferFail);
  EXPECT_THAT(connection_->close_reason().message(), HasSubstr("test-peer"));
}

TEST_F(ConnectionTest, SendAfterCloseIsDropped) {
  connection_->Close(TransferFail("closed by test"));
  ASSERT_TRUE(WaitForClose());
  EXPECT_EQ(connection_->close_reason().message(), "closed by test");
  FrameHeader header;
  header.type = FrameType::kHelloAck;
  std::vector<OutFrame> frames;
  frames.push_back(MakeControlFrame(header, "late"));
  connection_->Send(std::move(frames));  // must neither crash nor reach the peer
  char byte;
  EXPECT_EQ(recv(peer_fd_, &byte, 1, MSG_DONTWAIT), 0) << "peer sees end of stream, no data";
}

}  // namespace
}  // namespace mooncake::transfer::tcp
