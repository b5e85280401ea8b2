#include "testing/free_port.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

namespace mooncake::testing {
namespace {

// Binds and listens on 127.0.0.1:<port>; returns errno, 0 on success.
int TryListen(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return errno;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  int err = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 1) != 0) {
    err = errno;
  }
  ::close(fd);
  return err;
}

TEST(FreePortTest, ReturnedPortCanBeListenedOn) {
  Result<uint16_t> port = PickFreeTcpPort();
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  EXPECT_NE(*port, 0);
  EXPECT_EQ(TryListen(*port), 0) << "port " << *port;
}

TEST(FreePortTest, NeverReturnsTheSamePortTwice) {
  // The kernel picks among a few thousand ports at random, so 500 raw picks repeat some (about
  // 15 in practice); only the remembered window keeps them unique.
  std::set<uint16_t> seen;
  for (int i = 0; i < 500; ++i) {
    Result<uint16_t> port = PickFreeTcpPort();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    EXPECT_TRUE(seen.insert(*port).second) << "port " << *port << " returned twice";
  }
}

}  // namespace
}  // namespace mooncake::testing
