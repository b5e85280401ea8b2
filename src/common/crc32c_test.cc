#include "mooncake/common/crc32c.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "common/crc32c_internal.h"

namespace mooncake {
namespace {

using ExtendFn = uint32_t (*)(uint32_t, const void*, size_t);

// Each implementation runs the same tests; the hardware one is skipped where the CPU lacks it,
// so on an SSE4.2 machine both paths are checked, not only the one Crc32c dispatches to.
struct Implementation {
  const char* name;
  ExtendFn extend;
  bool (*supported)();  // where the CPU can run it
};

bool Always() { return true; }

// Names the implementation in failure messages instead of dumping its bytes.
void PrintTo(const Implementation& impl, std::ostream* os) { *os << impl.name; }

const Implementation kImplementations[] = {
    {"Dispatch", &Crc32cExtend, &Always},
    {"Software", &crc32c_internal::ExtendSoftware, &Always},
    {"Hardware", &crc32c_internal::ExtendHardware, &Crc32cIsHardwareAccelerated},
    {"Vpclmul", &crc32c_internal::ExtendVpclmul, &crc32c_internal::VpclmulSupported},
    // Crc32cCopy's checksum, into a scratch buffer (its copy is checked below).
    {"CopyVpclmul",
     [](uint32_t crc, const void* data, size_t n) {
       std::vector<uint8_t> out(n);
       return crc32c_internal::CopyVpclmul(out.data(), data, n, crc);
     },
     &crc32c_internal::VpclmulSupported},
};

// Bit at a time, straight from the definition: slow, but shares no table or trick with the
// code under test.
uint32_t ReferenceCrc32c(const uint8_t* p, size_t n) {
  uint32_t r = ~uint32_t{0};
  for (size_t i = 0; i < n; ++i) {
    r ^= p[i];
    for (int bit = 0; bit < 8; ++bit) r = (r >> 1) ^ ((r & 1) != 0 ? 0x82F63B78u : 0u);
  }
  return ~r;
}

std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> bytes(n);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

class Crc32cTest : public ::testing::TestWithParam<Implementation> {
 protected:
  void SetUp() override {
    if (!GetParam().supported()) GTEST_SKIP() << "this CPU cannot run " << GetParam().name;
  }

  uint32_t Crc(const void* data, size_t n) const { return GetParam().extend(0, data, n); }
  uint32_t Crc(const std::vector<uint8_t>& bytes) const { return Crc(bytes.data(), bytes.size()); }
};

TEST_P(Crc32cTest, EmptyInputIsZero) {
  EXPECT_EQ(Crc(nullptr, 0), 0u);
  EXPECT_EQ(GetParam().extend(0x12345678, nullptr, 0), 0x12345678u);
}

TEST_P(Crc32cTest, CheckValue) {
  const std::string check = "123456789";
  EXPECT_EQ(Crc(check.data(), check.size()), 0xE3069283u);
}

TEST_P(Crc32cTest, AllZerosAndAllOnes) {
  EXPECT_EQ(Crc(std::vector<uint8_t>(32, 0x00)), 0x8A9136AAu);
  EXPECT_EQ(Crc(std::vector<uint8_t>(32, 0xFF)), 0x62A8AB43u);
}

// RFC 3720 (iSCSI), appendix B.4.
TEST_P(Crc32cTest, Rfc3720Vectors) {
  std::vector<uint8_t> ascending(32);
  std::vector<uint8_t> descending(32);
  for (size_t i = 0; i < 32; ++i) {
    ascending[i] = static_cast<uint8_t>(i);
    descending[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(Crc(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc(descending), 0x113FDB5Cu);

  const std::vector<uint8_t> read_command_pdu = {
      0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  EXPECT_EQ(Crc(read_command_pdu), 0xD9963A56u);
}

TEST_P(Crc32cTest, MatchesBitwiseReferenceAtEveryLengthAndAlignment) {
  const std::vector<uint8_t> bytes = RandomBytes(1024 + 8, 1);
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n = 0; n <= 1024; ++n) {
      ASSERT_EQ(Crc(bytes.data() + offset, n), ReferenceCrc32c(bytes.data() + offset, n))
          << "offset " << offset << " length " << n;
    }
  }
}

// Lengths on each side of the hardware path's interleaving thresholds (groups of 3 x 80,
// 3 x 1360 and 3 x 21840 bytes), one that runs every tier and leaves a ragged tail, and large
// odd ones.
TEST_P(Crc32cTest, MatchesBitwiseReferenceOnLargeBuffers) {
  const size_t kMiB = size_t{1} << 20;
  const std::vector<uint8_t> bytes = RandomBytes(kMiB + 4096 + 8, 2);
  for (size_t n : {size_t{239}, size_t{240}, size_t{241}, size_t{4079}, size_t{4080}, size_t{4081},
                   size_t{65519}, size_t{65520}, size_t{65521}, size_t{2 * 65520 + 4080 + 240 + 13},
                   kMiB + 1, kMiB + 4093}) {
    for (size_t offset : {0, 3}) {
      ASSERT_EQ(Crc(bytes.data() + offset, n), ReferenceCrc32c(bytes.data() + offset, n))
          << "offset " << offset << " length " << n;
    }
  }
}

TEST_P(Crc32cTest, ExtendComposesAtEverySplit) {
  const std::vector<uint8_t> bytes = RandomBytes(2000, 3);
  const uint32_t whole = Crc(bytes);
  for (size_t split = 0; split <= bytes.size(); ++split) {
    const uint32_t head = Crc(bytes.data(), split);
    ASSERT_EQ(GetParam().extend(head, bytes.data() + split, bytes.size() - split), whole)
        << "split " << split;
  }
}

TEST_P(Crc32cTest, ExtendComposesAcrossManyPieces) {
  const std::vector<uint8_t> bytes = RandomBytes(200000, 4);
  std::mt19937_64 rng(5);
  uint32_t crc = 0;
  for (size_t pos = 0; pos < bytes.size();) {
    const size_t piece = std::min<size_t>(rng() % 30000, bytes.size() - pos);
    crc = GetParam().extend(crc, bytes.data() + pos, piece);
    pos += piece;
  }
  EXPECT_EQ(crc, Crc(bytes));
}

TEST_P(Crc32cTest, DetectsASingleFlippedBit) {
  std::vector<uint8_t> bytes = RandomBytes(4096, 6);
  const uint32_t before = Crc(bytes);
  bytes[1234] ^= 0x10;
  EXPECT_NE(Crc(bytes), before);
}

INSTANTIATE_TEST_SUITE_P(AllPaths, Crc32cTest, ::testing::ValuesIn(kImplementations),
                         [](const auto& info) { return std::string(info.param.name); });

// The fast paths are compared with each other over far more inputs than the bitwise reference
// could check in reasonable time.
TEST(Crc32cPathsTest, HardwareAndSoftwareAgreeAtEveryLengthUpTo4KiBAndEveryAlignment) {
  if (!Crc32cIsHardwareAccelerated()) GTEST_SKIP() << "CPU has no SSE4.2 crc32 instruction";
  const std::vector<uint8_t> bytes = RandomBytes(4096 + 8, 7);
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n = 0; n <= 4096; ++n) {
      const uint8_t* p = bytes.data() + offset;
      ASSERT_EQ(crc32c_internal::ExtendHardware(0, p, n), crc32c_internal::ExtendSoftware(0, p, n))
          << "offset " << offset << " length " << n;
    }
  }
}

TEST(Crc32cPathsTest, VpclmulAndSoftwareAgreeAtEveryLengthUpTo4KiBAndEveryAlignment) {
  if (!crc32c_internal::VpclmulSupported()) GTEST_SKIP() << "CPU has no AVX-512 VPCLMULQDQ";
  const std::vector<uint8_t> bytes = RandomBytes(4096 + 64, 20);
  std::vector<uint8_t> out(4096 + 64);
  for (size_t offset = 0; offset < 64; offset += 7) {
    for (size_t n = 0; n <= 4096; ++n) {
      const uint8_t* p = bytes.data() + offset;
      const uint32_t expected = crc32c_internal::ExtendSoftware(0x1234u, p, n);
      ASSERT_EQ(crc32c_internal::ExtendVpclmul(0x1234u, p, n), expected)
          << "offset " << offset << " length " << n;
      ASSERT_EQ(crc32c_internal::CopyVpclmul(out.data() + (offset % 5), p, n, 0x1234u), expected)
          << "copy, offset " << offset << " length " << n;
    }
  }
}

TEST(Crc32cPathsTest, HardwareAndSoftwareAgreeOnLargeBuffersFromAnyStartingCrc) {
  if (!Crc32cIsHardwareAccelerated()) GTEST_SKIP() << "CPU has no SSE4.2 crc32 instruction";
  const size_t kMiB = size_t{1} << 20;
  const std::vector<uint8_t> bytes = RandomBytes(4 * kMiB + 64 + 8, 8);
  std::mt19937_64 rng(9);
  for (size_t n : {kMiB + 1, kMiB + 777, 2 * kMiB + 3, 4 * kMiB + 63}) {
    const size_t offset = rng() % 8;
    const uint32_t start = static_cast<uint32_t>(rng());
    const uint8_t* p = bytes.data() + offset;
    ASSERT_EQ(crc32c_internal::ExtendHardware(start, p, n),
              crc32c_internal::ExtendSoftware(start, p, n))
        << "offset " << offset << " length " << n;
  }
}

using CopyFn = uint32_t (*)(void*, const void*, size_t, uint32_t);

// Crc32cCopy as dispatched, and the fused AVX-512 loop where the CPU has it; lengths around
// its step (16 KiB), its 256-byte groups, 64-byte registers and 16-byte blocks.
TEST(Crc32cCopyTest, CopiesEveryByteAndExtendsTheChecksumAtStepBoundariesAndAround) {
  const size_t kStep = size_t{16} << 10;
  const std::vector<uint8_t> bytes = RandomBytes(3 * kStep + 64, 11);
  std::vector<CopyFn> copies = {&Crc32cCopy};
  if (crc32c_internal::VpclmulSupported()) copies.push_back(&crc32c_internal::CopyVpclmul);
  for (CopyFn copy : copies) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{255}, size_t{256}, size_t{257},
                     size_t{256 + 64 + 16 + 5}, size_t{511}, size_t{512}, size_t{4095}, kStep - 1,
                     kStep, kStep + 1, 2 * kStep + 13, 3 * kStep + 64}) {
      for (uint32_t start : {0u, 0xdeadbeefu}) {
        std::vector<uint8_t> out(n + 2, 0xa5);
        const uint32_t crc = copy(out.data() + 1, bytes.data(), n, start);
        EXPECT_EQ(crc, Crc32cExtend(start, bytes.data(), n)) << "length " << n;
        EXPECT_TRUE(std::equal(bytes.begin(), bytes.begin() + n, out.begin() + 1))
            << "length " << n;
        EXPECT_EQ(out.front(), 0xa5) << "wrote before the destination, length " << n;
        EXPECT_EQ(out.back(), 0xa5) << "wrote past the destination, length " << n;
      }
    }
  }
}

TEST(Crc32cCombineTest, MatchesDirectComputationAtEverySplit) {
  const std::vector<uint8_t> bytes = RandomBytes(600, 12);
  const uint32_t whole = Crc32c(bytes.data(), bytes.size());
  for (size_t split = 0; split <= bytes.size(); ++split) {
    const uint32_t a = Crc32c(bytes.data(), split);
    const uint32_t b = Crc32c(bytes.data() + split, bytes.size() - split);
    ASSERT_EQ(Crc32cCombine(a, b, bytes.size() - split), whole) << "split " << split;
  }
}

TEST(Crc32cCombineTest, MatchesDirectComputationAtRandomSplitsOfLargeBuffers) {
  const std::vector<uint8_t> bytes = RandomBytes((size_t{4} << 20) + 123, 13);
  std::mt19937_64 rng(14);
  for (int i = 0; i < 50; ++i) {
    const size_t begin = rng() % bytes.size();
    const size_t split = begin + rng() % (bytes.size() - begin + 1);
    const size_t end = split + rng() % (bytes.size() - split + 1);
    const uint32_t a = Crc32c(bytes.data() + begin, split - begin);
    const uint32_t b = Crc32c(bytes.data() + split, end - split);
    ASSERT_EQ(Crc32cCombine(a, b, end - split), Crc32c(bytes.data() + begin, end - begin))
        << begin << " " << split << " " << end;
  }
}

TEST(Crc32cCombineTest, EmptyPiecesChangeNothing) {
  const std::vector<uint8_t> bytes = RandomBytes(100, 15);
  const uint32_t crc = Crc32c(bytes.data(), bytes.size());
  EXPECT_EQ(Crc32cCombine(crc, 0, 0), crc);             // B empty: Crc32c(B) == 0
  EXPECT_EQ(Crc32cCombine(0, crc, bytes.size()), crc);  // A empty
  EXPECT_EQ(Crc32cCombine(0, 0, 0), 0u);
}

TEST(Crc32cCombineTest, OneByte) {
  for (int x = 0; x < 256; ++x) {
    for (int y : {0, 1, 0x5a, 255}) {
      const uint8_t both[2] = {static_cast<uint8_t>(x), static_cast<uint8_t>(y)};
      ASSERT_EQ(Crc32cCombine(Crc32c(both, 1), Crc32c(both + 1, 1), 1), Crc32c(both, 2))
          << x << " " << y;
    }
  }
}

// The identity the engine's per-slice accumulation rests on: with the standard inversions no
// correction is needed; each piece's CRC is shifted by the bytes after it and all are xored.
TEST(Crc32cCombineTest, XorOfShiftedPiecesIsTheWholeInAnyOrder) {
  const std::vector<uint8_t> bytes = RandomBytes(300000, 16);
  std::mt19937_64 rng(17);
  for (int round = 0; round < 20; ++round) {
    std::vector<size_t> cuts = {0, bytes.size()};
    for (int i = 0, n = static_cast<int>(rng() % 12); i < n; ++i) {
      cuts.push_back(rng() % (bytes.size() + 1));  // duplicates: empty pieces
    }
    std::sort(cuts.begin(), cuts.end());
    std::vector<size_t> order(cuts.size() - 1);
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    uint32_t acc = 0;
    for (size_t i : order) {
      const uint32_t piece = Crc32c(bytes.data() + cuts[i], cuts[i + 1] - cuts[i]);
      acc ^= Crc32cCombine(piece, 0, bytes.size() - cuts[i + 1]);
    }
    ASSERT_EQ(acc, Crc32c(bytes.data(), bytes.size())) << "round " << round;
  }
}

// Combining with the CRC of n zero bytes appends zeros: a different thing from the shift.
TEST(Crc32cCombineTest, CombiningWithZeroBytesAppendsThem) {
  std::vector<uint8_t> bytes = RandomBytes(1000, 18);
  const uint32_t a = Crc32c(bytes.data(), bytes.size());
  const std::vector<uint8_t> zeros(777, 0);
  const uint32_t z = Crc32c(zeros.data(), zeros.size());
  bytes.insert(bytes.end(), zeros.begin(), zeros.end());
  EXPECT_EQ(Crc32cCombine(a, z, zeros.size()), Crc32c(bytes.data(), bytes.size()));
  EXPECT_NE(Crc32cCombine(a, 0, zeros.size()), Crc32cCombine(a, z, zeros.size()));
}

// Lengths no buffer could hold: only consistency can be checked. The CRC of 2^k zero bytes is
// built by doubling and checked directly where it can be; combining is associative.
TEST(Crc32cCombineTest, HugeLengthsAreConsistent) {
  std::vector<uint32_t> zeros_crc = {Crc32c("\0", 1)};  // [k]: Crc32c of 2^k zero bytes
  for (uint64_t k = 1; k <= 50; ++k) {
    const uint64_t half = uint64_t{1} << (k - 1);
    zeros_crc.push_back(Crc32cCombine(zeros_crc[k - 1], zeros_crc[k - 1], half));
  }
  const std::vector<uint8_t> direct(size_t{1} << 22, 0);
  for (size_t k = 0; k <= 22; ++k) {
    ASSERT_EQ(zeros_crc[k], Crc32c(direct.data(), size_t{1} << k)) << "2^" << k << " zeros";
  }
  std::mt19937_64 rng(19);
  for (int i = 0; i < 1000; ++i) {
    const auto a = static_cast<uint32_t>(rng());
    const auto b = static_cast<uint32_t>(rng());
    const auto c = static_cast<uint32_t>(rng());
    const uint64_t len_b = rng() >> (1 + rng() % 63);  // all magnitudes, sum below 2^64
    const uint64_t len_c = rng() >> (1 + rng() % 63);
    ASSERT_EQ(Crc32cCombine(Crc32cCombine(a, b, len_b), c, len_c),
              Crc32cCombine(a, Crc32cCombine(b, c, len_c), len_b + len_c))
        << len_b << " " << len_c;
  }
  // 2^40 + 2^40 zero bytes by two routes.
  EXPECT_EQ(Crc32cCombine(zeros_crc[40], zeros_crc[40], uint64_t{1} << 40), zeros_crc[41]);
  const uint64_t len = (uint64_t{1} << 40) + 12345;
  EXPECT_EQ(Crc32cCombine(Crc32cCombine(zeros_crc[3], 0, len), 0, uint64_t{1} << 40),
            Crc32cCombine(zeros_crc[3], 0, len + (uint64_t{1} << 40)));
}

TEST(Crc32cPathsTest, AcceleratedExactlyWhenTheCpuHasSse42) {
#if defined(__x86_64__)
  EXPECT_EQ(Crc32cIsHardwareAccelerated(), __builtin_cpu_supports("sse4.2") != 0);
#else
  EXPECT_FALSE(Crc32cIsHardwareAccelerated());
#endif
}

}  // namespace
}  // namespace mooncake
