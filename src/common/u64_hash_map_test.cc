#include "common/u64_hash_map.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <utility>

namespace mooncake {
namespace {

TEST(U64HashMapTest, InsertFindEraseOverwrite) {
  U64HashMap map;
  EXPECT_FALSE(map.Find(0).has_value());
  EXPECT_FALSE(map.Erase(0));
  map.Insert(0, 10);
  map.Insert(64, 20);
  map.Insert(~uint64_t{0} - 1, 30);  // the largest storable key
  EXPECT_EQ(map.size(), 3u);
  EXPECT_EQ(map.Find(0), 10u);
  EXPECT_EQ(map.Find(~uint64_t{0} - 1), 30u);
  map.Insert(64, 21);  // overwrite
  EXPECT_EQ(map.size(), 3u);
  EXPECT_EQ(map.Find(64), 21u);
  EXPECT_TRUE(map.Erase(64));
  EXPECT_FALSE(map.Erase(64));
  EXPECT_FALSE(map.Find(64).has_value());
  EXPECT_EQ(map.size(), 2u);
  // The sentinel is never found, whatever the empty slots hold.
  EXPECT_FALSE(map.Find(U64HashMap::kEmptyKey).has_value());
  EXPECT_FALSE(map.Erase(U64HashMap::kEmptyKey));
  EXPECT_EQ(map.size(), 2u);
}

TEST(U64HashMapTest, MovedFromMapIsEmptyAndUsable) {
  U64HashMap map;
  for (uint64_t i = 0; i < 100; ++i) map.Insert(i * 64, i);
  U64HashMap moved = std::move(map);
  EXPECT_EQ(moved.size(), 100u);
  EXPECT_EQ(moved.Find(99 * 64), 99u);
  EXPECT_EQ(map.size(), 0u);  // NOLINT(bugprone-use-after-move): the documented state
  EXPECT_FALSE(map.Find(0).has_value());
  map.Insert(1, 1);
  EXPECT_EQ(map.Find(1), 1u);
}

TEST(U64HashMapTest, RandomOperationsOnAlignedKeysAgreeWithAModel) {
  // Aligned keys (as allocation offsets are) in a narrow range: the worst case for a weak
  // hash, and many collisions for the backward-shift erase.
  U64HashMap map;
  std::unordered_map<uint64_t, uint64_t> model;
  std::mt19937_64 rng(3);
  for (int step = 0; step < 200000; ++step) {
    const uint64_t key = (rng() % 5000) * 64;
    switch (rng() % 3) {
      case 0:
        map.Insert(key, step);
        model[key] = step;
        break;
      case 1:
        ASSERT_EQ(map.Erase(key), model.erase(key) == 1);
        break;
      default: {
        auto it = model.find(key);
        std::optional<uint64_t> found = map.Find(key);
        ASSERT_EQ(found.has_value(), it != model.end());
        if (found) {
          ASSERT_EQ(*found, it->second);
        }
      }
    }
    ASSERT_EQ(map.size(), model.size());
  }
  size_t visited = 0;
  map.ForEach([&](uint64_t key, uint64_t value) {
    ++visited;
    EXPECT_EQ(model.at(key), value);
  });
  EXPECT_EQ(visited, model.size());
}

}  // namespace
}  // namespace mooncake
