// The client's replica-location cache against a real cluster: hot keys skip the master,
// the lease keeps cached locations honest, and a stale location (node restarted) is retried
// through the master instead of failing the read.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "master/client/master_client.h"
#include "mooncake/store/client.h"
#include "store_test_cluster.h"
#include "store_test_values.h"

namespace mooncake::store {
namespace {

using std::chrono::milliseconds;

class StoreLocationCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = StoreTestCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    master::MasterClientOptions admin;
    admin.master_address = cluster_->master_address();
    admin_ = std::move(master::MasterClient::Create(admin).value());
  }

  std::unique_ptr<Client> NewClient(size_t cache_entries) {
    ClientOptions options;
    options.master_address = cluster_->master_address();
    options.location_cache_entries = cache_entries;
    options.verify_checksum = true;
    options.transfer_timeout = milliseconds(3000);
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // GetReplicaList lookups the master has answered so far.
  uint64_t Lookups() {
    auto info = admin_->GetClusterInfo();
    EXPECT_TRUE(info.ok());
    return info.ok() ? info->lookups_hit + info->lookups_miss : 0;
  }

  std::unique_ptr<StoreTestCluster> cluster_;
  std::unique_ptr<master::MasterClient> admin_;
};

TEST_F(StoreLocationCacheTest, HotKeysSkipTheMasterUnlessTheCacheIsOff) {
  auto cached = NewClient(1024);
  auto uncached = NewClient(0);
  const std::vector<uint8_t> value = Pattern(64 << 10, 1);
  ASSERT_TRUE(cached->Put("hot", value).ok());
  const uint64_t before = Lookups();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(cached->Get("hot").value(), value);
  EXPECT_EQ(Lookups() - before, 1u) << "one lookup, then nine reads from the cache";
  const uint64_t middle = Lookups();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(uncached->Get("hot").value(), value);
  EXPECT_EQ(Lookups() - middle, 10u);
}

TEST_F(StoreLocationCacheTest, OwnWritesAndRemovesAreSeenAtOnce) {
  auto client = NewClient(1024);
  const std::vector<uint8_t> first = Pattern(1000, 2);
  const std::vector<uint8_t> second = Pattern(3000, 3);
  ASSERT_TRUE(client->Put("k", first).ok());
  ASSERT_EQ(client->Get("k").value(), first);
  ASSERT_TRUE(client->Put("k", second, {}, PutMode::kUpsert).ok());
  EXPECT_EQ(client->Get("k").value(), second) << "an upsert drops the cached location";
  // The lease this client's reads hold protects the object from a normal remove...
  EXPECT_EQ(client->Remove("k").code(), StatusCode::kObjectHasLease);
  ASSERT_TRUE(client->Remove("k", RemoveMode::kForce).ok());
  EXPECT_EQ(client->Get("k").status().code(), StatusCode::kObjectNotFound);
}

TEST_F(StoreLocationCacheTest, ALeasedCachedLocationCannotBeRemovedByOthers) {
  auto reader = NewClient(1024);
  auto writer = NewClient(0);
  const std::vector<uint8_t> value = Pattern(5000, 4);
  ASSERT_TRUE(writer->Put("shared", value).ok());
  ASSERT_EQ(reader->Get("shared").value(), value);
  EXPECT_EQ(writer->Remove("shared").code(), StatusCode::kObjectHasLease);
  EXPECT_EQ(reader->Get("shared").value(), value);
}

TEST_F(StoreLocationCacheTest, AStaleLocationAfterANodeRestartIsRetriedThroughTheMaster) {
  auto client = NewClient(1024);
  // Objects on both nodes, read once so their locations are cached.
  std::vector<std::string> keys;
  for (int i = 0; i < 16; ++i) {
    keys.push_back("stale/" + std::to_string(i));
    ASSERT_TRUE(client->Put(keys.back(), Pattern(4096, 10 + i)).ok());
    ASSERT_TRUE(client->Get(keys.back()).ok());
  }
  cluster_->node(0).Kill(SIGKILL);
  ASSERT_TRUE(cluster_->node(0).Wait(milliseconds(5000)).ok());
  Status restarted = cluster_->StartNode(0);  // same port, new epoch, empty segment
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  // Node 0's objects are gone (not found, never its new empty bytes); node 1's still read.
  int found = 0, gone = 0;
  for (int i = 0; i < 16; ++i) {
    auto got = client->Get(keys[i]);
    if (got.ok()) {
      EXPECT_EQ(*got, Pattern(4096, 10 + i));
      ++found;
    } else {
      EXPECT_EQ(got.status().code(), StatusCode::kObjectNotFound) << got.status().ToString();
      ++gone;
    }
  }
  EXPECT_GT(gone, 0) << "placement put nothing on node 0?";
  EXPECT_GT(found, 0) << "placement put nothing on node 1?";
}

}  // namespace
}  // namespace mooncake::store
