// ClientImpl and the object-storage tier against the master's real core in-process
// (in_process_store.h) and a file:// object store: a pool miss is read through the store and put
// back into the pool; a read whose every listed replica failed falls through to the store, which
// serves the listed version. Each test runs through every read entry point.

#include <gtest/gtest.h>

#include <span>

#include "client/client_read_test_util.h"
#include "client/in_process_store.h"
#include "testing/temp_dir.h"
#include "tier/object_store.h"

namespace mooncake::store {
namespace {

constexpr size_t kValueSize = 10000;

class ClientObjectTierTest : public ::testing::TestWithParam<ReadEntry> {
 protected:
  ClientObjectTierTest()
      : dir_(testing::TempDir::Create("client_tier").value()), store_(TierAt(dir_.path())) {
    tier::ObjectStoreOptions options;
    options.url = "file://" + dir_.path();
    bucket_ = tier::ObjectStore::Create(options).value();
  }

  static ObjectTierConfig TierAt(const std::string& dir) {
    ObjectTierConfig tier;
    tier.url = "file://" + dir;
    tier.policy = ObjectTierPolicy::kWriteThrough;
    return tier;
  }
  Result<std::vector<uint8_t>> Read(ClientImpl& client, const std::string& key) {
    return ReadVia(client, GetParam(), key, kValueSize);
  }

  testing::TempDir dir_;
  InProcessStore store_;
  std::unique_ptr<tier::ObjectStore> bucket_;  // the same store, as the test sees it
};

TEST_P(ClientObjectTierTest, WriteThroughPutUploadsBeforeItIsAcknowledged) {
  store_.AddNode("a");
  auto client = store_.NewClient();
  const std::vector<uint8_t> value = TestValue(kValueSize, 1);
  ASSERT_TRUE(client->Put("k", value, {}, PutMode::kCreate).ok());
  EXPECT_EQ(bucket_->Head("k").value().size, kValueSize);
  EXPECT_EQ(client->object_tier_stats().uploads, 1u);
}

TEST_P(ClientObjectTierTest, PoolMissIsReadFromTheObjectStore) {
  store_.AddNode("a");
  auto client = store_.NewClient();
  const std::vector<uint8_t> value = TestValue(kValueSize, 2);
  ASSERT_TRUE(bucket_->Put("k", {reinterpret_cast<const char*>(value.data()), value.size()}).ok());
  Result<std::vector<uint8_t>> read = Read(*client, "k");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, value);
  EXPECT_EQ(client->object_tier_stats().read_throughs, 1u);
  // Whole-object reads put it back into the pool for the next reader; ranged reads do not
  // (they may want a small part of a large object).
  const bool promoted = GetParam() != ReadEntry::kGetIntoRanges;
  EXPECT_EQ(client->object_tier_stats().promotions, promoted ? 1u : 0u);
  EXPECT_EQ(store_.Lookup("k").ok(), promoted);
}

TEST_P(ClientObjectTierTest, KeyNowhereIsNotFound) {
  store_.AddNode("a");
  auto client = store_.NewClient();
  EXPECT_EQ(Read(*client, "absent").status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(client->object_tier_stats().read_throughs, 0u);
}

TEST_P(ClientObjectTierTest, ReadWhoseListedReplicasAllFailFallsThroughToTheStore) {
  store_.AddNode("a");
  auto client = store_.NewClient();
  const std::vector<uint8_t> value = TestValue(kValueSize, 3);
  ASSERT_TRUE(client->Put("k", value, {}, PutMode::kCreate).ok());  // uploaded too
  store_.KillNode("a");  // the master still lists the replica
  Result<std::vector<uint8_t>> read = Read(*client, "k");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, value);
  EXPECT_EQ(client->object_tier_stats().read_throughs, 1u);
}

TEST_P(ClientObjectTierTest, FallThroughRefusesAnotherVersionThanTheListedOne) {
  store_.AddNode("a");
  auto client = store_.NewClient();
  ASSERT_TRUE(client->Put("k", TestValue(kValueSize, 4), {}, PutMode::kCreate).ok());
  // The bucket now holds other bytes than the version the master lists.
  const std::vector<uint8_t> other = TestValue(kValueSize, 5);
  ASSERT_TRUE(bucket_->Put("k", {reinterpret_cast<const char*>(other.data()), other.size()}).ok());
  store_.KillNode("a");
  Result<std::vector<uint8_t>> read = Read(*client, "k");
  // The replica's error stays, naming the store's refusal.
  EXPECT_EQ(read.status().code(), StatusCode::kTransferFail);
  EXPECT_NE(read.status().message().find("object store"), std::string::npos)
      << read.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(EveryReadEntry, ClientObjectTierTest,
                         ::testing::Values(ReadEntry::kGet, ReadEntry::kGetInto,
                                           ReadEntry::kGetIntoRanges),
                         [](const auto& info) { return ReadEntryName(info.param); });

}  // namespace
}  // namespace mooncake::store
