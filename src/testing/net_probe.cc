#include "testing/net_probe.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace mooncake::testing {

// The local addresses of the TCP sockets listening on `port`, from /proc/net/tcp and
// /proc/net/tcp6 of this network namespace: "127.0.0.1", or "*" for every interface (0.0.0.0,
// or gRPC's dual-stack [::]). gRPC binds IPv4 addresses as IPv4-mapped IPv6 ([::ffff:127.0.0.1]);
// they are listed as the IPv4 address.
std::set<std::string> ListeningAddresses(uint16_t port) {
  std::set<std::string> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const size_t colon = local.find(':');
      if (state != "0A" || colon == std::string::npos) continue;  // 0A: LISTEN
      if (std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
      const std::string hex = local.substr(0, colon);
      char text[INET6_ADDRSTRLEN] = {};
      // The kernel prints each 32-bit word of the address as a native-endian integer.
      if (hex.size() == 8) {
        in_addr v4{};
        v4.s_addr = static_cast<uint32_t>(std::stoul(hex, nullptr, 16));
        inet_ntop(AF_INET, &v4, text, sizeof(text));
      } else if (hex.size() == 32) {
        in6_addr v6{};
        for (int w = 0; w < 4; ++w) {
          const auto word = static_cast<uint32_t>(std::stoul(hex.substr(8 * w, 8), nullptr, 16));
          std::memcpy(&v6.s6_addr[4 * w], &word, 4);
        }
        inet_ntop(AF_INET6, &v6, text, sizeof(text));
      }
      std::string address = text;
      if (address.rfind("::ffff:", 0) == 0 && address.find('.') != std::string::npos) {
        address = address.substr(7);
      }
      out.insert(address == "0.0.0.0" || address == "::" ? "*" : address);
    }
  }
  return out;
}

// An IPv4 address of this host that is not loopback (e.g. what `hostname -I` prints first);
// none on a host with loopback only.
std::optional<std::string> NonLoopbackAddress() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof(text));
    found = text;
  }
  freeifaddrs(list);
  return found;
}

// Whether a TCP connect to address:port succeeds.
bool TcpConnects(const std::string& address, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &to.sin_addr);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0;
  close(fd);
  return ok;
}

}  // namespace mooncake::testing
