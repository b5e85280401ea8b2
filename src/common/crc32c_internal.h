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

// AVX-512 VPCLMULQDQ folding, 256 bytes per step (crc32c_vpclmul.cc). Precondition:
// VpclmulSupported(); on other CPUs or builds they are the hardware (or software) path.
bool VpclmulSupported();
uint32_t ExtendVpclmul(uint32_t crc, const void* data, size_t n);
// Crc32cCopy's contract: copies and checksums each 64-byte piece from one register.
uint32_t CopyVpclmul(void* dst, const void* src, size_t n, uint32_t crc);

inline constexpr uint32_t kPolyReflected = 0x82F63B78;  // 0x1EDC6F41 bit-reversed

// Polynomials modulo P in the CRC's reflected order: bit 31 is x^0, bit 0 is x^31 (zlib's
// multmodp). Feeding n zero bytes to the raw register multiplies it by x^(8n), and so does
// Crc32cCombine to crc_a: the inversions cancel (see crc32c.h).
inline constexpr uint32_t kOne = uint32_t{1} << 31;  // x^0

// a * b modulo P: one step per coefficient of a, from x^0 up to its highest one. Branch-free
// steps (masks, not ifs): a's bits are random, and mispredicted branches tripled the cost.
constexpr uint32_t MultiplyModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (; a != 0; a <<= 1) {
    product ^= b & (0u - (a >> 31));                   // + b when a has this power of x
    b = (b >> 1) ^ (kPolyReflected & (0u - (b & 1)));  // b *= x
  }
  return product;
}

// x^k modulo P, by square and multiply.
constexpr uint32_t XPowModP(uint64_t k) {
  uint32_t result = kOne;
  uint32_t square = kOne >> 1;  // x^1, then x^2, x^4, ...
  for (; k != 0; k >>= 1, square = MultiplyModP(square, square)) {
    if ((k & 1) != 0) result = MultiplyModP(result, square);
  }
  return result;
}

}  // namespace mooncake::crc32c_internal
