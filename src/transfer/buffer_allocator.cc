#include "transfer/buffer_allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include <fmt/format.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace mooncake {
namespace {

constexpr size_t kHugePage = 2u << 20;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

void TouchPages(char* begin, size_t length) {
  // MADV_POPULATE_WRITE (Linux 5.14) faults the range in without a user-space loop; fall back
  // to writing one byte per base page on older kernels.
  if (madvise(begin, length, MADV_POPULATE_WRITE) == 0) return;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (size_t off = 0; off < length; off += page) begin[off] = 0;
}

}  // namespace

Result<void*> AllocateHugePageBuffer(size_t length, Prefault prefault) {
  if (length == 0) return InvalidParams("cannot allocate an empty buffer");
  const size_t rounded = RoundUp(length, kHugePage);
  // Over-map by one huge page so the start can be aligned to a huge-page boundary.
  void* raw = mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) {
    return Status(StatusCode::kNoAvailableHandle,
                  fmt::format("mmap of {} bytes failed: {}", length, std::strerror(errno)));
  }
  uintptr_t start = RoundUp(reinterpret_cast<uintptr_t>(raw), kHugePage);
  size_t head = start - reinterpret_cast<uintptr_t>(raw);
  if (head > 0) munmap(raw, head);
  size_t tail = kHugePage - head;
  if (tail > 0) munmap(reinterpret_cast<char*>(start) + rounded, tail);

  char* base = reinterpret_cast<char*>(start);
  madvise(base, rounded, MADV_HUGEPAGE);  // best effort: THP may be disabled
  if (prefault == Prefault::kYes) {
    const size_t threads = std::clamp<size_t>(rounded / (64u << 20), 1,
                                              std::max(1u, std::thread::hardware_concurrency()));
    const size_t chunk = RoundUp((rounded + threads - 1) / threads, kHugePage);
    std::vector<std::thread> workers;
    for (size_t off = 0; off < rounded; off += chunk) {
      workers.emplace_back(TouchPages, base + off, std::min(chunk, rounded - off));
    }
    for (auto& w : workers) w.join();
  }
  return static_cast<void*>(base);
}

void FreeHugePageBuffer(void* address, size_t length) {
  munmap(address, RoundUp(length, kHugePage));
}

}  // namespace mooncake
