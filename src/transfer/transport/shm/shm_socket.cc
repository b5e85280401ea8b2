#include "transfer/transport/shm/shm_socket.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mooncake::transfer::shm {
namespace {

Result<sockaddr_un> AbstractAddress(const std::string& endpoint, socklen_t* length) {
  if (endpoint.size() < 2 || endpoint[0] != '@' || endpoint.size() > kMaxEndpointName) {
    return InvalidParams(
        fmt::format("'{}' is not an abstract socket name ('@...', at most {} "
                    "characters)",
                    endpoint, kMaxEndpointName));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  addr.sun_path[0] = '\0';
  std::memcpy(addr.sun_path + 1, endpoint.data() + 1, endpoint.size() - 1);
  *length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + endpoint.size());
  return addr;
}

// Waits until `socket` is ready for `events`; kRpcTimeout after `timeout`.
Status WaitFor(int socket, short events, std::chrono::milliseconds timeout, const char* what) {
  pollfd p{socket, events, 0};
  for (;;) {
    int n = poll(&p, 1, static_cast<int>(timeout.count()));
    if (n > 0) return Status::Ok();
    if (n == 0) {
      return Status(StatusCode::kRpcTimeout,
                    fmt::format("{} timed out after {} ms", what, timeout.count()));
    }
    if (errno != EINTR)
      return TransferFail(fmt::format("{}: poll: {}", what, std::strerror(errno)));
  }
}

}  // namespace

std::string EndpointName(const std::string& segment, uint64_t incarnation) {
  std::string name = fmt::format("@mooncake-te/{}/{:016x}", segment, incarnation);
  if (name.size() > kMaxEndpointName) name = fmt::format("@mooncake-te/{:016x}", incarnation);
  return name;
}

Result<UniqueFd> ListenAbstract(const std::string& endpoint) {
  socklen_t len = 0;
  MC_ASSIGN_OR_RETURN(sockaddr_un addr, AbstractAddress(endpoint, &len));
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return InternalError(fmt::format("unix socket: {}", std::strerror(errno)));
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd.get(), 128) != 0) {
    return InternalError(
        fmt::format("cannot listen on unix socket {}: {}", endpoint, std::strerror(errno)));
  }
  return fd;
}

Result<UniqueFd> ConnectAbstract(const std::string& endpoint) {
  socklen_t len = 0;
  MC_ASSIGN_OR_RETURN(sockaddr_un addr, AbstractAddress(endpoint, &len));
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return InternalError(fmt::format("unix socket: {}", std::strerror(errno)));
  // A local connect completes or fails at once (a full backlog is EAGAIN on non-blocking
  // sockets only; this one blocks briefly).
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    return Status(err == ECONNREFUSED || err == ENOENT ? StatusCode::kSegmentNotFound
                                                       : StatusCode::kTransferFail,
                  fmt::format("connect to unix socket {}: {}", endpoint, std::strerror(err)));
  }
  return fd;
}

Status SendMessage(int socket, const void* data, size_t length, int fd,
                   std::chrono::milliseconds timeout) {
  iovec iov{const_cast<void*>(data), length};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = sendmsg(socket, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(length)) return Status::Ok();
    if (n >= 0) return TransferFail("short send of a control message");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return TransferFail(fmt::format("send on unix socket: {}", std::strerror(errno)));
    }
    MC_RETURN_IF_ERROR(WaitFor(socket, POLLOUT, timeout, "send on unix socket"));
  }
}

Status ReceiveMessage(int socket, void* data, size_t length, UniqueFd* fd,
                      std::chrono::milliseconds timeout) {
  *fd = UniqueFd();
  // SEQPACKET keeps boundaries: a longer message shows up as MSG_TRUNC.
  iovec iov{data, length};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  for (;;) {
    n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return TransferFail(fmt::format("receive on unix socket: {}", std::strerror(errno)));
    }
    MC_RETURN_IF_ERROR(WaitFor(socket, POLLIN, timeout, "receive on unix socket"));
  }
  // Take ownership of every fd that arrived before judging the message, so none leaks.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (!fd->valid()) {
        *fd = UniqueFd(received);
      } else {
        close(received);  // one fd per message is the protocol; drop extras
      }
    }
  }
  if (n == 0) return TransferFail("unix socket closed by the other end");
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || static_cast<size_t>(n) != length) {
    *fd = UniqueFd();
    return InvalidParams(fmt::format("malformed control message: {} bytes{}, expected {}", n,
                                     (msg.msg_flags & MSG_TRUNC) ? " (truncated)" : "", length));
  }
  return Status::Ok();
}

bool PeerHungUp(int socket) {
  pollfd p{socket, POLLRDHUP, 0};
  int n = poll(&p, 1, 0);
  return n > 0 && (p.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) != 0;
}

}  // namespace mooncake::transfer::shm
