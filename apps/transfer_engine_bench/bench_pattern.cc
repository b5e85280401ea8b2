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
  for (; i < length && ((base_offset + i) & 7) != 0; ++i)
    base[i] = PatternByte(seed, base_offset + i);
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

int64_t FirstMismatchEither(const char* data, size_t length, uint64_t seed_a, uint64_t seed_b,
                            uint64_t base_offset) {
  for (size_t i = 0; i < length; ++i) {
    uint64_t abs = base_offset + i;
    if (data[i] == PatternByte(seed_a, abs)) continue;
    // The word must then be seed_b's in full (bytes of this word checked so far included).
    uint64_t word_start = abs & ~7ull;
    size_t from = word_start > base_offset ? static_cast<size_t>(word_start - base_offset) : 0;
    for (size_t j = from; j < length && base_offset + j < word_start + 8; ++j) {
      if (data[j] != PatternByte(seed_b, base_offset + j)) return static_cast<int64_t>(j);
    }
    i = static_cast<size_t>(word_start + 7 - base_offset);
  }
  return -1;
}

}  // namespace mooncake::bench
