// Write-back (mooncake_master --object_store_policy=write-back): puts are acknowledged before
// they reach the object store; the storage node holding each object uploads it afterwards. With
// the S3 server stopped for a while, puts still succeed, uploads fail and are retried, the
// backlog shows in the master's counters and the node's /metrics, and nothing is lost: once the
// server is back the backlog drains, and a whole cluster restarted with empty DRAM serves every
// object by read-through. Until an object is uploaded, eviction keeps it: a pool full of such
// objects refuses puts with a clear error instead of dropping acknowledged data. Real
// processes (master, node), a real S3-compatible server (s3rver), SIGKILL to stop it.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "master/client/master_client.h"
#include "mooncake/store/client.h"
#include "store_test_cluster.h"
#include "store_test_values.h"
#include "testing/s3_server.h"
#include "tier/object_store.h"

namespace mooncake::store {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* kBucket = "mc-write-back";

class StoreWriteBackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s3 = testing::S3Server::Start(kBucket);
    if (s3.status().code() == StatusCode::kNotSupported) GTEST_SKIP() << s3.status().ToString();
    ASSERT_TRUE(s3.ok()) << s3.status().ToString();
    s3_ = std::move(*s3);
    // The nodes (child processes) take their credentials from the environment, as
    // mooncake_node does in production.
    ::setenv("AWS_ACCESS_KEY_ID", testing::S3Server::kAccessKey, 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", testing::S3Server::kSecretKey, 1);
    tier::ObjectStoreOptions store_options;
    store_options.url = std::string("s3://") + kBucket + "/pool";
    store_options.endpoint = s3_->endpoint();
    store_options.access_key_id = testing::S3Server::kAccessKey;
    store_options.secret_access_key = testing::S3Server::kSecretKey;
    store_options.max_attempts = 1;
    auto store = tier::ObjectStore::Create(store_options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    bucket_ = std::move(*store);
  }

  void ConnectMaster() {
    master::MasterClientOptions master_options;
    master_options.master_address = cluster_->master_address();
    auto master = master::MasterClient::Create(master_options);
    ASSERT_TRUE(master.ok()) << master.status().ToString();
    master_ = std::move(*master);
  }

  void StartCluster(const std::string& segment_size) {
    StoreTestClusterOptions options;
    options.nodes = 1;
    options.segment_size = segment_size;
    options.node_metrics = true;
    options.metrics = true;
    options.master_args = {std::string("--object_store=s3://") + kBucket + "/pool",
                           "--object_store_endpoint=" + s3_->endpoint(),
                           "--object_store_policy=write-back", "--tick_interval=20"};
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    client_ = NewClient();
    ASSERT_TRUE(client_);
    ConnectMaster();
  }

  std::unique_ptr<Client> NewClient() {
    ClientOptions options;
    options.master_address = cluster_->master_address();
    options.object_store_access_key_id = testing::S3Server::kAccessKey;
    options.object_store_secret_access_key = testing::S3Server::kSecretKey;
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  TierStats Tier() {
    auto info = master_->GetClusterInfo();
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    if (info.ok()) {
      EXPECT_EQ(info->object_store_policy, "write-back");
    }
    return info.ok() ? info->tier : TierStats{};
  }

  // Polls the master's counters (every 20 ms, at most `limit`) until `done` holds.
  bool WaitFor(const std::function<bool(const TierStats&)>& done, milliseconds limit) {
    const auto deadline = steady_clock::now() + limit;
    while (steady_clock::now() < deadline) {
      if (done(Tier())) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return done(Tier());
  }

  // The value of `sample` (a metric name with its labels) on the /metrics at `port` (-1 when
  // absent).
  static double Scrape(int port, const std::string& sample) {
    httplib::Client http("127.0.0.1", port);
    auto response = http.Get("/metrics");
    if (!response) return -1;
    const size_t at = response->body.find("\n" + sample + " ");
    return at == std::string::npos ? -1 : std::stod(response->body.substr(at + sample.size() + 2));
  }
  // mooncake_node_uploads{what="<what>"} on the node's /metrics.
  double NodeUploads(const std::string& what) {
    return Scrape(cluster_->node_metrics_port(0), "mooncake_node_uploads{what=\"" + what + "\"}");
  }
  // A sample of the master's /metrics.
  double MasterMetric(const std::string& sample) {
    return Scrape(cluster_->metrics_port(), sample);
  }

  void ExpectInBucket(const std::string& key, const std::vector<uint8_t>& value) {
    std::vector<char> stored(value.size());
    Status got = bucket_->Get(key, 0, stored);
    ASSERT_TRUE(got.ok()) << key << ": " << got.ToString();
    EXPECT_EQ(std::memcmp(stored.data(), value.data(), value.size()), 0) << key;
  }

  std::unique_ptr<testing::S3Server> s3_;
  std::unique_ptr<tier::ObjectStore> bucket_;
  std::unique_ptr<StoreTestCluster> cluster_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<master::MasterClient> master_;
};

TEST_F(StoreWriteBackTest, UploadsAfterTheAckSurviveAnS3OutageAndServeARestartedCluster) {
  StartCluster("96MiB");
  std::vector<std::vector<uint8_t>> values;
  auto key = [](size_t i) { return "wb/" + std::to_string(i); };
  for (size_t i = 0; i < 12; ++i) {
    values.push_back(Pattern(1000 + i * 90001, static_cast<uint32_t>(i)));
    ASSERT_TRUE(client_->Put(key(i), values.back()).ok()) << i;
  }
  EXPECT_EQ(client_->object_tier_stats().uploads, 0u) << "the writer does not upload";
  ASSERT_TRUE(WaitFor([](const TierStats& t) { return t.upload_backlog_objects == 0; },
                      milliseconds(20000)))
      << "backlog never drained: " << Tier().upload_backlog_objects;
  EXPECT_EQ(Tier().object_uploads, 12u);
  for (size_t i = 0; i < values.size(); ++i) ExpectInBucket(key(i), values[i]);

  // The S3 server goes away: puts are still acknowledged, their uploads fail and wait.
  s3_->Stop();
  for (size_t i = 12; i < 20; ++i) {
    values.push_back(Pattern(5000 + i * 40009, static_cast<uint32_t>(i)));
    ASSERT_TRUE(client_->Put(key(i), values.back()).ok()) << i;
  }
  // Each object fails, waits, and is tried again (the outage lasts a few retries).
  ASSERT_TRUE(WaitFor(
      [](const TierStats& t) {
        return t.object_upload_failures >= 2 * 8 && t.upload_backlog_objects == 8;
      },
      milliseconds(20000)))
      << "failures " << Tier().object_upload_failures << ", backlog "
      << Tier().upload_backlog_objects;
  const TierStats during = Tier();
  EXPECT_GT(during.upload_backlog_bytes, 8u * 5000);
  EXPECT_GT(NodeUploads("failed"), 0);
  EXPECT_EQ(MasterMetric("mooncake_master_upload_backlog{what=\"objects\"}"), 8);
  EXPECT_GT(MasterMetric("mooncake_master_tier{counter=\"object_upload_failures\"}"), 0);
  // Everything is still readable from the pool meanwhile.
  for (size_t i = 0; i < values.size(); ++i) {
    auto got = client_->Get(key(i));
    ASSERT_TRUE(got.ok()) << key(i) << ": " << got.status().ToString();
    EXPECT_EQ(*got, values[i]) << key(i);
  }

  // Back: the retries drain the backlog.
  ASSERT_TRUE(s3_->Restart().ok());
  ASSERT_TRUE(WaitFor([](const TierStats& t) { return t.upload_backlog_objects == 0; },
                      milliseconds(60000)))
      << "backlog after the S3 server returned: " << Tier().upload_backlog_objects;
  EXPECT_EQ(Tier().object_uploads, 20u);
  EXPECT_EQ(NodeUploads("queued"), 0);
  for (size_t i = 12; i < values.size(); ++i) ExpectInBucket(key(i), values[i]);
  EXPECT_EQ(MasterMetric("mooncake_master_upload_backlog{what=\"objects\"}"), 0);
  EXPECT_GE(MasterMetric("mooncake_master_tier_hits_total{tier=\"dram\"}"), 20)
      << "the reads above";

  // A brand-new cluster with empty DRAM serves every object from the bucket. (Every channel
  // to the old master goes first: gRPC would share its broken connection with new ones.)
  client_.reset();
  master_.reset();
  ASSERT_TRUE(cluster_->StartMaster().ok());
  ASSERT_TRUE(cluster_->StartNode(0).ok());
  client_ = NewClient();
  ASSERT_TRUE(client_);
  for (size_t i = 0; i < values.size(); ++i) {
    auto got = client_->Get(key(i));
    ASSERT_TRUE(got.ok()) << key(i) << ": " << got.status().ToString();
    EXPECT_EQ(*got, values[i]) << key(i);
  }
  EXPECT_EQ(client_->object_tier_stats().read_throughs, values.size());
}

TEST_F(StoreWriteBackTest, AMasterRestartKeepsKnowingWhatWasUploaded) {
  StartCluster("96MiB");
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client_->Put("mr/" + std::to_string(i), Pattern(20000, i)).ok());
  }
  ASSERT_TRUE(WaitFor([](const TierStats& t) { return t.upload_backlog_objects == 0; },
                      milliseconds(20000)));
  // kill -9 the master; the node re-mounts with its manifest, which says what it uploaded.
  client_.reset();
  master_.reset();
  ASSERT_TRUE(cluster_->StartMaster().ok());
  ConnectMaster();
  const auto deadline = steady_clock::now() + milliseconds(10000);
  uint64_t objects = 0;
  while (objects < 10 && steady_clock::now() < deadline) {
    auto info = master_->GetClusterInfo();
    if (info.ok()) objects = info->objects;
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_EQ(objects, 10u) << "the node did not re-announce its objects";
  EXPECT_EQ(Tier().upload_backlog_objects, 0u) << "adopted as uploaded";
  std::this_thread::sleep_for(milliseconds(300));  // ~15 ticks: no upload is scheduled
  EXPECT_EQ(Tier().object_uploads, 0u);
  EXPECT_EQ(Tier().uploads_in_flight, 0u);
  // New puts are uploaded by the new master's nodes as before.
  client_ = NewClient();
  ASSERT_TRUE(client_);
  ASSERT_TRUE(client_->Put("mr/new", Pattern(1000, 77)).ok());
  ASSERT_TRUE(
      WaitFor([](const TierStats& t) { return t.object_uploads == 1; }, milliseconds(20000)));
}

TEST_F(StoreWriteBackTest, APoolFullOfObjectsNotYetUploadedRefusesPutsAndLosesNothing) {
  StartCluster("8MiB");
  s3_->Stop();  // nothing can be uploaded
  std::vector<std::vector<uint8_t>> values;
  Status refused;
  // 1 MiB objects into 8 MiB: bounded by the pool's size.
  for (size_t i = 0; i < 16 && refused.ok(); ++i) {
    std::vector<uint8_t> value = Pattern(1 << 20, static_cast<uint32_t>(i));
    refused = client_->Put("full/" + std::to_string(i), value);
    if (refused.ok()) values.push_back(std::move(value));
  }
  ASSERT_FALSE(refused.ok()) << "16 MiB fit in an 8 MiB pool";
  EXPECT_EQ(refused.code(), StatusCode::kNoAvailableHandle) << refused.ToString();
  EXPECT_NE(refused.message().find("write-back upload"), std::string::npos) << refused.ToString();
  ASSERT_GE(values.size(), 4u);
  EXPECT_EQ(Tier().upload_backlog_objects, values.size());

  // Once uploaded, old objects may be evicted and new puts fit again.
  ASSERT_TRUE(s3_->Restart().ok());
  ASSERT_TRUE(WaitFor([](const TierStats& t) { return t.upload_backlog_objects == 0; },
                      milliseconds(60000)));
  const std::vector<uint8_t> more = Pattern(1 << 20, 99);
  Status put = client_->Put("full/more", more);
  ASSERT_TRUE(put.ok()) << put.ToString();
  // Evicted or not, every acknowledged object is still there (pool or read-through). (Not read
  // before: a read's lease would keep the object from eviction for a while.)
  for (size_t i = 0; i < values.size(); ++i) {
    auto got = client_->Get("full/" + std::to_string(i));
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
    EXPECT_EQ(*got, values[i]) << i;
  }
}

}  // namespace
}  // namespace mooncake::store
