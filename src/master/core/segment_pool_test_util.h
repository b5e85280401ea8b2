#pragma once

// Helpers for the unit tests of the master core: the sizes they speak in, and SegmentPool
// calls that must succeed. The MasterCore tests build on these (master_core_test_fixture.h);
// the SegmentPool tests use them directly, with no MasterCore.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "master/core/segment_pool.h"

namespace mooncake::master {

inline constexpr uint64_t kKiB = uint64_t{1} << 10;
inline constexpr uint64_t kMiB = uint64_t{1} << 20;
// What the helpers below return for a segment that is not there: no real count or address.
inline constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// A segment spec with the common base and size.
inline SegmentSpec Spec(std::string name, NodeId node, Epoch epoch, Medium medium = Medium::kDram,
                        uint64_t base = 0x10000, uint64_t size = kMiB) {
  return SegmentSpec{std::move(name), std::move(node), epoch, medium, base, size};
}

// Mounts `spec`, which must drop no older segment.
inline void MountOk(SegmentPool& pool, const SegmentSpec& spec) {
  auto dropped = pool.Mount(spec);
  ASSERT_TRUE(dropped.ok()) << dropped.status().ToString();
  EXPECT_THAT(*dropped, ::testing::IsEmpty());
}

// Records a test failure unless the pool's segments and allocators agree.
inline void ExpectConsistent(const SegmentPool& pool) {
  Status s = pool.CheckConsistency();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

inline Allocation AllocateOk(SegmentPool& pool, std::string_view segment, uint64_t size) {
  auto allocation = pool.Allocate(segment, size);
  EXPECT_TRUE(allocation.ok()) << allocation.status().ToString();
  return allocation.value_or(Allocation{});
}

inline Allocation AllocateOnOk(SegmentPool& pool, Medium medium, uint64_t size,
                               const std::vector<std::string>& preferred = {},
                               const std::set<NodeId>& excluded = {}) {
  auto allocation = pool.AllocateOnMedium(medium, size, preferred, excluded);
  EXPECT_TRUE(allocation.ok()) << allocation.status().ToString();
  return allocation.value_or(Allocation{});
}

// Bytes allocated on `segment` (kMax, and a test failure, when it is not mounted).
inline uint64_t Used(const SegmentPool& pool, std::string_view segment) {
  auto info = pool.Find(segment);
  EXPECT_TRUE(info.has_value()) << segment;
  return info ? info->used : kMax;
}

}  // namespace mooncake::master
