// The store end to end with real processes: mooncake_master and two mooncake_node processes
// on loopback, and a store Client in the test process moving real bytes through the Transfer
// Engine. Faults are real too: nodes are killed with SIGKILL and restarted.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "master/client/master_client.h"
#include "mooncake/store/client.h"
#include "store_test_cluster.h"
#include "store_test_values.h"
#include "testing/free_port.h"

namespace mooncake::store {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

class StoreClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = StoreTestCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    client_ = NewClient();
  }

  std::string MasterAddress() const { return cluster_->master_address(); }
  std::string NodeName(int i) const { return cluster_->node_name(i); }
  void StartNode(int i) {
    Status started = cluster_->StartNode(i);
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  std::unique_ptr<Client> NewClient(uint64_t staging = uint64_t{64} << 20) {
    ClientOptions options;
    options.master_address = MasterAddress();
    options.local_buffer_size = staging;
    options.verify_checksum = true;
    options.transfer_timeout = milliseconds(3000);
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  std::unique_ptr<master::MasterClient> Admin() {
    master::MasterClientOptions options;
    options.master_address = MasterAddress();
    return std::move(master::MasterClient::Create(options).value());
  }

  std::unique_ptr<StoreTestCluster> cluster_;
  std::unique_ptr<Client> client_;
};

TEST_F(StoreClusterTest, RoundTripsOfManySizes) {
  for (size_t size : {size_t{1}, size_t{4096}, size_t{1} << 20, size_t{64} << 20}) {
    SCOPED_TRACE(size);
    const std::string key = "size-" + std::to_string(size);
    const std::vector<uint8_t> value = Pattern(size, static_cast<uint32_t>(size));
    ASSERT_TRUE(client_->Put(key, value).ok());
    auto got = client_->Get(key);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == value);
    EXPECT_EQ(client_->GetSize(key).value(), size);
    ASSERT_TRUE(client_->Remove(key, RemoveMode::kForce).ok());
  }
}

TEST_F(StoreClusterTest, ValuesLargerThanStagingMoveInPieces) {
  auto small_staging = NewClient(uint64_t{1} << 20);
  const std::vector<uint8_t> value = Pattern((size_t{5} << 20) + 123, 7);
  ASSERT_TRUE(small_staging->Put("big", value).ok());
  auto got = small_staging->Get("big");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == value);
  auto other = client_->Get("big");  // and any other client reads the same bytes
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(*other == value);
}

TEST_F(StoreClusterTest, PutOfAnExistingKeyKeepsTheOldValueUnlessUpsert) {
  const auto first = Pattern(1000, 1);
  const auto second = Pattern(2000, 2);
  ASSERT_TRUE(client_->Put("k", first).ok());
  EXPECT_EQ(client_->Put("k", second).code(), StatusCode::kObjectAlreadyExists);
  EXPECT_TRUE(client_->Get("k").value() == first);
  ASSERT_TRUE(client_->Put("k", second, {}, PutMode::kUpsert).ok());
  EXPECT_TRUE(client_->Get("k").value() == second);
}

TEST_F(StoreClusterTest, ZeroCopyBatchesAndRanges) {
  constexpr size_t kBlock = 64 << 10;
  constexpr size_t kBlocks = 16;
  std::vector<uint8_t> source = Pattern(kBlock * kBlocks, 3);
  std::vector<uint8_t> destination(kBlock * kBlocks, 0);
  ASSERT_TRUE(client_->RegisterBuffer(source.data(), source.size()).ok());
  ASSERT_TRUE(client_->RegisterBuffer(destination.data(), destination.size()).ok());
  std::vector<std::string> keys;
  std::vector<const void*> sources;
  std::vector<void*> destinations;
  std::vector<size_t> lengths;
  for (size_t i = 0; i < kBlocks; ++i) {
    keys.push_back("block-" + std::to_string(i));
    sources.push_back(source.data() + i * kBlock);
    destinations.push_back(destination.data() + i * kBlock);
    lengths.push_back(kBlock);
  }
  for (const Status& s : client_->BatchPutFrom(keys, sources, lengths))
    ASSERT_TRUE(s.ok()) << s.ToString();
  keys.push_back("missing");
  destinations.push_back(destination.data());
  lengths.push_back(kBlock);
  auto got = client_->BatchGetInto(keys, destinations, lengths);
  ASSERT_EQ(got.size(), kBlocks + 1);
  for (size_t i = 0; i < kBlocks; ++i) EXPECT_EQ(got[i].value(), kBlock);
  EXPECT_EQ(got[kBlocks].status().code(), StatusCode::kObjectNotFound);
  EXPECT_TRUE(source == destination);

  // Ranges: the second half of block 1 and the first 100 bytes of block 2, side by side.
  std::fill(destination.begin(), destination.end(), 0);
  auto ranges = client_->GetIntoRanges({{"block-1", kBlock / 2, destination.data(), kBlock / 2},
                                        {"block-2", 0, destination.data() + kBlock / 2, 100},
                                        {"block-3", kBlock - 10, destination.data(), 11}});
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_TRUE(ranges[0].ok()) << ranges[0].ToString();
  EXPECT_TRUE(ranges[1].ok());
  EXPECT_EQ(ranges[2].code(), StatusCode::kInvalidParams);  // past the end of block-3
  EXPECT_EQ(0, std::memcmp(destination.data(), source.data() + kBlock + kBlock / 2, kBlock / 2));
  EXPECT_EQ(0, std::memcmp(destination.data() + kBlock / 2, source.data() + 2 * kBlock, 100));

  // An object larger than the buffer it is read into.
  EXPECT_EQ(client_->GetInto("block-0", destination.data(), kBlock - 1).status().code(),
            StatusCode::kBufferOverflow);
}

TEST_F(StoreClusterTest, BatchGetOfPlainBytes) {
  std::vector<std::string> keys;
  std::vector<std::vector<uint8_t>> values;
  std::vector<std::span<const uint8_t>> spans;
  for (int i = 0; i < 64; ++i) {
    keys.push_back("kv-" + std::to_string(i));
    values.push_back(Pattern(4096, 100 + i));
  }
  for (const auto& v : values) spans.emplace_back(v);
  for (const Status& s : client_->BatchPut(keys, spans)) ASSERT_TRUE(s.ok()) << s.ToString();
  auto got = client_->BatchGet(keys);
  ASSERT_EQ(got.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].status().ToString();
    EXPECT_TRUE(*got[i] == values[i]) << keys[i];
  }
}

TEST_F(StoreClusterTest, ReplicasSurviveANodeKilledWithSigkill) {
  ReplicateConfig two;
  two.replica_num = 2;
  const auto value = Pattern(1 << 20, 9);
  ASSERT_TRUE(client_->Put("replicated", value, two).ok());
  ASSERT_TRUE(client_->Put("single", value).ok());
  cluster_->node(0).Kill(SIGKILL);
  // Before the master notices, a read of the dead replica fails and the next one serves it.
  for (int i = 0; i < 4; ++i) {
    auto got = client_->Get("replicated");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == value);
  }
  // After client_ttl (1 s) the dead node's replicas are dropped: the replicated object stays,
  // an object whose only replica was there is gone (or, if it was on the live node, intact).
  std::this_thread::sleep_for(milliseconds(2000));
  EXPECT_TRUE(client_->Get("replicated").ok());
  auto single = client_->Get("single");
  if (single.ok()) {
    EXPECT_TRUE(*single == value);
  } else {
    EXPECT_EQ(single.status().code(), StatusCode::kObjectNotFound) << single.status().ToString();
  }
  auto info = Admin()->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->segments.size(), 1u);
  EXPECT_EQ(info->objects_below_replica_target, 1u);
}

TEST_F(StoreClusterTest, ANodeRestartedOnItsPortNeverServesStaleBytes) {
  ReplicateConfig on_node0;
  on_node0.preferred_segments = {NodeName(0)};
  const auto value = Pattern(256 << 10, 11);
  ASSERT_TRUE(client_->Put("on-0", value, on_node0).ok());
  cluster_->node(0).Kill(SIGKILL);
  StartNode(0);  // a new process, a new epoch, fresh (zeroed) memory on the same port
  auto got = client_->Get("on-0");
  EXPECT_EQ(got.status().code(), StatusCode::kObjectNotFound) << got.status().ToString();
  // The restarted node serves new puts.
  ASSERT_TRUE(client_->Put("after", value, on_node0).ok());
  EXPECT_TRUE(client_->Get("after").value() == value);
}

TEST_F(StoreClusterTest, BadKeysAndSizesAreClearErrors) {
  EXPECT_EQ(client_->Put("", Pattern(10, 1)).code(), StatusCode::kInvalidKey);
  EXPECT_EQ(client_->Put(std::string(5000, 'k'), Pattern(10, 1)).code(), StatusCode::kInvalidKey);
  EXPECT_EQ(client_->Get("never-put").status().code(), StatusCode::kObjectNotFound);
  const Status too_big = client_->Put("too-big", Pattern(size_t{100} << 20, 1));
  EXPECT_EQ(too_big.code(), StatusCode::kNoAvailableHandle) << too_big.ToString();
  EXPECT_FALSE(client_->IsExist("too-big").value());
}

TEST(StoreClientTest, UnreachableMasterFailsCreateNamingIt) {
  ClientOptions options;
  options.master_address = "127.0.0.1:" + std::to_string(testing::PickFreeTcpPort().value());
  options.rpc_timeout = milliseconds(500);
  auto client = Client::Create(options);
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status().message(), HasSubstr(options.master_address));
}

}  // namespace
}  // namespace mooncake::store
