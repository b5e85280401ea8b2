#include "python/local_hostname.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <random>

namespace mooncake::python {
namespace {

// The host without IPv6 brackets, as getaddrinfo wants it.
std::string BareHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::string(host);
}

}  // namespace

bool LacksPort(std::string_view name) {
  if (name.empty()) return true;
  if (name.front() == '[') return name.back() == ']';  // "[v6]" vs "[v6]:port"
  const size_t colons = std::count(name.begin(), name.end(), ':');
  return colons == 0 || colons > 1;  // several colons: a bare IPv6 literal
}

bool PortIsFree(std::string_view host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(BareHost(host).c_str(), service.c_str(), &hints, &found) != 0) return false;
  bool free = found != nullptr;
  for (addrinfo* a = found; a != nullptr && free; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      free = false;
      break;
    }
    // The engine sets SO_REUSEADDR too: a port in TIME_WAIT is usable.
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    free = bind(fd, a->ai_addr, a->ai_addrlen) == 0;
    close(fd);
  }
  freeaddrinfo(found);
  return free;
}

Result<std::string> WithFreePort(std::string_view host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(BareHost(host).c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return InvalidParams("local_hostname '" + std::string(host) + "' does not resolve");
  }
  freeaddrinfo(found);
  constexpr int kPorts = kLastAutoPort - kFirstAutoPort + 1;
  std::random_device seed;
  const int start = static_cast<int>(seed() % kPorts);
  const bool v6 = host.find(':') != std::string_view::npos;
  for (int i = 0; i < kPorts; ++i) {
    const auto port = static_cast<uint16_t>(kFirstAutoPort + (start + i) % kPorts);
    if (PortIsFree(host, port)) {
      const std::string bare = BareHost(host);
      return (v6 ? "[" + bare + "]" : bare) + ":" + std::to_string(port);
    }
  }
  return InvalidParams("no free port in " + std::to_string(kFirstAutoPort) + "-" +
                       std::to_string(kLastAutoPort) + " on '" + std::string(host) + "'");
}

}  // namespace mooncake::python
