#pragma once

// CRC-32C (Castagnoli): polynomial 0x1EDC6F41 (0x82F63B78 reflected), initial value ~0, final
// xor ~0 — the checksum of iSCSI, ext4 and SCTP. Crc32c("123456789") == 0xE3069283.
//
// Uses carry-less multiplication (AVX-512 VPCLMULQDQ) where the CPU has it, else the SSE4.2
// crc32 instruction, else a portable slicing-by-8 table (checked once, at run time); all give
// the same values. All functions are pure and may be called from any thread.

#include <cstddef>
#include <cstdint>

namespace mooncake {

// Returns the CRC-32C of the n bytes at data. data may be null when n is 0.
uint32_t Crc32c(const void* data, size_t n);

// Returns the CRC-32C of A followed by the n bytes at data, given crc == Crc32c(A); so a
// checksum can be computed over pieces: Crc32cExtend(Crc32c(a), b) == Crc32c(a + b), and
// Crc32cExtend(0, b) == Crc32c(b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

// Copies n bytes from src to dst (which must not overlap) and returns
// Crc32cExtend(crc, src, n). With VPCLMULQDQ each 64-byte piece is checksummed from the register
// the copy moved it through (about the speed of memcpy on data in DRAM); otherwise the copy and
// the checksum go in cache-sized steps, so each byte is checked while it is still in L1.
uint32_t Crc32cCopy(void* dst, const void* src, size_t n, uint32_t crc);

// Returns Crc32c(A followed by B) given crc_a == Crc32c(A), crc_b == Crc32c(B) and
// length_b == |B| (zlib's crc32_combine for CRC-32C). At most eight 32-step GF(2) products,
// whatever the length: well under a microsecond.
//
// With the standard initial and final inversion the result is exactly
// Shift(crc_a, length_b) ^ crc_b, where Shift(c, n) == Crc32cCombine(c, 0, n) multiplies c by
// x^(8n) modulo the polynomial. So the CRC of pieces S1..Sn laid end to end is the xor over i of
// Crc32cCombine(Crc32c(Si), 0, bytes after Si), in any order. (Crc32cCombine(c, Crc32c(n zero
// bytes), n) is the CRC of A followed by n zero bytes: not the same thing.)
uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);

// True when Crc32c uses the CPU's instructions (crc32; carry-less products where it has them)
// rather than the software table.
bool Crc32cIsHardwareAccelerated();

}  // namespace mooncake
