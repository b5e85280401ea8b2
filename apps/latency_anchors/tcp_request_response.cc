#include "apps/latency_anchors/tcp_request_response.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "apps/latency_anchors/thread_pinning.h"

namespace mooncake::bench {
namespace {

constexpr size_t kWarmup = 200;

Status Errno(const std::string& what) {
  return Status(StatusCode::kInternalError, "ping-pong: " + what + ": " + std::strerror(errno));
}

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, char* data, size_t n) {
  while (n > 0) {
    const ssize_t r = ::recv(fd, data, n, 0);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return false;
    }
    data += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void NoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

double Quantile(std::vector<double>& samples, double q) {
  if (samples.empty()) return 0;
  const size_t index = std::min(samples.size() - 1, static_cast<size_t>(q * samples.size()));
  std::nth_element(samples.begin(), samples.begin() + index, samples.end());
  return samples[index];
}

Result<PingPongResult> RunTcpRequestResponse(size_t round_trips, size_t request_bytes,
                                             size_t response_bytes, Pinning pinning) {
  const bool pin = pinning == Pinning::kPinned;
  if (request_bytes == 0 || response_bytes == 0) {
    return InvalidParams("request/response sizes must be > 0");
  }
  Fd listener{::socket(AF_INET, SOCK_STREAM, 0)};
  if (listener.fd < 0) return Errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener.fd, 1) != 0 ||
      ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Errno("listen on loopback");
  }
  const size_t total = kWarmup + round_trips;
  std::thread echo([&] {
    if (pin) PinTo(1);
    Fd conn{::accept(listener.fd, nullptr, nullptr)};
    if (conn.fd < 0) return;
    NoDelay(conn.fd);
    std::string request(request_bytes, '\0');
    std::string response(response_bytes, 'r');
    for (size_t i = 0; i < total; ++i) {
      if (!ReadAll(conn.fd, request.data(), request.size()) ||
          !WriteAll(conn.fd, response.data(), response.size())) {
        return;
      }
    }
  });
  if (pin) PinTo(0);
  Fd client{::socket(AF_INET, SOCK_STREAM, 0)};
  Status status;
  std::vector<double> samples;
  if (client.fd < 0 ||
      ::connect(client.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    status = Errno("connect");
  } else {
    NoDelay(client.fd);
    std::string request(request_bytes, 'q');
    std::string response(response_bytes, '\0');
    samples.reserve(round_trips);
    for (size_t i = 0; i < total && status.ok(); ++i) {
      const auto start = std::chrono::steady_clock::now();
      if (!WriteAll(client.fd, request.data(), request.size()) ||
          !ReadAll(client.fd, response.data(), response.size())) {
        status = Errno("round trip");
        break;
      }
      const double us =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count();
      if (i >= kWarmup) samples.push_back(us);
    }
  }
  // Wakes the echo thread wherever it waits: in recv, or in accept if connect failed.
  ::shutdown(client.fd, SHUT_RDWR);
  ::shutdown(listener.fd, SHUT_RDWR);
  echo.join();
  // Unpin the caller again so the benchmark proper may use every CPU.
  if (pin) {
    UnpinAll();
  }
  if (!status.ok()) return status;
  PingPongResult result;
  result.p50_us = Quantile(samples, 0.50);
  result.p99_us = Quantile(samples, 0.99);
  return result;
}

}  // namespace mooncake::bench
