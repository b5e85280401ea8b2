#pragma once

// Engine-owned buffers, aligned to 2 MiB and prefaulted in parallel so that no page fault
// happens on the transfer path. Two kinds:
//  - private: anonymous memory backed by transparent huge pages where the kernel allows
//    (madvise mode); for engines that never share memory with same-host peers.
//  - shared: a memfd mapped MAP_SHARED, sealed against shrinking and growing, whose fd the
//    shm transport passes to same-host peers. Shmem huge pages are usually off, so its
//    prefault costs more than the private kind.

#include <cstddef>

#include "mooncake/common/status.h"

namespace mooncake::transfer {

enum class Prefault { kNo, kYes };

// Returns memory of at least `length` bytes; release with FreeHugePageBuffer(ptr, length).
Result<void*> AllocateHugePageBuffer(size_t length, Prefault prefault);
void FreeHugePageBuffer(void* address, size_t length);

struct SharedBuffer {
  void* address = nullptr;
  size_t length = 0;  // mapped and file length: the requested length rounded up to 2 MiB
  int fd = -1;        // the memfd, owned by the caller (FreeSharedBuffer closes it)
};

// A sealed memfd of at least `length` bytes, mapped read-write and shared.
Result<SharedBuffer> AllocateSharedBuffer(size_t length, Prefault prefault);
// Unmaps and closes; peers that mapped the fd keep their (still valid) mappings.
void FreeSharedBuffer(const SharedBuffer& buffer);

}  // namespace mooncake::transfer
