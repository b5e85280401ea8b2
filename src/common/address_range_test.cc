#include "common/address_range.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <vector>

namespace mooncake {
namespace {

constexpr uint64_t kMax = UINT64_MAX;
constexpr AddressRange kRange{0x1000, 0x100};  // [0x1000, 0x1100)

TEST(AddressRangeTest, ContainsRequestsInsideAndAtBothEnds) {
  EXPECT_TRUE(kRange.Contains(0x1000, 0x100)) << "the whole range";
  EXPECT_TRUE(kRange.Contains(0x1000, 1)) << "first byte";
  EXPECT_TRUE(kRange.Contains(0x10ff, 1)) << "last byte";
  EXPECT_TRUE(kRange.Contains(0x1050, 0x10));
  EXPECT_TRUE(kRange.Contains(0x1080, 0x80)) << "ends exactly at the end";
}

TEST(AddressRangeTest, RefusesRequestsOneBytePastEitherEnd) {
  EXPECT_FALSE(kRange.Contains(0x1100, 1)) << "one past the end";
  EXPECT_FALSE(kRange.Contains(0x10ff, 2)) << "straddles the end";
  EXPECT_FALSE(kRange.Contains(0x0fff, 1)) << "one before the start";
  EXPECT_FALSE(kRange.Contains(0x0fff, 2)) << "straddles the start";
  EXPECT_FALSE(kRange.Contains(0x1000, 0x101)) << "one byte longer than the range";
  EXPECT_FALSE(kRange.Contains(0, 1));
}

TEST(AddressRangeTest, EmptyRequestIsInsideFromStartToEnd) {
  EXPECT_TRUE(kRange.Contains(0x1000, 0)) << "at the start";
  EXPECT_TRUE(kRange.Contains(0x1050, 0)) << "inside";
  EXPECT_TRUE(kRange.Contains(0x1100, 0)) << "at the end";
  EXPECT_FALSE(kRange.Contains(0x1101, 0)) << "one past the end";
  EXPECT_FALSE(kRange.Contains(0x0fff, 0)) << "one before the start";
}

TEST(AddressRangeTest, RequestWhoseEndOverflowsIsOutside) {
  // address + size wraps around to a small number that a naive end check would accept.
  EXPECT_FALSE(kRange.Contains(0x1001, kMax));
  EXPECT_FALSE(kRange.Contains(0x1000, kMax));
  EXPECT_FALSE(kRange.Contains(0x10ff, kMax - 0x10fe)) << "ends at 1 after wrapping";
  EXPECT_FALSE(kRange.Contains(kMax, 2));
  EXPECT_FALSE(kRange.Contains(kMax, kMax));
}

TEST(AddressRangeTest, RangeEndingAtTheTopOfTheAddressSpace) {
  const AddressRange top{kMax - 0xff, 0x100};  // start + length is 2^64
  EXPECT_TRUE(top.Contains(kMax - 0xff, 0x100)) << "the whole range";
  EXPECT_TRUE(top.Contains(kMax, 1)) << "last byte of the address space";
  EXPECT_TRUE(top.Contains(kMax, 0));
  EXPECT_FALSE(top.Contains(kMax - 0xff, 0x101));
  EXPECT_FALSE(top.Contains(kMax, 2)) << "wraps past 2^64";
  EXPECT_FALSE(top.Contains(kMax - 0x100, 1)) << "one before the start";
  EXPECT_FALSE(top.Contains(0, 1)) << "where a wrapped end would land";
  EXPECT_FALSE(top.Contains(0, 0)) << "the wrapped end itself";
  EXPECT_TRUE(top.ContainsAddress(kMax));
  EXPECT_FALSE(top.ContainsAddress(0));
  EXPECT_EQ(top.OffsetOf(kMax), 0xffu);
}

TEST(AddressRangeTest, EmptyRangeHoldsOnlyTheEmptyRequestAtItsStart) {
  const AddressRange empty{0x1000, 0};
  EXPECT_TRUE(empty.Contains(0x1000, 0));
  EXPECT_FALSE(empty.Contains(0x1000, 1));
  EXPECT_FALSE(empty.Contains(0x0fff, 0));
  EXPECT_FALSE(empty.Contains(0x1001, 0));
  EXPECT_FALSE(empty.Contains(0x1000, kMax));
  EXPECT_FALSE(empty.ContainsAddress(0x1000));
}

TEST(AddressRangeTest, ContainsAddressMeansTheByteIsInside) {
  EXPECT_TRUE(kRange.ContainsAddress(0x1000));
  EXPECT_TRUE(kRange.ContainsAddress(0x10ff));
  EXPECT_FALSE(kRange.ContainsAddress(0x1100)) << "the end is not a byte of the range";
  EXPECT_FALSE(kRange.ContainsAddress(0x0fff));
  EXPECT_FALSE(kRange.ContainsAddress(kMax));
}

TEST(AddressRangeTest, OffsetOfCountsFromTheStart) {
  EXPECT_EQ(kRange.OffsetOf(0x1000), 0u);
  EXPECT_EQ(kRange.OffsetOf(0x10ff), 0xffu);
  EXPECT_EQ(kRange.OffsetOf(0x1100), 0x100u);
}

// Ranges in a map keyed by start: [0x1000, 0x1100) and [0x1100, 0x1200) touch; [0x3000, 0x3010)
// stands alone.
std::map<uint64_t, uint64_t> MapOfRanges() {
  return {{0x1000, 0x100}, {0x1100, 0x100}, {0x3000, 0x10}};
}
AddressRange RangeOfEntry(const std::pair<const uint64_t, uint64_t>& entry) {
  return {entry.first, entry.second};
}

TEST(FindContainingTest, FindsTheMapEntryHoldingTheRequest) {
  const std::map<uint64_t, uint64_t> ranges = MapOfRanges();
  auto start_of = [&](uint64_t address, uint64_t size) -> int64_t {
    auto it = FindContaining(ranges, address, size, RangeOfEntry);
    return it == ranges.end() ? -1 : static_cast<int64_t>(it->first);
  };
  EXPECT_EQ(start_of(0x1000, 0x100), 0x1000);
  EXPECT_EQ(start_of(0x10ff, 1), 0x1000);
  EXPECT_EQ(start_of(0x1100, 1), 0x1100);
  EXPECT_EQ(start_of(0x1100, 0), 0x1100) << "an empty request at a shared edge: the later range";
  EXPECT_EQ(start_of(0x1200, 0), 0x1100) << "an empty request at the last range's end";
  EXPECT_EQ(start_of(0x10ff, 2), -1) << "two touching ranges do not make one";
  EXPECT_EQ(start_of(0x0fff, 1), -1) << "below every range";
  EXPECT_EQ(start_of(0x2000, 1), -1) << "in a gap";
  EXPECT_EQ(start_of(0x3010, 1), -1) << "past the last range";
  EXPECT_EQ(start_of(0x3000, kMax), -1) << "overflowing";
}

TEST(FindContainingTest, FindsTheElementOfASortedVector) {
  struct Key {
    uint64_t address;
    uint64_t length;
  };
  const std::vector<Key> keys{{0x1000, 0x100}, {0x1100, 0x100}, {0x3000, 0x10}};
  auto range_of = [](const Key& k) { return AddressRange{k.address, k.length}; };
  auto index_of = [&](uint64_t address, uint64_t size) -> int64_t {
    auto it = FindContaining(keys, address, size, range_of);
    return it == keys.end() ? -1 : it - keys.begin();
  };
  EXPECT_EQ(index_of(0x1000, 0x100), 0);
  EXPECT_EQ(index_of(0x10ff, 1), 0);
  EXPECT_EQ(index_of(0x1100, 0x100), 1);
  EXPECT_EQ(index_of(0x3008, 8), 2);
  EXPECT_EQ(index_of(0x10ff, 2), -1);
  EXPECT_EQ(index_of(0x0fff, 1), -1);
  EXPECT_EQ(index_of(0x2000, 1), -1);
  EXPECT_EQ(index_of(0x3001, kMax), -1);
}

TEST(FindContainingTest, NothingIsFoundAmongNoRanges) {
  const std::map<uint64_t, uint64_t> none;
  EXPECT_EQ(FindContaining(none, 0, 0, RangeOfEntry), none.end());
  EXPECT_EQ(FindStartingAtOrBefore(none, kMax, RangeOfEntry), none.end());
}

TEST(FindStartingAtOrBeforeTest, ReturnsTheOnlyCandidateEvenWhenItDoesNotHoldTheAddress) {
  std::map<uint64_t, uint64_t> ranges = MapOfRanges();
  EXPECT_EQ(FindStartingAtOrBefore(ranges, 0x0fff, RangeOfEntry), ranges.end());
  EXPECT_EQ(FindStartingAtOrBefore(ranges, 0x1000, RangeOfEntry)->first, 0x1000u);
  EXPECT_EQ(FindStartingAtOrBefore(ranges, 0x10ff, RangeOfEntry)->first, 0x1000u);
  EXPECT_EQ(FindStartingAtOrBefore(ranges, 0x2000, RangeOfEntry)->first, 0x1100u) << "in a gap";
  EXPECT_EQ(FindStartingAtOrBefore(ranges, kMax, RangeOfEntry)->first, 0x3000u);
  // A mutable map gives a mutable iterator, which callers use to erase a stale entry.
  ranges.erase(FindStartingAtOrBefore(ranges, 0x2000, RangeOfEntry));
  EXPECT_EQ(FindStartingAtOrBefore(ranges, 0x2000, RangeOfEntry)->first, 0x1000u);
}

}  // namespace
}  // namespace mooncake
