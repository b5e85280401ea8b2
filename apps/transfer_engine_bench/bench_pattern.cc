#include "bench_pattern.h"

#include <cstring>

namespace mooncake::bench {
namespace {

// Byte `i` of the pattern stream at absolute offset `abs`.
char PatternByte(uint64_t seed, uint64_t abs) {
  uint64_t word = PatternWord(seed, abs & ~7ull);
  return static_cast<char>(word >> (8 * (abs & 7)));
}

}  // namespace

void FillPattern(char* base, size_t length, uint64_t seed, uint64_t base_offset) {
  size_t i = 0;
  for (; i < length && ((base_offset + i) & 7) != 0; ++i) base[i] = PatternByte(seed, base_offset + i);
  for (; i + 8 <= length; i += 8) {
    uint64_t w = PatternWord(seed, base_offset + i);
    std::memcpy(base + i, &w, 8);
  }
  for (; i < length; ++i) base[i] = PatternByte(seed, base_offset + i);
}

int64_t FirstMismatch(const char* data, size_t length, uint64_t seed, uint64_t base_offset) {
  for (size_t i = 0; i < length; ++i) {
    if (data[i] != PatternByte(seed, base_offset + i)) return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace mooncake::bench
