#include "common/offset_allocator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "mooncake/common/units.h"

namespace mooncake {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

OffsetAllocator MakeAllocator(uint64_t capacity, uint64_t alignment = 64) {
  auto created = OffsetAllocator::Create(capacity, alignment);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  return std::move(created).value();
}

uint64_t AllocateOk(OffsetAllocator& allocator, uint64_t size) {
  auto offset = allocator.Allocate(size);
  EXPECT_TRUE(offset.ok()) << "Allocate(" << size << "): " << offset.status().ToString();
  return offset.value_or(kMax);
}

void ExpectConsistent(const OffsetAllocator& allocator) {
  Status s = allocator.CheckConsistency();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// Stats compared field by field, so that a refused call can be shown to have changed nothing.
void ExpectSameStats(const OffsetAllocator::Stats& a, const OffsetAllocator::Stats& b) {
  EXPECT_EQ(a.capacity, b.capacity);
  EXPECT_EQ(a.used, b.used);
  EXPECT_EQ(a.free, b.free);
  EXPECT_EQ(a.largest_free_block, b.largest_free_block);
  EXPECT_EQ(a.free_blocks, b.free_blocks);
  EXPECT_EQ(a.allocations, b.allocations);
}

TEST(OffsetAllocatorTest, CreateRejectsZeroCapacityAndAlignmentsThatAreNotPowersOfTwo) {
  EXPECT_EQ(OffsetAllocator::Create(0).status().code(), StatusCode::kInvalidParams);
  for (uint64_t alignment : {uint64_t{0}, uint64_t{3}, uint64_t{48}, kMax}) {
    auto created = OffsetAllocator::Create(kMiB, alignment);
    EXPECT_EQ(created.status().code(), StatusCode::kInvalidParams) << alignment;
    EXPECT_THAT(created.status().message(), HasSubstr(std::to_string(alignment)));
  }
  EXPECT_TRUE(OffsetAllocator::Create(1, 1).ok());
  EXPECT_TRUE(OffsetAllocator::Create(kMiB, uint64_t{1} << 63).ok());
}

TEST(OffsetAllocatorTest, FreshAllocatorIsOneFreeBlock) {
  OffsetAllocator allocator = MakeAllocator(kMiB);
  OffsetAllocator::Stats s = allocator.stats();
  EXPECT_EQ(s.capacity, kMiB);
  EXPECT_EQ(s.used, 0u);
  EXPECT_EQ(s.free, kMiB);
  EXPECT_EQ(s.largest_free_block, kMiB);
  EXPECT_EQ(s.free_blocks, 1u);
  EXPECT_EQ(s.allocations, 0u);
  EXPECT_EQ(s.fragmentation, 0.0);
}

TEST(OffsetAllocatorTest, OffsetsAreAlignedAndSizesRoundedUpToTheAlignment) {
  for (uint64_t alignment : {uint64_t{1}, uint64_t{64}, uint64_t{4096}}) {
    OffsetAllocator allocator = MakeAllocator(kMiB, alignment);
    uint64_t expected_used = 0;
    for (uint64_t size : {1, 100, 64, 65, 4095, 4097, 1}) {
      uint64_t offset = AllocateOk(allocator, size);
      EXPECT_EQ(offset % alignment, 0u) << "alignment " << alignment << " size " << size;
      uint64_t rounded = (size + alignment - 1) / alignment * alignment;
      EXPECT_EQ(allocator.AllocationSize(offset).value_or(0), rounded);
      expected_used += rounded;
    }
    EXPECT_EQ(allocator.stats().used, expected_used);
    ExpectConsistent(allocator);
  }
}

TEST(OffsetAllocatorTest, AllocateZeroBytesIsInvalidParams) {
  OffsetAllocator allocator = MakeAllocator(kMiB);
  EXPECT_EQ(allocator.Allocate(0).status().code(), StatusCode::kInvalidParams);
  EXPECT_EQ(allocator.stats().allocations, 0u);
}

TEST(OffsetAllocatorTest, ExactFitTakesTheWholeSegment) {
  OffsetAllocator allocator = MakeAllocator(kMiB);
  EXPECT_EQ(AllocateOk(allocator, kMiB), 0u);
  OffsetAllocator::Stats s = allocator.stats();
  EXPECT_EQ(s.used, kMiB);
  EXPECT_EQ(s.free, 0u);
  EXPECT_EQ(s.free_blocks, 0u);
  EXPECT_EQ(s.largest_free_block, 0u);
  EXPECT_EQ(s.fragmentation, 0.0);
  EXPECT_EQ(allocator.Allocate(1).status().code(), StatusCode::kNoAvailableHandle);
}

TEST(OffsetAllocatorTest, LastAllocationMayEndAtAnUnalignedCapacity) {
  // 1000 bytes with 64-byte alignment: the last aligned offset is 960 and only 40 bytes follow.
  OffsetAllocator allocator = MakeAllocator(1000);
  EXPECT_EQ(AllocateOk(allocator, 960), 0u);
  EXPECT_EQ(AllocateOk(allocator, 40), 960u);
  EXPECT_EQ(allocator.stats().free, 0u);
  ExpectConsistent(allocator);
}

TEST(OffsetAllocatorTest, BestFitPicksTheSmallestHoleThatFits) {
  OffsetAllocator allocator = MakeAllocator(64 * kKiB, 1);
  // Holes of 3, 1 and 2 KiB, kept apart by 1 KiB allocations.
  std::vector<uint64_t> holes;
  for (uint64_t size : {3 * kKiB, kKiB, kKiB, kKiB, 2 * kKiB, kKiB}) {
    holes.push_back(AllocateOk(allocator, size));
  }
  AllocateOk(allocator, allocator.stats().free);  // the rest, so only the holes remain
  ASSERT_TRUE(allocator.Free(holes[0]).ok());
  ASSERT_TRUE(allocator.Free(holes[2]).ok());
  ASSERT_TRUE(allocator.Free(holes[4]).ok());
  EXPECT_EQ(AllocateOk(allocator, kKiB), holes[2]);
  EXPECT_EQ(AllocateOk(allocator, 2 * kKiB), holes[4]);
  EXPECT_EQ(AllocateOk(allocator, 2 * kKiB), holes[0]);
  ExpectConsistent(allocator);
}

TEST(OffsetAllocatorTest, FullSegmentRefusesWithSizeFreeBytesAndLargestBlockInMessage) {
  OffsetAllocator allocator = MakeAllocator(kMiB);
  std::vector<uint64_t> offsets;
  for (uint64_t i = 0; i < kMiB / (4 * kKiB); ++i)
    offsets.push_back(AllocateOk(allocator, 4 * kKiB));
  auto full = allocator.Allocate(4 * kKiB);
  EXPECT_EQ(full.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_THAT(full.status().message(), AllOf(HasSubstr("4096 B"), HasSubstr("0 B")));

  // Free every other block: half the segment is free, but no 8 KiB run exists.
  for (size_t i = 0; i < offsets.size(); i += 2) ASSERT_TRUE(allocator.Free(offsets[i]).ok());
  auto fragmented = allocator.Allocate(8 * kKiB);
  EXPECT_EQ(fragmented.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_THAT(fragmented.status().message(),
              AllOf(HasSubstr("8192 B (8 KiB)"), HasSubstr("524288 B (512 KiB) free"),
                    HasSubstr("largest free block 4096 B (4 KiB)")));
  EXPECT_NEAR(allocator.stats().fragmentation, 1.0 - 1.0 / 128, 1e-12);
  ExpectConsistent(allocator);
}

// Three 1 KiB allocations that fill a 3 KiB segment.
struct ThreeBlocks {
  OffsetAllocator allocator = MakeAllocator(3 * kKiB);
  uint64_t a = AllocateOk(allocator, kKiB);
  uint64_t b = AllocateOk(allocator, kKiB);
  uint64_t c = AllocateOk(allocator, kKiB);
};

TEST(OffsetAllocatorTest, FreeCoalescesWithLeftNeighbour) {
  ThreeBlocks t;
  ASSERT_TRUE(t.allocator.Free(t.a).ok());
  ASSERT_TRUE(t.allocator.Free(t.b).ok());  // joins a on its left; c stays allocated
  EXPECT_EQ(t.allocator.stats().free_blocks, 1u);
  EXPECT_EQ(t.allocator.stats().largest_free_block, 2 * kKiB);
  EXPECT_EQ(AllocateOk(t.allocator, 2 * kKiB), 0u);
  ExpectConsistent(t.allocator);
}

TEST(OffsetAllocatorTest, FreeCoalescesWithRightNeighbour) {
  ThreeBlocks t;
  ASSERT_TRUE(t.allocator.Free(t.c).ok());
  ASSERT_TRUE(t.allocator.Free(t.b).ok());  // joins c on its right; a stays allocated
  EXPECT_EQ(t.allocator.stats().free_blocks, 1u);
  EXPECT_EQ(t.allocator.stats().largest_free_block, 2 * kKiB);
  EXPECT_EQ(AllocateOk(t.allocator, 2 * kKiB), kKiB);
  ExpectConsistent(t.allocator);
}

TEST(OffsetAllocatorTest, FreeCoalescesWithBothNeighbours) {
  ThreeBlocks t;
  ASSERT_TRUE(t.allocator.Free(t.a).ok());
  ASSERT_TRUE(t.allocator.Free(t.c).ok());
  EXPECT_EQ(t.allocator.stats().free_blocks, 2u);
  ASSERT_TRUE(t.allocator.Free(t.b).ok());
  EXPECT_EQ(t.allocator.stats().free_blocks, 1u);
  EXPECT_EQ(AllocateOk(t.allocator, 3 * kKiB), 0u);
  ExpectConsistent(t.allocator);
}

TEST(OffsetAllocatorTest, DoubleFreeAndUnknownOffsetsAreRefusedWithoutDamage) {
  OffsetAllocator allocator = MakeAllocator(kMiB);
  const uint64_t a = AllocateOk(allocator, 4 * kKiB);
  const uint64_t b = AllocateOk(allocator, 4 * kKiB);
  ASSERT_TRUE(allocator.Free(a).ok());
  const OffsetAllocator::Stats before = allocator.stats();
  for (uint64_t bad : {a, b + 64, b + 1, kMiB, kMiB + 4096, kMax}) {
    Status s = allocator.Free(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << bad;
    EXPECT_THAT(s.message(), HasSubstr(std::to_string(bad)));
    ExpectSameStats(allocator.stats(), before);
    ExpectConsistent(allocator);
  }
  EXPECT_EQ(allocator.AllocationSize(b).value_or(0), 4 * kKiB);
  ASSERT_TRUE(allocator.Free(b).ok());
  EXPECT_EQ(AllocateOk(allocator, kMiB), 0u);
}

TEST(OffsetAllocatorTest, ReserveMarksAnExactRangeAndFreeReleasesIt) {
  OffsetAllocator allocator = MakeAllocator(64 * kKiB);
  ASSERT_TRUE(allocator.Reserve(100, 50).ok());  // unaligned, as a manifest may say
  EXPECT_EQ(allocator.AllocationSize(100).value_or(0), 50u);
  EXPECT_EQ(allocator.stats().used, 50u);
  EXPECT_EQ(allocator.stats().free_blocks, 2u);
  // Allocations go around it and stay aligned: [0, 100) holds one 64-byte block, the next
  // aligned offset after 150 is 192.
  EXPECT_EQ(AllocateOk(allocator, 64), 0u);
  EXPECT_EQ(AllocateOk(allocator, 64), 192u);
  ExpectConsistent(allocator);
  ASSERT_TRUE(allocator.Free(100).ok());
  ASSERT_TRUE(allocator.Free(0).ok());
  ASSERT_TRUE(allocator.Free(192).ok());
  EXPECT_EQ(allocator.stats().free_blocks, 1u);
  EXPECT_EQ(AllocateOk(allocator, 64 * kKiB), 0u);
}

TEST(OffsetAllocatorTest, UnalignedFreeBlocksLeftByReserveAreUsedWhenTheyFit) {
  // Free: [10, 110) (aligned room only in [64, 110)) and [128, 228).
  OffsetAllocator allocator = MakeAllocator(228);
  ASSERT_TRUE(allocator.Reserve(0, 10).ok());
  ASSERT_TRUE(allocator.Reserve(110, 18).ok());
  // Both blocks hold 100 bytes, but only the aligned one can take 100 bytes at an aligned offset.
  EXPECT_EQ(AllocateOk(allocator, 100), 128u);
  EXPECT_EQ(AllocateOk(allocator, 40), 64u);  // [64, 104), padded to the reserved byte 110
  EXPECT_EQ(allocator.AllocationSize(64).value_or(0), 46u);
  // [10, 64) is free but holds no aligned offset.
  EXPECT_EQ(allocator.stats().free, 54u);
  EXPECT_EQ(allocator.Allocate(1).status().code(), StatusCode::kNoAvailableHandle);
  ExpectConsistent(allocator);
}

TEST(OffsetAllocatorTest, ReserveOfUsedRangeIsRefusedWithoutDamage) {
  OffsetAllocator allocator = MakeAllocator(64 * kKiB);
  ASSERT_TRUE(allocator.Reserve(4096, 4096).ok());
  const OffsetAllocator::Stats before = allocator.stats();
  struct Range {
    uint64_t offset, size;
  };
  for (Range r : {Range{4096, 4096}, Range{4000, 100}, Range{8191, 10}, Range{5000, 10},
                  Range{0, 16384}, Range{4096, 1}}) {
    Status s = allocator.Reserve(r.offset, r.size);
    EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << r.offset << "+" << r.size;
    EXPECT_THAT(s.message(), HasSubstr(std::to_string(r.offset)));
    ExpectSameStats(allocator.stats(), before);
  }
  // Touching it on either side is fine.
  EXPECT_TRUE(allocator.Reserve(4000, 96).ok());
  EXPECT_TRUE(allocator.Reserve(8192, 10).ok());
  ExpectConsistent(allocator);
}

TEST(OffsetAllocatorTest, ReserveOutOfRangeOrWrappingIsRefused) {
  const uint64_t capacity = uint64_t{1} << 63;
  OffsetAllocator allocator = MakeAllocator(capacity);
  const OffsetAllocator::Stats before = allocator.stats();
  struct Range {
    uint64_t offset, size;
  };
  for (Range r : {Range{0, 0}, Range{capacity, 1}, Range{capacity - 1, 2}, Range{kMax, 1},
                  Range{10, kMax - 5}, Range{capacity - 64, kMax}, Range{0, capacity + 1}}) {
    Status s = allocator.Reserve(r.offset, r.size);
    EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << r.offset << "+" << r.size;
    ExpectSameStats(allocator.stats(), before);
  }
  EXPECT_TRUE(allocator.Reserve(capacity - 1, 1).ok());
  EXPECT_TRUE(allocator.Reserve(0, capacity - 1).ok());
  EXPECT_EQ(allocator.stats().free, 0u);
  ExpectConsistent(allocator);
}

TEST(OffsetAllocatorTest, OneTebibyteSegmentHoldsHundredGibibyteObjects) {
  OffsetAllocator allocator = MakeAllocator(kTiB);
  std::vector<uint64_t> offsets;
  for (int i = 0; i < 10; ++i) {
    offsets.push_back(AllocateOk(allocator, 100 * kGiB));
    EXPECT_EQ(offsets.back(), i * 100 * kGiB);
  }
  auto refused = allocator.Allocate(100 * kGiB);
  EXPECT_EQ(refused.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_THAT(refused.status().message(), HasSubstr("largest free block 25769803776 B (24 GiB)"));
  for (uint64_t offset : offsets) ASSERT_TRUE(allocator.Free(offset).ok());
  EXPECT_EQ(AllocateOk(allocator, kTiB), 0u);
}

TEST(OffsetAllocatorTest, CapacitiesNearTwoToTheSixtyFourDoNotOverflow) {
  const uint64_t half = uint64_t{1} << 63;
  OffsetAllocator big = MakeAllocator(half);
  EXPECT_EQ(AllocateOk(big, half / 2), 0u);
  EXPECT_EQ(AllocateOk(big, half / 2), half / 2);
  EXPECT_EQ(big.Allocate(1).status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_EQ(big.Allocate(kMax).status().code(), StatusCode::kNoAvailableHandle);
  ASSERT_TRUE(big.Free(0).ok());
  EXPECT_EQ(big.Allocate(half / 2 + 1).status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_EQ(big.stats().free, half / 2);

  // The largest possible segment: sizes near 2^64 must not wrap when padded to the alignment.
  OffsetAllocator max = MakeAllocator(kMax);
  const uint64_t first = AllocateOk(max, kMax - 10);
  EXPECT_EQ(first, 0u);
  EXPECT_EQ(max.stats().free, 0u);  // the 10-byte tail cannot hold an aligned block
  ASSERT_TRUE(max.Free(first).ok());
  EXPECT_EQ(AllocateOk(max, kMax), 0u);
  ASSERT_TRUE(max.Free(0).ok());
  EXPECT_TRUE(max.Reserve(kMax - 1, 1).ok());
  EXPECT_EQ(max.Reserve(kMax - 1, 2).code(), StatusCode::kInvalidParams);
  EXPECT_EQ(AllocateOk(max, kMax - 64), 0u);
  ExpectConsistent(max);
}

// A byte-per-byte model of the segment: true = allocated.
class SegmentModel {
 public:
  explicit SegmentModel(uint64_t capacity) : used_(capacity, false) {}

  bool AllFree(uint64_t offset, uint64_t size) const {
    for (uint64_t i = offset; i < offset + size; ++i) {
      if (used_[i]) return false;
    }
    return true;
  }
  void Mark(uint64_t offset, uint64_t size, bool used) {
    for (uint64_t i = offset; i < offset + size; ++i) used_[i] = used;
    used_bytes_ = used ? used_bytes_ + size : used_bytes_ - size;
  }
  uint64_t used_bytes() const { return used_bytes_; }
  bool used(uint64_t i) const { return used_[i]; }

  // Maximal free runs as (offset, size).
  std::vector<std::pair<uint64_t, uint64_t>> FreeRuns() const {
    std::vector<std::pair<uint64_t, uint64_t>> runs;
    for (uint64_t i = 0; i < used_.size();) {
      if (used_[i]) {
        ++i;
        continue;
      }
      uint64_t start = i;
      while (i < used_.size() && !used_[i]) ++i;
      runs.emplace_back(start, i - start);
    }
    return runs;
  }

 private:
  std::vector<bool> used_;
  uint64_t used_bytes_ = 0;
};

TEST(OffsetAllocatorTest, RandomOperationsAgreeWithAByteModel) {
  constexpr uint64_t kCapacity = 64 * kKiB + 17;  // an unaligned end on purpose
  constexpr uint64_t kAlignment = 64;
  OffsetAllocator allocator = MakeAllocator(kCapacity, kAlignment);
  SegmentModel model(kCapacity);
  std::map<uint64_t, uint64_t> live;  // offset -> bytes held
  std::mt19937_64 rng(20240611);
  auto uniform = [&rng](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  int allocated = 0, refused = 0, reserved = 0, freed = 0;

  for (int op = 0; op < 10000; ++op) {
    const uint64_t roll = uniform(0, 99);
    const bool mostly_full = model.used_bytes() > kCapacity * 3 / 4;
    if (roll < (mostly_full ? 35u : 55u)) {
      const uint64_t size = uniform(0, 9) == 0 ? uniform(1, 16 * kKiB) : uniform(1, 1500);
      auto offset = allocator.Allocate(size);
      if (offset.ok()) {
        ++allocated;
        const uint64_t o = *offset;
        ASSERT_EQ(o % kAlignment, 0u);
        ASSERT_LE(size, kCapacity - o);
        const uint64_t held = allocator.AllocationSize(o).value_or(0);
        ASSERT_GE(held, size);
        ASSERT_LT(held, size + kAlignment);
        ASSERT_TRUE(model.AllFree(o, held)) << "overlap at " << o << "+" << held;
        // Padding stops at the alignment, the end of the segment, or the next used byte.
        const uint64_t end = o + held;
        ASSERT_TRUE(end == kCapacity || end % kAlignment == 0 || model.used(end)) << end;
        model.Mark(o, held, true);
        live.emplace(o, held);
      } else {
        ++refused;
        ASSERT_EQ(offset.status().code(), StatusCode::kNoAvailableHandle);
        for (auto [run, run_size] : model.FreeRuns()) {
          const uint64_t start = (run + kAlignment - 1) / kAlignment * kAlignment;
          ASSERT_FALSE(start <= run + run_size && size <= run + run_size - start)
              << "refused " << size << " bytes though [" << run << ", +" << run_size << ") is free";
        }
      }
    } else if (roll < 90 && !live.empty()) {
      auto it = live.lower_bound(uniform(0, kCapacity - 1));
      if (it == live.end()) it = live.begin();
      ASSERT_TRUE(allocator.Free(it->first).ok());
      model.Mark(it->first, it->second, false);
      live.erase(it);
      ++freed;
    } else if (roll < 97) {
      const uint64_t offset = uniform(0, kCapacity - 1);
      const uint64_t size = uniform(1, 2 * kKiB);
      const bool valid = size <= kCapacity - offset && model.AllFree(offset, size);
      Status s = allocator.Reserve(offset, size);
      ASSERT_EQ(s.ok(), valid) << offset << "+" << size << ": " << s.ToString();
      if (valid) {
        model.Mark(offset, size, true);
        live.emplace(offset, size);
        ++reserved;
      }
    } else {
      const uint64_t offset = uniform(0, kCapacity);
      if (live.count(offset) == 0) {
        ASSERT_EQ(allocator.Free(offset).code(), StatusCode::kInvalidParams);
      }
    }

    const OffsetAllocator::Stats s = allocator.stats();
    ASSERT_EQ(s.used, model.used_bytes());
    ASSERT_EQ(s.free, kCapacity - model.used_bytes());
    ASSERT_EQ(s.allocations, live.size());
    if (op % 250 == 0) {
      ASSERT_TRUE(allocator.CheckConsistency().ok()) << allocator.CheckConsistency().ToString();
      const auto runs = model.FreeRuns();
      uint64_t largest = 0;
      for (auto [run, run_size] : runs) largest = std::max(largest, run_size);
      ASSERT_EQ(s.free_blocks, runs.size());
      ASSERT_EQ(s.largest_free_block, largest);
    }
  }
  std::cout << "model test: " << allocated << " allocated, " << refused << " refused, " << reserved
            << " reserved, " << freed << " freed\n";
  // The workload must have exercised every path.
  EXPECT_GT(allocated, 1000);
  EXPECT_GT(refused, 100);
  EXPECT_GT(reserved, 50);
}

// Churn at ~90% full: objects of 4 KiB - 4 MiB (uniform), 100k free + allocate pairs, i.e.
// ~27 complete turnovers of the ~3,700 live objects of an 8 GiB segment.
//
// Bounds, from measurements of this workload over 17 seeds (and one run of 1M pairs), every
// iteration sampled:
//  - no allocation fails: the point of the exercise, with ~800 MiB free;
//  - fragmentation <= 0.8, i.e. the largest free block keeps at least a fifth of the free
//    space. Address-ordered best fit fills small holes first and leaves the top of the segment
//    as one large block; measured 0.43-0.68 at the end of a run, worst sample 0.75 (seed 42:
//    0.68; 1M pairs: 0.68, so it does not creep up). Splintered free space would read ~0.999
//    (1,800 equal holes);
//  - the largest free block stays >= 16 x the largest request (measured minimum 193 MiB);
//  - free blocks <= 0.6 x live allocations: Knuth's fifty-percent rule predicts ~0.5 holes per
//    allocation at equilibrium, measured 0.50-0.51. This also bounds the allocator's memory.
TEST(OffsetAllocatorTest, FragmentationStaysBoundedUnderChurn) {
  constexpr uint64_t kCapacity = 8 * kGiB;
  constexpr uint64_t kMaxRequest = 4 * kMiB;
  OffsetAllocator allocator = MakeAllocator(kCapacity);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> size_dist(4 * kKiB, kMaxRequest);
  std::vector<uint64_t> live;
  while (allocator.stats().used < kCapacity / 10 * 9) {
    live.push_back(AllocateOk(allocator, size_dist(rng)));
  }

  int failures = 0;
  double worst_fragmentation = 0;
  double worst_blocks_per_allocation = 0;
  uint64_t smallest_largest_block = kMax;
  for (int i = 0; i < 100000; ++i) {
    std::uniform_int_distribution<size_t> pick(0, live.size() - 1);
    const size_t victim = pick(rng);
    ASSERT_TRUE(allocator.Free(live[victim]).ok());
    auto offset = allocator.Allocate(size_dist(rng));
    if (offset.ok()) {
      live[victim] = *offset;
    } else {
      ++failures;
      live[victim] = live.back();
      live.pop_back();
    }
    const OffsetAllocator::Stats s = allocator.stats();
    worst_fragmentation = std::max(worst_fragmentation, s.fragmentation);
    worst_blocks_per_allocation =
        std::max(worst_blocks_per_allocation,
                 static_cast<double>(s.free_blocks) / static_cast<double>(s.allocations));
    smallest_largest_block = std::min(smallest_largest_block, s.largest_free_block);
  }
  const OffsetAllocator::Stats s = allocator.stats();
  std::cout << "churn at " << static_cast<double>(s.used) / kCapacity << " used: fragmentation "
            << s.fragmentation << " (worst " << worst_fragmentation << "), " << s.free_blocks
            << " free blocks for " << s.allocations << " allocations (worst ratio "
            << worst_blocks_per_allocation << "), smallest largest free block "
            << smallest_largest_block / kMiB << " MiB, " << failures << " failed allocations\n";
  RecordProperty("fragmentation", std::to_string(s.fragmentation));
  RecordProperty("worst_fragmentation", std::to_string(worst_fragmentation));
  RecordProperty("worst_free_blocks_per_allocation", std::to_string(worst_blocks_per_allocation));
  EXPECT_EQ(failures, 0);
  EXPECT_LE(worst_fragmentation, 0.8);
  EXPECT_GE(smallest_largest_block, 16 * kMaxRequest);
  EXPECT_LE(worst_blocks_per_allocation, 0.6);
  ExpectConsistent(allocator);
}

}  // namespace
}  // namespace mooncake
