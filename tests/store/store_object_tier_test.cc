// The object-storage tier behind the pool (mooncake_master --object_store, write-through):
// puts are uploaded before they are acknowledged, a whole cluster restarted with empty DRAM
// serves every object by read-through (and puts it back into the pool), removes reach the
// bucket, and a put whose upload fails is refused and invisible. Real processes, a real
// S3-compatible server (s3rver) and the file:// backend.

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "mooncake/store/client.h"
#include "store_test_cluster.h"
#include "store_test_values.h"
#include "testing/binary_path.h"
#include "testing/process_launcher.h"
#include "testing/s3_server.h"
#include "testing/temp_dir.h"
#include "tier/object_store.h"

namespace mooncake::store {
namespace {

constexpr const char* kBucket = "mc-tier";

// Parameter: "s3" (s3rver) or "file".
class StoreObjectTierTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("mc_object_tier");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    std::vector<std::string> master_args;
    if (GetParam() == "s3") {
      auto s3 = S3Server::Start(kBucket);
      if (s3.status().code() == StatusCode::kNotSupported) GTEST_SKIP() << s3.status().ToString();
      ASSERT_TRUE(s3.ok()) << s3.status().ToString();
      s3_ = std::move(*s3);
      url_ = std::string("s3://") + kBucket + "/pool";
      endpoint_ = s3_->endpoint();
      master_args = {"--object_store=" + url_, "--object_store_endpoint=" + endpoint_};
    } else {
      url_ = "file://" + dir_->path() + "/bucket";
      master_args = {"--object_store=" + url_, "--object_store_policy=write-through"};
    }
    StoreTestClusterOptions options;
    options.nodes = 1;
    options.master_args = master_args;
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    client_ = NewClient();
    ASSERT_TRUE(client_);
    tier::ObjectStoreOptions store_options;
    store_options.url = url_;
    store_options.endpoint = endpoint_;
    store_options.access_key_id = S3Server::kAccessKey;
    store_options.secret_access_key = S3Server::kSecretKey;
    auto store = tier::ObjectStore::Create(store_options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    bucket_ = std::move(*store);
  }

  std::unique_ptr<Client> NewClient() {
    ClientOptions options;
    options.master_address = cluster_->master_address();
    options.object_store_access_key_id = S3Server::kAccessKey;
    options.object_store_secret_access_key = S3Server::kSecretKey;
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // Everything restarted: master (empty index) and node (empty DRAM), a new client.
  void RestartCluster() {
    client_.reset();
    ASSERT_TRUE(cluster_->StartMaster().ok());
    ASSERT_TRUE(cluster_->StartNode(0).ok());
    client_ = NewClient();
    ASSERT_TRUE(client_);
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<S3Server> s3_;
  std::string url_;
  std::string endpoint_;
  std::unique_ptr<StoreTestCluster> cluster_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<tier::ObjectStore> bucket_;
};

TEST_P(StoreObjectTierTest, PutsAreInTheBucketBeforeTheyAreAcknowledged) {
  const std::vector<uint8_t> value = Pattern(300000, 1);
  ASSERT_TRUE(client_->Put("tier/a", value).ok());
  std::vector<char> stored(value.size());
  ASSERT_TRUE(bucket_->Get("tier/a", 0, stored).ok());
  EXPECT_EQ(std::memcmp(stored.data(), value.data(), value.size()), 0);
  // Zero-copy and batched puts too.
  std::vector<uint8_t> registered = Pattern(8192, 2);
  Status registered_ok = client_->RegisterBuffer(registered.data(), registered.size());
  ASSERT_TRUE(registered_ok.ok()) << registered_ok.ToString();
  ASSERT_TRUE(client_->PutFrom("tier/b", registered.data(), registered.size()).ok());
  auto batch = client_->BatchPut({"tier/c", "tier/d"}, {value, registered});
  ASSERT_TRUE(batch[0].ok() && batch[1].ok());
  EXPECT_EQ(client_->object_tier_stats().uploads, 4u);
  auto listed = bucket_->List("tier/");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 4u);
}

TEST_P(StoreObjectTierTest, ARestartedClusterServesEverythingByReadThrough) {
  std::vector<std::vector<uint8_t>> values;
  for (int i = 0; i < 5; ++i) {
    values.push_back(Pattern(1000 + i * 70000, i));
    ASSERT_TRUE(client_->Put("rt/" + std::to_string(i), values.back()).ok());
  }
  RestartCluster();
  // The pool is empty, yet the objects exist (in the object store) with their sizes.
  EXPECT_TRUE(*client_->IsExist("rt/0"));
  EXPECT_EQ(*client_->GetSize("rt/1"), values[1].size());
  EXPECT_EQ(client_->object_tier_stats().read_throughs, 0u);
  for (int i = 0; i < 3; ++i) {
    auto got = client_->Get("rt/" + std::to_string(i));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, values[i]) << i;
  }
  // Zero-copy and batched gets read through too.
  std::vector<uint8_t> buffer(300000);
  Status registered_ok = client_->RegisterBuffer(buffer.data(), buffer.size());
  ASSERT_TRUE(registered_ok.ok()) << registered_ok.ToString();
  auto into = client_->GetInto("rt/3", buffer.data(), buffer.size());
  ASSERT_TRUE(into.ok()) << into.status().ToString();
  EXPECT_TRUE(std::equal(values[3].begin(), values[3].end(), buffer.begin()));
  auto batch = client_->BatchGet({"rt/4", "never-put"});
  ASSERT_TRUE(batch[0].ok()) << batch[0].status().ToString();
  EXPECT_EQ(*batch[0], values[4]);
  EXPECT_EQ(batch[1].status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(client_->object_tier_stats().read_throughs, 5u);
  EXPECT_EQ(client_->object_tier_stats().promotions, 5u);
  // Put back into the pool: the next read is a pool hit.
  ASSERT_TRUE(client_->Get("rt/0").ok());
  EXPECT_EQ(client_->object_tier_stats().read_throughs, 5u);
}

TEST_P(StoreObjectTierTest, RemovesReachTheBucket) {
  ASSERT_TRUE(client_->Put("rm/a", Pattern(100, 1)).ok());
  ASSERT_TRUE(client_->Put("rm/b", Pattern(100, 2)).ok());
  ASSERT_TRUE(client_->Put("keep", Pattern(100, 3)).ok());
  ASSERT_TRUE(client_->Remove("rm/a").ok());
  EXPECT_EQ(bucket_->Head("rm/a").status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(client_->Get("rm/a").status().code(), StatusCode::kObjectNotFound);
  EXPECT_FALSE(*client_->IsExist("rm/a"));
  EXPECT_EQ(client_->GetSize("rm/a").status().code(), StatusCode::kObjectNotFound);
  // Only in the bucket (the cluster restarted): Remove still removes it.
  RestartCluster();
  ASSERT_TRUE(client_->Remove("rm/b").ok());
  EXPECT_EQ(bucket_->Head("rm/b").status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(client_->Remove("rm/b").code(), StatusCode::kObjectNotFound);
  auto all = client_->RemoveAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(bucket_->List("")->size(), 0u);
}

// The CLI's exists and rm reach the object store too (with AWS_* credentials).
TEST_P(StoreObjectTierTest, CliExistsAndRmSeeTheBucket) {
  ASSERT_TRUE(client_->Put("cli/k", Pattern(5000, 4)).ok());
  RestartCluster();  // only in the bucket now
  auto cli = [&](std::vector<std::string> args) {
    ProcessOptions options;
    options.binary = BinaryPath("mooncake");
    options.args = {"--master=" + cluster_->master_address()};
    options.args.insert(options.args.end(), args.begin(), args.end());
    options.extra_env = {{"AWS_ACCESS_KEY_ID", S3Server::kAccessKey},
                         {"AWS_SECRET_ACCESS_KEY", S3Server::kSecretKey}};
    auto child = ChildProcess::Start(options);
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    if (!child.ok()) return -1;
    auto code = (*child)->Wait(std::chrono::seconds(30));
    EXPECT_TRUE(code.ok()) << (*child)->ReadLog();
    return code.ok() ? *code : -1;
  };
  EXPECT_EQ(cli({"exists", "cli/k"}), 0);
  EXPECT_EQ(cli({"rm", "cli/k"}), 0);
  EXPECT_EQ(bucket_->Head("cli/k").status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(cli({"exists", "cli/k"}), 1);
  EXPECT_EQ(cli({"rm", "cli/k"}), 1);  // key not found
}

TEST_P(StoreObjectTierTest, APutWhoseUploadFailsIsRefusedAndInvisible) {
  if (GetParam() != "s3") GTEST_SKIP() << "needs a server to stop";
  s3_->Stop();
  Status s = client_->Put("lost", Pattern(1000, 9));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("write-through upload"), std::string::npos) << s.ToString();
  EXPECT_EQ(client_->object_tier_stats().upload_failures, 1u);
  // While the object store is down, whether a key exists cannot be told: an error, not "no".
  EXPECT_FALSE(client_->IsExist("lost").ok());
  ASSERT_TRUE(s3_->Restart().ok());
  auto exists = client_->IsExist("lost");  // neither in the pool nor in the bucket
  ASSERT_TRUE(exists.ok()) << exists.status().ToString();
  EXPECT_FALSE(*exists);
  EXPECT_TRUE(client_->Put("lost", Pattern(1000, 9)).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreObjectTierTest, ::testing::Values("s3", "file"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mooncake::store
