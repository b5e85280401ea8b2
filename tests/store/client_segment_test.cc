// The client additions the Python package relies on, against a real cluster: a client that
// contributes its own segment (global_segment_size), multi-part puts, batch remove, remove all,
// batch sizes and ping.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "mooncake/store/client.h"
#include "store_test_cluster.h"

namespace mooncake::store {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string Text(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

class ClientSegmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreTestClusterOptions options;
    options.nodes = 1;
    options.segment_size = "16MiB";
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
  }

  std::unique_ptr<Client> NewClient(uint64_t segment) {
    ClientOptions options;
    options.master_address = cluster_->master_address();
    options.local_buffer_size = uint64_t{4} << 20;
    options.global_segment_size = segment;
    options.protocol = "tcp";
    options.rpc_timeout = std::chrono::milliseconds(1000);  // a dead master fails fast
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  std::unique_ptr<StoreTestCluster> cluster_;
};

TEST_F(ClientSegmentTest, OwnSegmentHoldsReplicasUntilTheClientGoes) {
  auto owner = NewClient(uint64_t{8} << 20);
  auto reader = NewClient(0);
  ASSERT_NE(owner, nullptr);
  ASSERT_NE(reader, nullptr);
  ReplicateConfig here;
  here.preferred_segments = {owner->local_hostname()};
  ASSERT_TRUE(owner->Put("mine", Bytes("in the owner's segment"), here).ok());
  auto read = reader->Get("mine");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(Text(*read), "in the owner's segment");
  // Two replicas: one in the owner's segment, one on the node.
  ReplicateConfig both;
  both.replica_num = 2;
  both.preferred_segments = {owner->local_hostname()};
  ASSERT_TRUE(owner->Put("both", Bytes("twice"), both).ok());

  owner.reset();  // unmounts the segment: its replicas go
  EXPECT_EQ(reader->Get("mine").status().code(), StatusCode::kObjectNotFound);
  auto survived = reader->Get("both");
  ASSERT_TRUE(survived.ok()) << survived.status().ToString();
  EXPECT_EQ(Text(*survived), "twice");
}

TEST_F(ClientSegmentTest, PutPartsConcatenates) {
  auto client = NewClient(0);
  ASSERT_NE(client, nullptr);
  const std::string big(6 << 20, 'x');  // larger than the 4 MiB staging buffer
  ASSERT_TRUE(client->PutParts("small", {Bytes("ab"), Bytes(""), Bytes("cd")}).ok());
  ASSERT_TRUE(client->PutParts("big", {Bytes(big), Bytes("end")}).ok());
  EXPECT_EQ(Text(*client->Get("small")), "abcd");
  EXPECT_EQ(Text(*client->Get("big")), big + "end");
}

TEST_F(ClientSegmentTest, BatchRemoveRemoveAllBatchGetSizePing) {
  auto client = NewClient(0);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Ping().ok());
  for (const char* key : {"a", "b", "c"}) ASSERT_TRUE(client->Put(key, Bytes(key)).ok());
  ASSERT_TRUE(client->Put("long", Bytes("12345")).ok());
  const auto sizes = client->BatchGetSize({"long", "missing"});
  ASSERT_EQ(sizes.size(), 2u);
  EXPECT_EQ(*sizes[0], 5u);
  EXPECT_EQ(sizes[1].status().code(), StatusCode::kObjectNotFound);
  const auto removed = client->BatchRemove({"a", "missing"});
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_TRUE(removed[0].ok());
  EXPECT_EQ(removed[1].code(), StatusCode::kObjectNotFound);
  EXPECT_TRUE(client->BatchRemove({}).empty());
  auto all = client->RemoveAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, 3u);
  EXPECT_FALSE(*client->IsExist("long"));

  cluster_->master().Kill();
  EXPECT_FALSE(client->Ping().ok());
}

}  // namespace
}  // namespace mooncake::store
