#include "transfer/buffer_allocator.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace mooncake::transfer {
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

// Touches [base, base + length) with up to one thread per 64 MiB.
void PrefaultParallel(char* base, size_t length) {
  const size_t threads = std::clamp<size_t>(length / (64u << 20), 1,
                                            std::max(1u, std::thread::hardware_concurrency()));
  const size_t chunk = RoundUp((length + threads - 1) / threads, kHugePage);
  std::vector<std::thread> workers;
  for (size_t off = 0; off < length; off += chunk) {
    workers.emplace_back(TouchPages, base + off, std::min(chunk, length - off));
  }
  for (auto& w : workers) w.join();
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
  if (prefault == Prefault::kYes) PrefaultParallel(base, rounded);
  return static_cast<void*>(base);
}

void FreeHugePageBuffer(void* address, size_t length) {
  munmap(address, RoundUp(length, kHugePage));
}

Result<SharedBuffer> AllocateSharedBuffer(size_t length, Prefault prefault) {
  if (length == 0) return InvalidParams("cannot allocate an empty buffer");
  const size_t rounded = RoundUp(length, kHugePage);
  int fd = memfd_create("mooncake-te-buffer", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    return Status(StatusCode::kNoAvailableHandle,
                  fmt::format("memfd_create failed: {}", std::strerror(errno)));
  }
  auto fail = [&](const char* what) {
    Status s(StatusCode::kNoAvailableHandle, fmt::format("{} of a {}-byte shared buffer failed: {}",
                                                         what, rounded, std::strerror(errno)));
    close(fd);
    return s;
  };
  if (ftruncate(fd, static_cast<off_t>(rounded)) != 0) return fail("ftruncate");
  // Peers receive this fd: sealed, none of them can shrink the file under another's mapping.
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return fail("sealing");
  }
  void* base = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return fail("mmap");
  madvise(base, rounded, MADV_HUGEPAGE);  // best effort: shmem THP is often disabled
  if (prefault == Prefault::kYes) PrefaultParallel(static_cast<char*>(base), rounded);
  return SharedBuffer{base, rounded, fd};
}

void FreeSharedBuffer(const SharedBuffer& buffer) {
  if (buffer.address != nullptr) munmap(buffer.address, buffer.length);
  if (buffer.fd >= 0) close(buffer.fd);
}

}  // namespace mooncake::transfer
