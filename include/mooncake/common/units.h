#pragma once

// Binary size units, as the size grammar (DESIGN.md §5) defines them: all powers of 1024.

#include <cstdint>

namespace mooncake {

inline constexpr uint64_t kKiB = uint64_t{1} << 10;
inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;
inline constexpr uint64_t kTiB = uint64_t{1} << 40;

}  // namespace mooncake
