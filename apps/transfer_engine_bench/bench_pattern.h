#pragma once

// Deterministic buffer contents, so that either side can check data without shipping it:
// the 8-byte word at byte offset `o` of a buffer filled with `seed` is Word(seed, o).

#include <cstddef>
#include <cstdint>

namespace mooncake::bench {

inline uint64_t PatternWord(uint64_t seed, uint64_t offset) {
  uint64_t x = (offset / 8 + 1) * 0x9E3779B97F4A7C15ull ^ seed;
  x ^= x >> 31;
  return x * 0xBF58476D1CE4E5B9ull;
}

// Fills [base, base + length) as a buffer filled with `seed` starting at `base_offset`.
void FillPattern(char* base, size_t length, uint64_t seed, uint64_t base_offset = 0);
// Offset of the first mismatching byte within [data, data + length), or -1.
int64_t FirstMismatch(const char* data, size_t length, uint64_t seed, uint64_t base_offset);
// Like FirstMismatch, but each aligned 8-byte word may hold either seed's pattern: a target
// keeps serving after an initiator wrote its own pattern into parts of it, and both patterns
// depend on the offset, so data from a wrong offset or garbage still fails.
int64_t FirstMismatchEither(const char* data, size_t length, uint64_t seed_a, uint64_t seed_b,
                            uint64_t base_offset);

}  // namespace mooncake::bench
