#include "common/auth/open_bind.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "common/host_port.h"
#include "common/logging.h"

namespace mooncake::auth {
namespace {

bool IsLoopbackAddress(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    const in6_addr& v6 = reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

// The host part of "host", "host:port", "[v6]" or "[v6]:port"; a bare IPv6 literal as is.
std::string HostOf(const std::string& address) {
  auto parsed = ParseHostPort(address, PortRequirement::kOptional);
  return parsed.ok() ? parsed->host : address;
}

}  // namespace

std::string DefaultListenHost(const ClusterSecret* secret) {
  return secret == nullptr ? "127.0.0.1" : "0.0.0.0";
}

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return false;
  if (host == "localhost") return true;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(std::string(host).c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return false;
  }
  bool loopback = true;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    loopback = loopback && IsLoopbackAddress(a->ai_addr);
  }
  freeaddrinfo(found);
  return loopback;
}

std::string OpenClusterWarning(std::string_view server, const std::vector<std::string>& exposed) {
  std::string list;
  for (const std::string& address : exposed) list += (list.empty() ? "" : ", ") + address;
  return std::string(server) + " listens on " + list +
         " without a cluster secret: the cluster is open to anyone who can reach " +
         (exposed.size() == 1 ? "that address" : "those addresses") +
         " (they may read, write and remove every object). Give every process the same "
         "--auth_secret_file (or $MC_AUTH_SECRET_FILE), or listen on 127.0.0.1 only";
}

std::vector<std::string> WarnIfOpen(std::string_view server,
                                    const std::vector<std::string>& addresses,
                                    const ClusterSecret* secret) {
  std::vector<std::string> exposed;
  if (secret != nullptr) return exposed;
  for (const std::string& address : addresses) {
    if (!IsLoopbackHost(HostOf(address))) exposed.push_back(address);
  }
  if (!exposed.empty()) MC_LOG_WARN("{}", OpenClusterWarning(server, exposed));
  return exposed;
}

}  // namespace mooncake::auth
