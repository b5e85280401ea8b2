#include "testing/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_set>

namespace mooncake::testing {
namespace {

// The kernel picks ephemeral ports at random, so a repeat is rare; a few retries suffice.
constexpr int kMaxAttempts = 64;
// How many recent ports stay reserved. Bounded so that a long test binary (or --gtest_repeat)
// cannot exhaust the ephemeral range; far more than any single test starts servers.
constexpr size_t kRemembered = 1024;

Result<uint16_t> BindEphemeralPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return InternalError(std::string("socket() failed: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  Status status;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    status = InternalError(std::string("bind(127.0.0.1:0) failed: ") + std::strerror(errno));
  } else if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    status = InternalError(std::string("getsockname() failed: ") + std::strerror(errno));
  }
  ::close(fd);
  if (!status.ok()) return status;
  return ntohs(addr.sin_port);
}

}  // namespace

Result<uint16_t> PickFreeTcpPort() {
  static std::mutex mu;
  static auto* recent = new std::unordered_set<uint16_t>();
  static auto* order = new std::deque<uint16_t>();  // Oldest first; same ports as `recent`.
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    MC_ASSIGN_OR_RETURN(uint16_t port, BindEphemeralPort());
    std::lock_guard<std::mutex> lock(mu);
    if (!recent->insert(port).second) continue;
    order->push_back(port);
    if (order->size() > kRemembered) {
      recent->erase(order->front());
      order->pop_front();
    }
    return port;
  }
  return InternalError("no fresh free TCP port after " + std::to_string(kMaxAttempts) +
                       " attempts");
}

}  // namespace mooncake::testing
