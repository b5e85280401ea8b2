#include "mooncake/common/crc32c.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "common/crc32c_internal.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

// Everything below works on the raw CRC register (no initial or final inversion). There the
// CRC is linear over GF(2), which is what lets independent streams be combined:
//   crc(r, A || B) = Zeros(crc(r, A), |B|) ^ crc(0, B)
// where Zeros(r, k) is the register after feeding it k zero bytes. Zeros(., k) is itself a
// linear map on 32 bits, so for a fixed k it is four 256-entry tables, one per input byte.
//
// All tables are computed at compile time (constexpr) from the polynomial alone: nothing is
// pasted in, nothing runs at startup, and nothing needs a lock.

namespace mooncake {
namespace crc32c_internal {
namespace {

constexpr uint32_t kPoly = kPolyReflected;

using ByteTables4 = std::array<std::array<uint32_t, 256>, 4>;
using ByteTables8 = std::array<std::array<uint32_t, 256>, 8>;

// kSlice[0][b]: the register after the byte b, from 0. kSlice[k][b]: after b then k zero
// bytes, so the eight bytes of a word can be looked up independently and xored.
constexpr ByteTables8 MakeSliceTables() {
  ByteTables8 t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t r = b;
    for (int bit = 0; bit < 8; ++bit) r = (r >> 1) ^ ((r & 1) != 0 ? kPoly : 0);
    t[0][b] = r;
  }
  for (size_t k = 1; k < t.size(); ++k) {
    for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
  return t;
}
constexpr ByteTables8 kSlice = MakeSliceTables();

uint64_t LoadLittleEndian64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));  // any alignment, no aliasing question
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

}  // namespace

uint32_t ExtendSoftware(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t r = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    const uint64_t v = LoadLittleEndian64(p) ^ r;
    r = kSlice[7][v & 0xFF] ^ kSlice[6][(v >> 8) & 0xFF] ^ kSlice[5][(v >> 16) & 0xFF] ^
        kSlice[4][(v >> 24) & 0xFF] ^ kSlice[3][(v >> 32) & 0xFF] ^ kSlice[2][(v >> 40) & 0xFF] ^
        kSlice[1][(v >> 48) & 0xFF] ^ kSlice[0][v >> 56];
  }
  for (; n > 0; --n, ++p) r = (r >> 8) ^ kSlice[0][(r ^ *p) & 0xFF];
  return ~r;
}

namespace {

// kZeroBytes[k][d] = x^(8 * d * 256^k) mod P: the factor of d * 256^k zero bytes. A length
// is then one product per non-zero byte of it (at most 8). 8 KiB, computed at compile time.
using PowerTables = std::array<std::array<uint32_t, 256>, 8>;
constexpr PowerTables MakeZeroBytePowers() {
  PowerTables t{};
  uint32_t unit = kOne >> 8;  // x^8: one zero byte
  for (auto& table : t) {
    table[0] = kOne;
    for (size_t d = 1; d < table.size(); ++d) table[d] = MultiplyModP(table[d - 1], unit);
    unit = MultiplyModP(table[255], unit);  // x^(8 * 256^(k+1))
  }
  return t;
}
constexpr PowerTables kZeroBytes = MakeZeroBytePowers();

}  // namespace

uint32_t ShiftByZeroBytes(uint32_t crc, uint64_t bytes) {
  for (size_t k = 0; bytes != 0; ++k, bytes >>= 8) {
    const auto digit = static_cast<uint8_t>(bytes & 0xFF);
    if (digit != 0) crc = MultiplyModP(kZeroBytes[k][digit], crc);
  }
  return crc;
}

#if defined(__x86_64__)
namespace {

// A linear map on the 32-bit register, stored as the images of its 32 basis bits.
using Operator = std::array<uint32_t, 32>;

constexpr uint32_t Apply(const Operator& op, uint32_t v) {
  uint32_t r = 0;
  for (size_t i = 0; v != 0; ++i, v >>= 1) {
    if ((v & 1) != 0) r ^= op[i];
  }
  return r;
}

constexpr Operator Compose(const Operator& outer, const Operator& inner) {
  Operator r{};
  for (size_t i = 0; i < r.size(); ++i) r[i] = Apply(outer, inner[i]);
  return r;
}

// Zeros(., bytes) by square-and-multiply from the one-zero-bit step r -> (r >> 1) ^ (lsb ?
// kPoly : 0): log2(8 * bytes) 32x32 GF(2) matrix products instead of 8 * bytes steps.
constexpr Operator ZeroBytesOperator(size_t bytes) {
  Operator power{};
  power[0] = kPoly;
  for (size_t i = 1; i < power.size(); ++i) power[i] = uint32_t{1} << (i - 1);
  Operator result{};
  for (size_t i = 0; i < result.size(); ++i) result[i] = uint32_t{1} << i;
  for (size_t bits = bytes * 8; bits != 0; bits >>= 1) {
    if ((bits & 1) != 0) result = Compose(power, result);  // powers of one map commute
    power = Compose(power, power);
  }
  return result;
}

constexpr ByteTables4 MakeShiftTables(size_t bytes) {
  const Operator op = ZeroBytesOperator(bytes);
  ByteTables4 t{};
  for (size_t k = 0; k < t.size(); ++k) {
    for (uint32_t b = 0; b < 256; ++b) t[k][b] = Apply(op, b << (8 * k));
  }
  return t;
}

uint32_t Shift(const ByteTables4& t, uint32_t r) {
  return t[0][r & 0xFF] ^ t[1][(r >> 8) & 0xFF] ^ t[2][(r >> 16) & 0xFF] ^ t[3][r >> 24];
}

// crc32 has a latency of 3 cycles and a throughput of 1 per cycle (Intel since Nehalem, AMD
// since Zen), so one dependent chain runs at a third of the instruction's speed; three
// independent streams over consecutive blocks keep it busy. Each group of three blocks is
// merged into the running CRC with three table shifts (12 lookups), which is negligible next
// to the large blocks and still small next to the small ones. The block sizes make a group
// just under a common buffer size (3 x 21840 = 64 KiB - 16, 3 x 1360 = 4 KiB - 16,
// 3 x 80 = 256 - 16), so such buffers leave at most a few words to the single chain at the
// end; any other length leaves under 240 bytes to it.
constexpr size_t kLargeBlock = 21840;  // bytes per stream
constexpr size_t kPageBlock = 1360;    // bytes per stream
constexpr size_t kSmallBlock = 80;     // bytes per stream
constexpr ByteTables4 kLargeShift = MakeShiftTables(kLargeBlock);
constexpr ByteTables4 kPageShift = MakeShiftTables(kPageBlock);
constexpr ByteTables4 kSmallShift = MakeShiftTables(kSmallBlock);

// Consumes whole groups of three blocks of kBlock bytes from (p, n), updating register r.
template <size_t kBlock>
__attribute__((target("sse4.2"))) void ExtendInterleaved(const ByteTables4& shift, uint32_t& r,
                                                         const uint8_t*& p, size_t& n) {
  static_assert(kBlock % 8 == 0);
  for (; n >= 3 * kBlock; n -= 3 * kBlock, p += 3 * kBlock) {
    // All three streams start from 0 and r is folded in afterwards (crc(r, A) = Zeros(r, |A|) ^
    // crc(0, A)), so the next group's streams need not wait for this group's table shifts.
    uint64_t c0 = 0;
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    for (size_t i = 0; i < kBlock; i += 8) {
      c0 = _mm_crc32_u64(c0, LoadLittleEndian64(p + i));
      c1 = _mm_crc32_u64(c1, LoadLittleEndian64(p + kBlock + i));
      c2 = _mm_crc32_u64(c2, LoadLittleEndian64(p + 2 * kBlock + i));
    }
    // _mm_crc32_u64 leaves the upper 32 bits zero, so the narrowing keeps the whole register.
    r = Shift(shift, r) ^ static_cast<uint32_t>(c0);
    r = Shift(shift, r) ^ static_cast<uint32_t>(c1);
    r = Shift(shift, r) ^ static_cast<uint32_t>(c2);
  }
}

}  // namespace

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const void* data,
                                                          size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t r = ~crc;
  // Aligned 8-byte loads never straddle a cache line.
  for (; n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0; --n, ++p) r = _mm_crc32_u8(r, *p);
  ExtendInterleaved<kLargeBlock>(kLargeShift, r, p, n);
  ExtendInterleaved<kPageBlock>(kPageShift, r, p, n);
  ExtendInterleaved<kSmallBlock>(kSmallShift, r, p, n);
  for (; n >= 8; n -= 8, p += 8) {
    r = static_cast<uint32_t>(_mm_crc32_u64(r, LoadLittleEndian64(p)));
  }
  for (; n > 0; --n, ++p) r = _mm_crc32_u8(r, *p);
  return ~r;
}

#else  // !defined(__x86_64__)

uint32_t ExtendHardware(uint32_t crc, const void* data, size_t n) {
  return ExtendSoftware(crc, data, n);
}

#endif

}  // namespace crc32c_internal

bool Crc32cIsHardwareAccelerated() {
#if defined(__x86_64__)
  // __builtin_cpu_init makes the check valid even when called from another static
  // initializer, before libgcc's own constructor has filled in the CPU model.
  static const bool kHardware = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return kHardware;
#else
  return false;
#endif
}

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n) {
  if (crc32c_internal::VpclmulSupported()) return crc32c_internal::ExtendVpclmul(crc, data, n);
  return Crc32cIsHardwareAccelerated() ? crc32c_internal::ExtendHardware(crc, data, n)
                                       : crc32c_internal::ExtendSoftware(crc, data, n);
}

uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }

uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  return crc32c_internal::ShiftByZeroBytes(crc_a, length_b) ^ crc_b;
}

uint32_t Crc32cCopy(void* dst, const void* src, size_t n, uint32_t crc) {
  // One pass: each 64-byte piece is checksummed from the register it was copied through.
  if (crc32c_internal::VpclmulSupported()) return crc32c_internal::CopyVpclmul(dst, src, n, crc);
  // 16 KiB: a step's destination stays in a 32 KiB L1 data cache while it is checksummed.
  constexpr size_t kStep = size_t{16} << 10;
  auto* out = static_cast<uint8_t*>(dst);
  const auto* in = static_cast<const uint8_t*>(src);
  for (size_t done = 0; done < n; done += kStep) {
    const size_t step = std::min(kStep, n - done);
    std::memcpy(out + done, in + done, step);
    crc = Crc32cExtend(crc, out + done, step);
  }
  return crc;
}

}  // namespace mooncake
