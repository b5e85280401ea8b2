#include "apps/latency_anchors/memcpy_wake.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "apps/latency_anchors/thread_pinning.h"

namespace mooncake::bench {
namespace {

constexpr size_t kWarmup = 200;

// Blocks while `word` holds `seen` (spurious wake-ups are rechecked by the caller).
void FutexWait(std::atomic<uint32_t>& word, uint32_t seen) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr,
          0);
}

void FutexWake(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr,
          0);
}

}  // namespace

Result<PingPongResult> RunMemcpyWake(size_t round_trips, size_t bytes, Pinning pinning) {
  const bool pin = pinning == Pinning::kPinned;
  if (bytes == 0) return InvalidParams("memcpy size must be > 0");
  std::vector<char> source(bytes, 's');
  std::vector<char> destination(bytes, '\0');
  // The request counter (bumped by the caller) and the completion counter (bumped by the
  // copier); each side waits for the other's to move.
  std::atomic<uint32_t> requested{0};
  std::atomic<uint32_t> completed{0};
  const size_t total = kWarmup + round_trips;
  std::thread copier([&] {
    if (pin) PinTo(1);
    for (uint32_t i = 1; i <= total; ++i) {
      while (requested.load(std::memory_order_acquire) < i) FutexWait(requested, i - 1);
      std::memcpy(destination.data(), source.data(), bytes);
      completed.store(i, std::memory_order_release);
      FutexWake(completed);
    }
  });
  if (pin) PinTo(0);
  std::vector<double> samples;
  samples.reserve(round_trips);
  for (uint32_t i = 1; i <= total; ++i) {
    const auto start = std::chrono::steady_clock::now();
    requested.store(i, std::memory_order_release);
    FutexWake(requested);
    while (completed.load(std::memory_order_acquire) < i) FutexWait(completed, i - 1);
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    if (i > kWarmup) samples.push_back(us);
  }
  copier.join();
  if (pin) {
    UnpinAll();
  }
  PingPongResult result;
  result.p50_us = Quantile(samples, 0.50);
  result.p99_us = Quantile(samples, 0.99);
  return result;
}

}  // namespace mooncake::bench
