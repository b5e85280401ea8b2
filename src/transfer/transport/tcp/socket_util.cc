#include "transfer/transport/tcp/socket_util.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mooncake::transfer::tcp {
namespace {

int RemainingMs(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

struct AddrInfoDeleter {
  void operator()(addrinfo* p) const { freeaddrinfo(p); }
};

Result<std::unique_ptr<addrinfo, AddrInfoDeleter>> Resolve(const HostPort& address, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* result = nullptr;
  std::string port = std::to_string(address.port);
  int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    return InvalidParams(fmt::format("cannot resolve '{}': {}", address.host, gai_strerror(rc)));
  }
  return std::unique_ptr<addrinfo, AddrInfoDeleter>(result);
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

Result<UniqueFd> Listen(const HostPort& address) {
  MC_ASSIGN_OR_RETURN(auto info, Resolve(address, true));
  std::string last_error = "no address";
  for (addrinfo* ai = info.get(); ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd.get(), 1024) != 0) {
      last_error = std::strerror(errno);
      continue;
    }
    return fd;
  }
  return Status(StatusCode::kInvalidParams,
                fmt::format("cannot listen on {}: {}", address.ToString(), last_error));
}

Result<uint16_t> LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return InternalError(fmt::format("getsockname failed: {}", std::strerror(errno)));
  }
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

void TuneSocket(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

Result<UniqueFd> ConnectWithDeadline(const HostPort& address, Deadline deadline,
                                     const std::string& bind_host) {
  MC_ASSIGN_OR_RETURN(auto info, Resolve(address, false));
  std::unique_ptr<addrinfo, AddrInfoDeleter> local;
  if (!bind_host.empty()) {
    MC_ASSIGN_OR_RETURN(local, Resolve(HostPort{bind_host, 0}, true));
  }
  std::string last_error = "no address";
  for (addrinfo* ai = info.get(); ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) {
      last_error = std::strerror(errno);
      continue;
    }
    if (local && bind(fd.get(), local->ai_addr, local->ai_addrlen) != 0) {
      last_error = fmt::format("bind to {}: {}", bind_host, std::strerror(errno));
      continue;
    }
    int rc = connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno != EINPROGRESS) {
      last_error = std::strerror(errno);
      continue;
    }
    if (rc != 0) {
      pollfd p{fd.get(), POLLOUT, 0};
      int n = poll(&p, 1, RemainingMs(deadline));
      if (n == 0) {
        last_error = "connect timed out";
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (n < 0 || err != 0) {
        last_error = std::strerror(n < 0 ? errno : err);
        continue;
      }
    }
    int flags = fcntl(fd.get(), F_GETFL);
    fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    TuneSocket(fd.get());
    return fd;
  }
  return Status(StatusCode::kTransferFail,
                fmt::format("cannot connect to {}{}: {}", address.ToString(),
                            bind_host.empty() ? "" : " from " + bind_host, last_error));
}

Status SendAll(int fd, const void* data, size_t length, Deadline deadline) {
  const char* p = static_cast<const char*>(data);
  while (length > 0) {
    pollfd pfd{fd, POLLOUT, 0};
    int n = poll(&pfd, 1, RemainingMs(deadline));
    if (n == 0) return Status(StatusCode::kRpcTimeout, "send timed out");
    if (n < 0 && errno == EINTR) continue;
    ssize_t sent = send(fd, p, length, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return TransferFail(fmt::format("send failed: {}", std::strerror(errno)));
    }
    p += sent;
    length -= static_cast<size_t>(sent);
  }
  return Status::Ok();
}

Status RecvAll(int fd, void* data, size_t length, Deadline deadline) {
  char* p = static_cast<char*>(data);
  while (length > 0) {
    pollfd pfd{fd, POLLIN, 0};
    int n = poll(&pfd, 1, RemainingMs(deadline));
    if (n == 0) return Status(StatusCode::kRpcTimeout, "receive timed out");
    if (n < 0 && errno == EINTR) continue;
    ssize_t got = recv(fd, p, length, MSG_DONTWAIT);
    if (got == 0) return TransferFail("connection closed by peer");
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return TransferFail(fmt::format("receive failed: {}", std::strerror(errno)));
    }
    p += got;
    length -= static_cast<size_t>(got);
  }
  return Status::Ok();
}

Status SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return InternalError(fmt::format("fcntl(O_NONBLOCK) failed: {}", std::strerror(errno)));
  }
  return Status::Ok();
}

}  // namespace mooncake::transfer::tcp
