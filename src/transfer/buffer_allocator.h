#pragma once

// Engine-owned buffers: anonymous memory aligned to 2 MiB, backed by transparent huge pages
// where the kernel allows (madvise mode), and prefaulted in parallel so that no page fault
// happens on the transfer path.

#include <cstddef>

#include "mooncake/common/status.h"

namespace mooncake {

enum class Prefault { kNo, kYes };

// Returns memory of at least `length` bytes; release with FreeHugePageBuffer(ptr, length).
Result<void*> AllocateHugePageBuffer(size_t length, Prefault prefault);
void FreeHugePageBuffer(void* address, size_t length);

}  // namespace mooncake
