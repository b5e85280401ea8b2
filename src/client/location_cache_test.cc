#include "client/location_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace mooncake::store {
namespace {

using std::chrono::milliseconds;

master::ReplicaListReply Reply(uint64_t version, milliseconds lease = milliseconds(4000)) {
  master::ReplicaListReply reply;
  reply.size = 10;
  reply.version = version;
  reply.lease_ttl = lease;
  return reply;
}

TEST(LocationCacheTest, EntriesAreUsableForThreeQuartersOfTheirLease) {
  LocationCache cache(8);
  const auto sent = LocationCache::TimePoint{} + std::chrono::hours(1);
  cache.Insert("k", Reply(7), sent);
  auto hit = cache.Find("k", sent + milliseconds(2999));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->version, 7u);
  EXPECT_FALSE(cache.Find("k", sent + milliseconds(3000)).has_value());
  EXPECT_EQ(cache.size(), 0u) << "an expired entry is dropped when found";
}

TEST(LocationCacheTest, RepliesWithoutALeaseAreNotCached) {
  LocationCache cache(8);
  cache.Insert("k", Reply(1, milliseconds(0)), LocationCache::TimePoint{});
  EXPECT_EQ(cache.size(), 0u);
}

TEST(LocationCacheTest, LeastRecentlyUsedGoesFirstAndEraseForgets) {
  LocationCache cache(2);
  const auto t = LocationCache::TimePoint{} + std::chrono::hours(1);
  cache.Insert("a", Reply(1), t);
  cache.Insert("b", Reply(2), t);
  ASSERT_TRUE(cache.Find("a", t).has_value());  // "b" is now the least recent
  cache.Insert("c", Reply(3), t);
  EXPECT_TRUE(cache.Find("a", t).has_value());
  EXPECT_FALSE(cache.Find("b", t).has_value());
  EXPECT_TRUE(cache.Find("c", t).has_value());
  cache.Insert("c", Reply(4), t);  // replaces, no growth
  EXPECT_EQ(cache.Find("c", t)->version, 4u);
  EXPECT_EQ(cache.size(), 2u);
  cache.Erase("a");
  EXPECT_FALSE(cache.Find("a", t).has_value());
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
}

TEST(LocationCacheTest, CapacityZeroKeepsNothing) {
  LocationCache cache(0);
  cache.Insert("k", Reply(1), LocationCache::TimePoint{});
  EXPECT_FALSE(cache.Find("k", LocationCache::TimePoint{}).has_value());
}

}  // namespace
}  // namespace mooncake::store
