#include "transfer/slice.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace mooncake::transfer {
namespace {

constexpr uint64_t kSliceSize = 64 << 10;

struct Cut {
  std::vector<Slice> slices;
  size_t returned = 0;
};

class SliceRequestTest : public ::testing::Test {
 protected:
  Cut CutRequest(TransferOpcode opcode, uint64_t length) {
    TransferRequest r;
    r.opcode = opcode;
    r.source = source_;
    r.target_id = 7;
    r.target_offset = kRemoteBase;
    r.length = length;
    Cut cut;
    cut.returned = SliceRequest(r, kSliceSize, batch_, &batch_->task(0), &cut.slices);
    return cut;
  }

  // Slices must tile [0, length) in order with no gap or overlap, none larger than a slice.
  void ExpectContiguousCover(const Cut& cut, TransferOpcode opcode, uint64_t length) {
    ASSERT_EQ(cut.returned, cut.slices.size());
    ASSERT_EQ(cut.slices.size(), (length + kSliceSize - 1) / kSliceSize);
    uint64_t offset = 0;
    for (size_t i = 0; i < cut.slices.size(); ++i) {
      const Slice& s = cut.slices[i];
      SCOPED_TRACE(i);
      EXPECT_EQ(s.opcode, opcode);
      EXPECT_EQ(s.local, source_ + offset);
      EXPECT_EQ(s.remote_address, kRemoteBase + offset);
      EXPECT_GT(s.length, 0u);
      EXPECT_LE(s.length, kSliceSize);
      if (i + 1 < cut.slices.size()) {
        EXPECT_EQ(s.length, kSliceSize);
      }
      EXPECT_EQ(s.task, &batch_->task(0));
      EXPECT_EQ(s.batch, batch_);
      EXPECT_EQ(s.retries_left, 1);
      offset += s.length;
    }
    EXPECT_EQ(offset, length);
  }

  static constexpr uint64_t kRemoteBase = 0x7f0000001000ull;
  // Addresses are only computed, never dereferenced.
  char* const source_ = reinterpret_cast<char*>(uintptr_t{0x10000000});
  std::shared_ptr<Batch> batch_ = std::make_shared<Batch>(1);
};

TEST_F(SliceRequestTest, LengthsAroundTheSliceSizeTileTheRequest) {
  for (uint64_t length :
       {uint64_t{1}, kSliceSize - 1, kSliceSize, kSliceSize + 1, 10 * kSliceSize + 3}) {
    SCOPED_TRACE(length);
    Cut cut = CutRequest(TransferOpcode::kWrite, length);
    ExpectContiguousCover(cut, TransferOpcode::kWrite, length);
  }
}

TEST_F(SliceRequestTest, SliceCountsMatchTheRoundedUpQuotient) {
  EXPECT_EQ(CutRequest(TransferOpcode::kRead, 1).returned, 1u);
  EXPECT_EQ(CutRequest(TransferOpcode::kRead, kSliceSize - 1).returned, 1u);
  EXPECT_EQ(CutRequest(TransferOpcode::kRead, kSliceSize).returned, 1u);
  EXPECT_EQ(CutRequest(TransferOpcode::kRead, kSliceSize + 1).returned, 2u);
  Cut big = CutRequest(TransferOpcode::kRead, 10 * kSliceSize + 3);
  ASSERT_EQ(big.returned, 11u);
  EXPECT_EQ(big.slices.back().length, 3u);
}

TEST_F(SliceRequestTest, ReadSlicesKeepTheReadOpcode) {
  Cut cut = CutRequest(TransferOpcode::kRead, 3 * kSliceSize);
  ExpectContiguousCover(cut, TransferOpcode::kRead, 3 * kSliceSize);
}

TEST_F(SliceRequestTest, ZeroLengthYieldsNoSlice) {
  Cut cut = CutRequest(TransferOpcode::kWrite, 0);
  EXPECT_EQ(cut.returned, 0u);
  EXPECT_TRUE(cut.slices.empty());
}

TEST_F(SliceRequestTest, SlicesAreAppendedAfterExistingOnes) {
  std::vector<Slice> out(2);
  TransferRequest r;
  r.source = source_;
  r.target_offset = kRemoteBase;
  r.length = kSliceSize + 1;
  EXPECT_EQ(SliceRequest(r, kSliceSize, batch_, &batch_->task(0), &out), 2u);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].task, nullptr);
  EXPECT_EQ(out[2].local, source_);
  EXPECT_EQ(out[3].length, 1u);
}

}  // namespace
}  // namespace mooncake::transfer
