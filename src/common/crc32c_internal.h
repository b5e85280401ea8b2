#pragma once

// The two implementations behind mooncake::Crc32cExtend, exposed so that tests can check each
// one on any machine and compare them. Same contract as Crc32cExtend.

#include <cstddef>
#include <cstdint>

namespace mooncake::crc32c_internal {

// Portable slicing-by-8; runs on every CPU.
uint32_t ExtendSoftware(uint32_t crc, const void* data, size_t n);

// SSE4.2 crc32 instruction, three interleaved streams. Precondition:
// Crc32cIsHardwareAccelerated(); on CPUs without SSE4.2 it would fault (SIGILL). On non-x86
// builds it is the software path.
uint32_t ExtendHardware(uint32_t crc, const void* data, size_t n);

// crc * x^(8 * bytes) modulo the polynomial: Crc32cCombine(crc, 0, bytes).
uint32_t ShiftByZeroBytes(uint32_t crc, uint64_t bytes);

}  // namespace mooncake::crc32c_internal
