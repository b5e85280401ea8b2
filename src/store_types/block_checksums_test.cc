#include "store_types/block_checksums.h"

#include <gtest/gtest.h>

#include <random>

#include "mooncake/common/crc32c.h"

namespace mooncake {
namespace {

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(n);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

TEST(BlockChecksumsTest, SmallObjectsHaveNoTableAndTheWholeCrcCoversEveryRange) {
  const std::vector<uint8_t> data = RandomBytes(kChecksumBlockSize, 1);
  const ObjectChecksums sums = ComputeObjectChecksums(data.data(), data.size());
  EXPECT_EQ(sums.whole, Crc32c(data.data(), data.size()));
  EXPECT_EQ(sums.blocks, nullptr);
  EXPECT_TRUE(ValidateBlockChecksums(data.size(), sums.whole, nullptr).ok());
  const auto span = CoveringSpan(data.size(), sums.whole, nullptr, 100, 10);
  ASSERT_TRUE(span.has_value());
  EXPECT_EQ(span->begin, 0u);
  EXPECT_EQ(span->end, data.size());
  EXPECT_EQ(span->crc, sums.whole);
}

TEST(BlockChecksumsTest, SpansCombineTheBlocksARangeTouches) {
  const uint64_t size = 5 * kChecksumBlockSize + 1234;  // a short last block
  const std::vector<uint8_t> data = RandomBytes(size, 2);
  const ObjectChecksums sums = ComputeObjectChecksums(data.data(), size);
  ASSERT_NE(sums.blocks, nullptr);
  EXPECT_EQ(sums.blocks->size(), 6u);
  EXPECT_EQ(sums.whole, Crc32c(data.data(), size));
  EXPECT_TRUE(ValidateBlockChecksums(size, sums.whole, sums.blocks).ok());
  struct Case {
    uint64_t offset, length, begin, end;
  };
  const Case cases[] = {
      {0, 1, 0, kChecksumBlockSize},
      {kChecksumBlockSize - 1, 2, 0, 2 * kChecksumBlockSize},
      {kChecksumBlockSize, kChecksumBlockSize, kChecksumBlockSize, 2 * kChecksumBlockSize},
      {3 * kChecksumBlockSize + 7, 2 * kChecksumBlockSize, 3 * kChecksumBlockSize, size},
      {size - 1, 1, 5 * kChecksumBlockSize, size},
      {0, size, 0, size},
  };
  for (const Case& c : cases) {
    const auto span = CoveringSpan(size, sums.whole, sums.blocks, c.offset, c.length);
    ASSERT_TRUE(span.has_value());
    EXPECT_EQ(span->begin, c.begin) << c.offset;
    EXPECT_EQ(span->end, c.end) << c.offset;
    EXPECT_EQ(span->crc, Crc32c(data.data() + c.begin, c.end - c.begin)) << c.offset;
  }
  // Without a table a large object's part cannot be checked.
  EXPECT_FALSE(CoveringSpan(size, sums.whole, nullptr, 10, 10).has_value());
}

TEST(BlockChecksumsTest, TablesThatDoNotDescribeTheObjectAreRefused) {
  const uint64_t size = 3 * kChecksumBlockSize;
  const std::vector<uint8_t> data = RandomBytes(size, 3);
  const ObjectChecksums sums = ComputeObjectChecksums(data.data(), size);
  auto wrong = std::make_shared<std::vector<uint32_t>>(*sums.blocks);
  (*wrong)[1] ^= 1;
  EXPECT_EQ(ValidateBlockChecksums(size, sums.whole, wrong).code(), StatusCode::kInvalidParams);
  auto short_table = std::make_shared<std::vector<uint32_t>>(2, 0);
  EXPECT_EQ(ValidateBlockChecksums(size, sums.whole, short_table).code(),
            StatusCode::kInvalidParams);
  // A table for an object of one block is refused too: it has none.
  auto one = std::make_shared<std::vector<uint32_t>>(1, sums.whole);
  EXPECT_FALSE(ValidateBlockChecksums(100, sums.whole, one).ok());
}

}  // namespace
}  // namespace mooncake
