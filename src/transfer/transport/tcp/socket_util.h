#pragma once

// Thin, timeout-bounded helpers over BSD sockets for the TCP transport.

#include <chrono>
#include <cstddef>
#include <string>

#include "common/host_port.h"
#include "mooncake/common/status.h"

namespace mooncake::transfer::tcp {

using Deadline = std::chrono::steady_clock::time_point;

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Listens on host:port (port 0 = any free port) with SO_REUSEADDR; non-blocking.
Result<UniqueFd> Listen(const HostPort& address);
// The port a bound socket actually has.
Result<uint16_t> LocalPort(int fd);
// Non-blocking connect bounded by `deadline`; returns a connected blocking socket with
// TCP_NODELAY set. A non-empty `bind_host` pins the local address, and so the NIC, the
// connection leaves from. Errors name the address and the cause.
Result<UniqueFd> ConnectWithDeadline(const HostPort& address, Deadline deadline,
                                     const std::string& bind_host = "");
// Blocking full send/receive bounded by `deadline` (poll-based).
Status SendAll(int fd, const void* data, size_t length, Deadline deadline);
Status RecvAll(int fd, void* data, size_t length, Deadline deadline);
Status SetNonBlocking(int fd);
// Larger kernel buffers keep the pipe full for multi-MiB slices.
void TuneSocket(int fd);

}  // namespace mooncake::transfer::tcp
