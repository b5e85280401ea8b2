// TcpTransport as a server: what it accepts and for how long.

#include "transfer/transport/tcp/tcp_transport.h"

#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "transfer/transport/tcp/socket_util.h"

namespace mooncake::tcp {
namespace {

std::unique_ptr<TcpTransport> StartServer(const MemoryRegistry* registry,
                                          std::chrono::milliseconds hello_timeout) {
  TcpTransportOptions options;
  options.listen = HostPort{"127.0.0.1", 0};
  options.io_threads = 1;
  options.hello_timeout = hello_timeout;
  return TcpTransport::Create(
             options, registry, [] { return std::string("{}"); },
             [](const SegmentDescriptor&) {})
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
  auto server = TcpTransport::Create(options, &registry, [] { return std::string("{}"); },
                                     [](const SegmentDescriptor&) {});
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
}  // namespace mooncake::tcp
