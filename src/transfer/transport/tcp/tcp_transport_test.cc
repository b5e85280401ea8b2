// TcpTransport as a server: what it accepts and for how long.

#include "transfer/transport/tcp/tcp_transport.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include "transfer/transport/tcp/socket_util.h"

namespace mooncake::transfer::tcp {
namespace {

std::unique_ptr<TcpTransport> StartServer(const MemoryRegistry* registry,
                                          std::chrono::milliseconds hello_timeout) {
  TcpTransportOptions options;
  options.listen = HostPort{"127.0.0.1", 0};
  options.io_threads = 1;
  options.hello_timeout = hello_timeout;
  return TcpTransport::Create(
             options, registry, [] { return std::string("{}"); }, [](const SegmentDescriptor&) {})
      .value();
}

// Milliseconds until the server closes `fd` (recv returns 0 or an error), or -1 after `limit`.
int64_t MillisUntilClosed(int fd, std::chrono::milliseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(limit.count())) <= 0) return -1;
  char byte;
  if (recv(fd, &byte, 1, MSG_DONTWAIT) > 0) return -1;  // data, not a close
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

TEST(TcpTransportTest, ConnectionThatNeverSaysHelloIsDropped) {
  MemoryRegistry registry;
  auto server = StartServer(&registry, std::chrono::milliseconds(300));
  auto fd = ConnectWithDeadline(HostPort{"127.0.0.1", server->port()},
                                std::chrono::steady_clock::now() + std::chrono::seconds(2));
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  int64_t waited = MillisUntilClosed(fd->get(), std::chrono::seconds(5));
  EXPECT_GE(waited, 150);  // not at once: the timeout is what closed it
  EXPECT_GE(waited, 0) << "an idle connection was kept for 5 s";
}

TEST(TcpTransportTest, IdleConnectionIsKeptWithinTheHelloTimeout) {
  MemoryRegistry registry;
  auto server = StartServer(&registry, std::chrono::seconds(30));
  auto fd = ConnectWithDeadline(HostPort{"127.0.0.1", server->port()},
                                std::chrono::steady_clock::now() + std::chrono::seconds(2));
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  EXPECT_EQ(MillisUntilClosed(fd->get(), std::chrono::milliseconds(500)), -1);
}

TEST(TcpTransportTest, EveryNicIsPublishedWithTheSamePort) {
  MemoryRegistry registry;
  TcpTransportOptions options;
  options.listen = HostPort{"127.0.0.1", 0};
  options.nics = {"127.0.0.1", "127.0.0.2"};
  auto server = TcpTransport::Create(
      options, &registry, [] { return std::string("{}"); }, [](const SegmentDescriptor&) {});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto endpoints = (*server)->endpoints();
  ASSERT_EQ(endpoints.size(), 2u);
  EXPECT_EQ(endpoints[0].host, "127.0.0.1");
  EXPECT_EQ(endpoints[1].host, "127.0.0.2");
  EXPECT_EQ(endpoints[0].port, (*server)->port());
  EXPECT_EQ(endpoints[1].port, (*server)->port());
  // The second NIC really listens.
  auto fd = ConnectWithDeadline(HostPort{"127.0.0.2", (*server)->port()},
                                std::chrono::steady_clock::now() + std::chrono::seconds(2));
  EXPECT_TRUE(fd.ok()) << fd.status().ToString();
}

}  // namespace
}  // namespace mooncake::transfer::tcp

namespace mooncake::transfer::tcp {
namespace {

// Sends one frame (header + payload) and reads one reply header + payload, bounded.
Result<std::pair<FrameHeader, std::string>> Exchange(int fd, const FrameHeader& h,
                                                     const std::string& payload) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  EncodedHeader raw = EncodeHeader(h);
  MC_RETURN_IF_ERROR(SendAll(fd, raw.data(), raw.size(), deadline));
  MC_RETURN_IF_ERROR(SendAll(fd, payload.data(), payload.size(), deadline));
  MC_RETURN_IF_ERROR(RecvAll(fd, raw.data(), raw.size(), deadline));
  MC_ASSIGN_OR_RETURN(FrameHeader reply, DecodeHeader(raw.data()));
  std::string body(reply.length, '\0');
  MC_RETURN_IF_ERROR(RecvAll(fd, body.data(), body.size(), deadline));
  return std::make_pair(reply, body);
}

TEST(TcpTransportTest, RequestsTaggedForAnotherIncarnationAreRefused) {
  std::vector<char> memory(4096, 'm');
  MemoryRegistry registry;
  ASSERT_TRUE(
      registry.Register(reinterpret_cast<uint64_t>(memory.data()), memory.size(), "cpu").ok());
  TcpTransportOptions options;
  options.listen = HostPort{"127.0.0.1", 0};
  options.io_threads = 1;
  options.incarnation_tag = IncarnationTag(1234);
  auto server =
      TcpTransport::Create(
          options, &registry, [] { return std::string("{}"); }, [](const SegmentDescriptor&) {})
          .value();
  auto fd = ConnectWithDeadline(HostPort{"127.0.0.1", server->port()},
                                std::chrono::steady_clock::now() + std::chrono::seconds(2));
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  FrameHeader hello;
  hello.type = FrameType::kHello;
  const std::string hello_payload = EncodeHello({auth::RandomNonce(), "test"});
  hello.length = hello_payload.size();
  ASSERT_TRUE(Exchange(fd->get(), hello, hello_payload).ok());

  FrameHeader read;
  read.type = FrameType::kReadRequest;
  read.address = reinterpret_cast<uint64_t>(memory.data());
  read.length = 16;
  read.target_tag = IncarnationTag(999);  // an earlier process on this port
  auto stale = Exchange(fd->get(), read, "");
  ASSERT_TRUE(stale.ok()) << stale.status().ToString();
  EXPECT_EQ(stale->first.status, static_cast<int32_t>(StatusCode::kInvalidParams));
  EXPECT_NE(stale->second.find("earlier incarnation"), std::string::npos) << stale->second;

  read.target_tag = IncarnationTag(1234);
  auto fresh = Exchange(fd->get(), read, "");
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(fresh->first.status, 0);
  EXPECT_EQ(fresh->second, std::string(16, 'm'));

  read.target_tag = 0;  // untagged requests (raw tools) are not checked
  auto untagged = Exchange(fd->get(), read, "");
  ASSERT_TRUE(untagged.ok()) << untagged.status().ToString();
  EXPECT_EQ(untagged->first.status, 0);
}

}  // namespace
}  // namespace mooncake::transfer::tcp
