// CRC-32C by carry-less multiplication (AVX-512 VPCLMULQDQ), and a copy fused with it.
//
// The crc32 instruction does 8 bytes per cycle at best (about 33 GB/s at 4 GHz), so a memcpy
// followed by a checksum costs about as much again as the copy. Folding with carry-less
// products goes several times faster, and done in the copy's own loop it checks each 64-byte
// piece from the register the copy loaded it into: the checksum then hides behind the copy's
// memory traffic.
//
// Folding (Intel, "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ"), in the
// reflected order of this CRC: a 16-byte block X at the current end of the message stands for
// the polynomial X(x) (byte 0, bit 0 is its x^127 coefficient). Moving it D bits further
// multiplies it by x^D; splitting X = Xlo * x^64 + Xhi, that is
//   Xlo * x^(64+D) + Xhi * x^D  ==  clmul(Xlo, x^(63+D) mod P) + clmul(Xhi, x^(D-1) mod P)
// modulo P, the "-1" because a reflected 64x64 product comes out one bit short of 128. The
// sum fits in 128 bits and is xored into the block D bits on. At the end the last block's
// polynomial is congruent to the message's, so the crc32 instruction over its 16 bytes from a
// zero register gives the CRC register. The initial register is xored into the first 4 bytes.

#include <cstring>

#include "common/crc32c_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mooncake::crc32c_internal {

#if defined(__x86_64__)
namespace {

// A constant x^k mod P as the 64-bit reflected operand of a carry-less product: its x^d
// coefficient at bit 63 - d (our 32-bit form has it at 31 - d).
constexpr uint64_t Operand(uint64_t k) { return uint64_t{XPowModP(k)} << 32; }

// Fold constants for D bits: low lane multiplies Xlo, high lane Xhi.
struct Fold {
  uint64_t lo;
  uint64_t hi;
};
constexpr Fold FoldBy(uint64_t bits) { return {Operand(63 + bits), Operand(bits - 1)}; }

constexpr Fold kFold128 = FoldBy(128);    // one 16-byte block on
constexpr Fold kFold512 = FoldBy(512);    // one 64-byte register on
constexpr Fold kFold2048 = FoldBy(2048);  // four 64-byte registers on (the main loop)

// Below this the crc32 instruction's three streams are as fast.
constexpr size_t kMinBytes = 256;

#define MC_VPCLMUL_TARGET __attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.2")))

MC_VPCLMUL_TARGET inline __m512i Fold512(__m512i x, __m512i k, __m512i next) {
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                   _mm512_clmulepi64_epi128(x, k, 0x11), next, 0x96);
}

MC_VPCLMUL_TARGET inline __m128i Fold128(__m128i x, __m128i k, __m128i next) {
  return _mm_xor_si128(
      _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

MC_VPCLMUL_TARGET inline __m512i Broadcast(Fold f) {
  const auto lo = static_cast<int64_t>(f.lo);
  const auto hi = static_cast<int64_t>(f.hi);
  return _mm512_set_epi64(hi, lo, hi, lo, hi, lo, hi, lo);
}

// Loads a 64-byte piece and, when copying, stores it to `out` as loaded.
template <bool kCopy>
MC_VPCLMUL_TARGET inline __m512i Take(const uint8_t* in, uint8_t* out) {
  const __m512i v = _mm512_loadu_si512(in);
  if constexpr (kCopy) _mm512_storeu_si512(out, v);
  return v;
}

// The whole computation; n >= kMinBytes. With kCopy every byte read is also written to `out`.
template <bool kCopy>
MC_VPCLMUL_TARGET uint32_t Run(uint32_t crc, const uint8_t* in, uint8_t* out, size_t n) {
  __m512i a0 = Take<kCopy>(in, out);
  __m512i a1 = Take<kCopy>(in + 64, out + 64);
  __m512i a2 = Take<kCopy>(in + 128, out + 128);
  __m512i a3 = Take<kCopy>(in + 192, out + 192);
  a0 = _mm512_xor_si512(a0, _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(~crc))));
  size_t done = 256;
  const __m512i k2048 = Broadcast(kFold2048);
  for (; n - done >= 256; done += 256) {
    a0 = Fold512(a0, k2048, Take<kCopy>(in + done, out + done));
    a1 = Fold512(a1, k2048, Take<kCopy>(in + done + 64, out + done + 64));
    a2 = Fold512(a2, k2048, Take<kCopy>(in + done + 128, out + done + 128));
    a3 = Fold512(a3, k2048, Take<kCopy>(in + done + 192, out + done + 192));
  }
  const __m512i k512 = Broadcast(kFold512);
  a1 = Fold512(a0, k512, a1);
  a2 = Fold512(a1, k512, a2);
  a3 = Fold512(a2, k512, a3);
  // Four 16-byte lanes, first to last, into one block.
  const __m128i k128 =
      _mm_set_epi64x(static_cast<int64_t>(kFold128.hi), static_cast<int64_t>(kFold128.lo));
  alignas(64) __m128i lanes[4];
  _mm512_store_si512(lanes, a3);
  __m128i x = lanes[0];
  for (int i = 1; i < 4; ++i) x = Fold128(x, k128, lanes[i]);
  for (; n - done >= 16; done += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + done));
    if constexpr (kCopy) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + done), v);
    x = Fold128(x, k128, v);
  }
  uint64_t r = _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(x)));
  r = _mm_crc32_u64(r, static_cast<uint64_t>(_mm_extract_epi64(x, 1)));
  if constexpr (kCopy) std::memcpy(out + done, in + done, n - done);
  for (; done < n; ++done) r = _mm_crc32_u8(static_cast<uint32_t>(r), in[done]);
  return ~static_cast<uint32_t>(r);
}

}  // namespace

bool VpclmulSupported() {
  static const bool kSupported = [] {
    __builtin_cpu_init();
    // libgcc reports AVX-512 only where the OS saves its registers (XCR0).
    return __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("vpclmulqdq") != 0 &&
           __builtin_cpu_supports("pclmul") != 0 && __builtin_cpu_supports("sse4.2") != 0;
  }();
  return kSupported;
}

uint32_t ExtendVpclmul(uint32_t crc, const void* data, size_t n) {
  if (n < kMinBytes) return ExtendHardware(crc, data, n);
  return Run<false>(crc, static_cast<const uint8_t*>(data), nullptr, n);
}

uint32_t CopyVpclmul(void* dst, const void* src, size_t n, uint32_t crc) {
  if (n < kMinBytes) {
    if (n != 0) std::memcpy(dst, src, n);  // either may be null when n is 0
    return ExtendHardware(crc, dst, n);
  }
  return Run<true>(crc, static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), n);
}

#else  // !defined(__x86_64__)

bool VpclmulSupported() { return false; }

uint32_t ExtendVpclmul(uint32_t crc, const void* data, size_t n) {
  return ExtendHardware(crc, data, n);
}

uint32_t CopyVpclmul(void* dst, const void* src, size_t n, uint32_t crc) {
  if (n != 0) std::memcpy(dst, src, n);
  return ExtendHardware(crc, dst, n);
}

#endif

}  // namespace mooncake::crc32c_internal
