#include "transfer/transport/tcp/tcp_peer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "transfer/segment_descriptor_codec.h"
#include "transfer/transport/tcp/socket_util.h"
#include "transfer/transport/tcp/wire_format.h"

namespace mooncake::transfer::tcp {
namespace {

constexpr uint64_t kIncarnation = 77;

// A target that only answers HELLO, on one thread, in a scripted way:
//   - it holds back the answers to the first `hold_first` connections until all of them have
//     sent HELLO, so that that many EnsureConnected calls are provably in flight together;
//   - it answers the next ones at once, up to `serve` connections in all;
//   - later connections are closed without an answer (a failed handshake).
// It counts every connection it accepts.
class ScriptedTarget {
 public:
  ScriptedTarget(int hold_first, int serve) : hold_first_(hold_first), serve_(serve) {
    listen_fd_ = Listen(HostPort{"127.0.0.1", 0}).value();
    port_ = LocalPort(listen_fd_.get()).value();
    SetBlocking(listen_fd_.get());
    thread_ = std::thread([this] { Run(); });
  }
  ~ScriptedTarget() {
    shutdown(listen_fd_.get(), SHUT_RDWR);  // wakes the blocked accept()
    thread_.join();
  }

  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  SegmentDescriptor Descriptor() const {
    SegmentDescriptor d;
    d.name = "scripted-target";
    d.protocol_version = kProtocolVersion;
    d.incarnation = kIncarnation;
    d.endpoints = {{"127.0.0.1", port_}};
    return d;
  }

 private:
  static void SetBlocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }

  bool ReadHello(int fd) {
    EncodedHeader raw;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    if (!RecvAll(fd, raw.data(), raw.size(), deadline).ok()) return false;
    auto header = DecodeHeader(raw.data());
    if (!header.ok() || header->type != FrameType::kHello) return false;
    std::string name(header->length, '\0');
    return RecvAll(fd, name.data(), name.size(), deadline).ok();
  }

  void Answer(int fd) {
    std::string payload = EncodeSegmentDescriptor(Descriptor());
    FrameHeader ack;
    ack.type = FrameType::kHelloAck;
    ack.length = payload.size();
    EncodedHeader raw = EncodeHeader(ack);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    SendAll(fd, raw.data(), raw.size(), deadline).IgnoreError();
    SendAll(fd, payload.data(), payload.size(), deadline).IgnoreError();
  }

  void Run() {
    std::vector<int> held;
    while (true) {
      int fd = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) break;
      int n = accepted_.fetch_add(1) + 1;
      if (n > serve_) {
        close(fd);
        continue;
      }
      open_.emplace_back(fd);
      if (!ReadHello(fd)) continue;
      if (n <= hold_first_) {
        held.push_back(fd);
        if (n < hold_first_) continue;
        for (int h : held) Answer(h);
        continue;
      }
      Answer(fd);
    }
  }

  const int hold_first_;
  const int serve_;
  UniqueFd listen_fd_;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::vector<UniqueFd> open_;  // kept open so that channels stay alive
  std::thread thread_;
};

TEST(TcpPeerTest, ConcurrentEnsureConnectedOpensEachConnectionOnce) {
  constexpr int kConnections = 2;
  constexpr int kCallers = 4;
  // A path is connected by one caller at a time; the others wait for it instead of opening
  // their own set, so exactly `connections` get opened however many callers race.
  ScriptedTarget target(/*hold_first=*/0, /*serve=*/100);
  auto loop = EventLoop::Create(std::chrono::milliseconds(10)).value();

  TcpPeerOptions options;
  options.local_name = "tester";
  options.connections = kConnections;
  auto peer = std::make_shared<TcpPeer>(
      target.Descriptor(), options, [&] { return loop.get(); }, [](const SegmentDescriptor&) {});

  std::vector<std::thread> callers;
  std::vector<Status> results(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] { results[i] = peer->EnsureConnected(); });
  }
  for (auto& t : callers) t.join();
  for (const Status& s : results) ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(target.accepted(), kConnections);

  // With every connection live, nothing is missing: no new connection.
  EXPECT_TRUE(peer->EnsureConnected().ok());
  EXPECT_EQ(target.accepted(), kConnections);
  peer->Shutdown();
}

TEST(TcpPeerTest, EnsureConnectedOpensTheConfiguredNumberOnce) {
  ScriptedTarget target(/*hold_first=*/0, /*serve=*/100);
  auto loop = EventLoop::Create(std::chrono::milliseconds(10)).value();
  TcpPeerOptions options;
  options.connections = 3;
  auto peer = std::make_shared<TcpPeer>(
      target.Descriptor(), options, [&] { return loop.get(); }, [](const SegmentDescriptor&) {});
  ASSERT_TRUE(peer->EnsureConnected().ok());
  EXPECT_EQ(target.accepted(), 3);
  ASSERT_TRUE(peer->EnsureConnected().ok());
  EXPECT_EQ(target.accepted(), 3);
  peer->Shutdown();
}

TEST(TcpPeerTest, EnsureConnectedAfterShutdownFailsNamingTheSegment) {
  ScriptedTarget target(/*hold_first=*/0, /*serve=*/100);
  auto loop = EventLoop::Create(std::chrono::milliseconds(10)).value();
  auto peer = std::make_shared<TcpPeer>(
      target.Descriptor(), TcpPeerOptions{}, [&] { return loop.get(); },
      [](const SegmentDescriptor&) {});
  peer->Shutdown();
  Status s = peer->EnsureConnected();
  EXPECT_EQ(s.code(), StatusCode::kTransferFail);
  EXPECT_NE(s.message().find("scripted-target"), std::string::npos) << s.message();
  EXPECT_EQ(target.accepted(), 0);
}

}  // namespace
}  // namespace mooncake::transfer::tcp
