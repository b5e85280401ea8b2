// The object-storage tier behind the pool (mooncake_master --object_store, write-through):
// puts are uploaded before they are acknowledged, a whole cluster restarted with empty DRAM
// serves every object by read-through (and puts it back into the pool), removes reach the
// bucket, and a put whose upload fails is refused and invisible. Real processes, a real
// S3-compatible server (s3rver) and the file:// backend.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
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
    auto dir = testing::TempDir::Create("mc_object_tier");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    std::vector<std::string> master_args;
    if (GetParam() == "s3") {
      auto s3 = testing::S3Server::Start(kBucket);
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
    store_options.access_key_id = testing::S3Server::kAccessKey;
    store_options.secret_access_key = testing::S3Server::kSecretKey;
    auto store = tier::ObjectStore::Create(store_options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    bucket_ = std::move(*store);
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

  // Everything restarted: master (empty index) and node (empty DRAM), a new client.
  void RestartCluster() {
    client_.reset();
    ASSERT_TRUE(cluster_->StartMaster().ok());
    ASSERT_TRUE(cluster_->StartNode(0).ok());
    client_ = NewClient();
    ASSERT_TRUE(client_);
  }

  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<testing::S3Server> s3_;
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
    testing::ProcessOptions options;
    options.binary = testing::BinaryPath("mooncake");
    options.args = {"--master=" + cluster_->master_address()};
    options.args.insert(options.args.end(), args.begin(), args.end());
    options.extra_env = {{"AWS_ACCESS_KEY_ID", testing::S3Server::kAccessKey},
                         {"AWS_SECRET_ACCESS_KEY", testing::S3Server::kSecretKey}};
    auto child = testing::ChildProcess::Start(options);
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

// The bucket's copy changed behind the store's back (a flipped bit on the object server's
// disk): a read-through must fail with CHECKSUM_MISMATCH, never hand the bytes out or put them
// back into the pool (docs/integrity.md).
TEST_P(StoreObjectTierTest, AnObjectDamagedInTheBucketIsNeverReadThrough) {
  const std::vector<uint8_t> value = Pattern(200000, 77);
  ASSERT_TRUE(client_->Put("damaged", value).ok());
  RestartCluster();
  // Find the file holding the object's bytes wherever the backend keeps it, and flip one.
  const std::string root = s3_ ? s3_->data_dir() : dir_->path() + "/bucket";
  bool flipped = false;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<uint8_t> file{std::istreambuf_iterator<char>(in), {}};
    const auto at = std::search(file.begin(), file.end(), value.begin(), value.begin() + 256);
    if (at == file.end()) continue;
    std::fstream out(entry.path(), std::ios::binary | std::ios::in | std::ios::out);
    out.seekp((at - file.begin()) + 100000);
    out.put(static_cast<char>(value[100000] ^ 0x40));
    flipped = out.good();
    break;
  }
  ASSERT_TRUE(flipped) << "the object's bytes were not found under " << root;
  // A ranged read-through of a pool miss is checked too: the bucket keeps only the whole
  // object's CRC32C, so the range costs a read of the whole object, which fails its check.
  std::vector<uint8_t> buffer(4096);
  ASSERT_TRUE(client_->RegisterBuffer(buffer.data(), buffer.size()).ok());
  const Status ranged = client_->GetIntoRanges({{"damaged", 50, buffer.data(), 100}})[0];
  EXPECT_EQ(ranged.code(), StatusCode::kChecksumMismatch)
      << "a range of an object damaged in the bucket: " << ranged.ToString();
  auto got = client_->Get("damaged");
  ASSERT_FALSE(got.ok()) << "a read-through returned " << got->size() << " damaged bytes";
  EXPECT_EQ(got.status().code(), StatusCode::kChecksumMismatch) << got.status().ToString();
  EXPECT_EQ(client_->object_tier_stats().promotions, 0u) << "damaged bytes put back in the pool";
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreObjectTierTest, ::testing::Values("s3", "file"),
                         [](const auto& info) { return info.param; });

// GetIntoRanges of a key the pool does not hold reads the ranges from the object store (range
// GETs) and does not put the object back (a range is not the whole object).
TEST_P(StoreObjectTierTest, RangesOfAnObjectOnlyInTheBucketAreReadThrough) {
  const std::vector<uint8_t> value = Pattern(500000, 31);
  ASSERT_TRUE(client_->Put("ranges/a", value).ok());
  RestartCluster();  // only in the bucket now
  std::vector<uint8_t> buffer(16384, 0);
  Status registered = client_->RegisterBuffer(buffer.data(), buffer.size());
  ASSERT_TRUE(registered.ok()) << registered.ToString();
  uint8_t* at = buffer.data();
  const std::vector<GetRange> ranges = {
      {"ranges/a", 0, at, 1000},                         // the head
      {"ranges/a", 123457, at + 1000, 4096},             // the middle, unaligned
      {"ranges/a", value.size() - 777, at + 5096, 777},  // the tail
      {"ranges/a", value.size() - 10, at + 6000, 20},    // past the end
      {"ranges/none", 0, at + 7000, 10},                 // in neither the pool nor the bucket
  };
  const std::vector<Status> got = client_->GetIntoRanges(ranges);
  ASSERT_EQ(got.size(), ranges.size());
  for (size_t r = 0; r < 3; ++r) {
    ASSERT_TRUE(got[r].ok()) << r << ": " << got[r].ToString();
    const auto* wanted = value.data() + ranges[r].source_offset;
    EXPECT_TRUE(std::equal(wanted, wanted + ranges[r].length,
                           static_cast<const uint8_t*>(ranges[r].destination)))
        << "range " << r;
  }
  EXPECT_EQ(got[3].code(), StatusCode::kInvalidParams) << got[3].ToString();
  EXPECT_EQ(got[4].code(), StatusCode::kObjectNotFound) << got[4].ToString();
  EXPECT_EQ(client_->object_tier_stats().read_throughs, 1u);
  EXPECT_EQ(client_->object_tier_stats().promotions, 0u);
  // Not put back: the pool still lacks it, and a whole Get then reads it through (and puts it
  // back).
  std::unique_ptr<master::MasterClient> admin = TestAdmin(cluster_->master_address());
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->GetReplicaList("ranges/a").status().code(), StatusCode::kObjectNotFound);
  auto whole = client_->Get("ranges/a");
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(*whole, value);
  EXPECT_EQ(client_->object_tier_stats().promotions, 1u);
}

// A master that declares a killed node dead only after a minute, and a client that reaches
// the node over TCP (a same-host client's shared-memory mapping outlives a killed node for a
// moment): reads right after the kill find the master still listing the dead node's replicas,
// and every transfer from it fails.
class StoreObjectTierFallThroughTest : public StoreObjectTierTest {
 protected:
  void SetUp() override {
    StoreObjectTierTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    client_.reset();
    cluster_.reset();
    StoreTestClusterOptions options;
    options.nodes = 1;
    options.client_ttl_s = 60;
    options.master_args = {"--object_store=" + url_};
    options.master_args.push_back(GetParam() == "s3" ? "--object_store_endpoint=" + endpoint_
                                                     : "--object_store_policy=write-through");
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    ClientOptions client;
    client.master_address = cluster_->master_address();
    client.protocol = "tcp";
    client.transfer_timeout = std::chrono::milliseconds(3000);
    client.object_store_access_key_id = testing::S3Server::kAccessKey;
    client.object_store_secret_access_key = testing::S3Server::kSecretKey;
    auto created = Client::Create(client);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    client_ = std::move(*created);
    admin_ = TestAdmin(cluster_->master_address());
    ASSERT_NE(admin_, nullptr);
  }

  std::unique_ptr<master::MasterClient> admin_;
};

// Every replica failing is not the end of a read when the object tier holds the object: Get,
// BatchGet, GetInto, BatchGetInto and GetIntoRanges are served from the bucket (the version
// the master lists, checked), nothing is put back while the master still lists the replica,
// and a bucket holding another version is not served.
TEST_P(StoreObjectTierFallThroughTest, ReadsOfADeadNodesReplicasFallThroughToTheObjectStore) {
  const std::vector<uint8_t> a = Pattern(200000, 41);
  const std::vector<uint8_t> b = Pattern(70000, 42);
  const std::vector<uint8_t> c = Pattern(5000, 43);
  ASSERT_TRUE(client_->Put("ft/a", a).ok());
  ASSERT_TRUE(client_->Put("ft/b", b).ok());
  ASSERT_TRUE(client_->Put("ft/c", c).ok());
  // The bucket's copy of ft/c is replaced behind the pool's back: not the version listed.
  ASSERT_TRUE(
      bucket_->Put("ft/c", std::span<const char>(reinterpret_cast<const char*>(b.data()), c.size()))
          .ok());
  std::vector<uint8_t> buffer(a.size() + b.size(), 0);
  Status registered = client_->RegisterBuffer(buffer.data(), buffer.size());
  ASSERT_TRUE(registered.ok()) << registered.ToString();
  // Read once while the node lives: the client has its location cached and a connection.
  ASSERT_TRUE(client_->Get("ft/a").ok());

  cluster_->node(0).Kill(SIGKILL);
  auto got = client_->Get("ft/a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, a);
  auto batch = client_->BatchGet({"ft/a", "ft/b", "never-put"});
  ASSERT_TRUE(batch[0].ok()) << batch[0].status().ToString();
  EXPECT_EQ(*batch[0], a);
  ASSERT_TRUE(batch[1].ok()) << batch[1].status().ToString();
  EXPECT_EQ(*batch[1], b);
  EXPECT_EQ(batch[2].status().code(), StatusCode::kObjectNotFound);
  auto into = client_->GetInto("ft/b", buffer.data(), buffer.size());
  ASSERT_TRUE(into.ok()) << into.status().ToString();
  EXPECT_EQ(*into, b.size());
  EXPECT_TRUE(std::equal(b.begin(), b.end(), buffer.begin()));
  std::fill(buffer.begin(), buffer.end(), 0);
  auto batch_into = client_->BatchGetInto(
      {"ft/a", "ft/b"}, {buffer.data(), buffer.data() + a.size()}, {a.size(), b.size()});
  ASSERT_TRUE(batch_into[0].ok()) << batch_into[0].status().ToString();
  ASSERT_TRUE(batch_into[1].ok()) << batch_into[1].status().ToString();
  EXPECT_TRUE(std::equal(a.begin(), a.end(), buffer.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), buffer.begin() + a.size()));
  std::fill(buffer.begin(), buffer.end(), 0);
  const std::vector<Status> ranges = client_->GetIntoRanges(
      {{"ft/a", 1000, buffer.data(), 5000}, {"ft/a", a.size() - 300, buffer.data() + 5000, 300}});
  ASSERT_TRUE(ranges[0].ok()) << ranges[0].ToString();
  ASSERT_TRUE(ranges[1].ok()) << ranges[1].ToString();
  EXPECT_TRUE(std::equal(a.begin() + 1000, a.begin() + 6000, buffer.begin()));
  EXPECT_TRUE(std::equal(a.end() - 300, a.end(), buffer.begin() + 5000));
  // 1 + 2 + 1 + 2 whole objects and one key's ranges.
  EXPECT_EQ(client_->object_tier_stats().read_throughs, 7u);
  EXPECT_EQ(client_->object_tier_stats().promotions, 0u);

  // Another version in the bucket: the replica's error stands, naming the object store.
  auto other = client_->Get("ft/c");
  ASSERT_FALSE(other.ok()) << "served a version the master does not list";
  EXPECT_NE(other.status().code(), StatusCode::kChecksumMismatch) << other.status().ToString();
  EXPECT_NE(other.status().message().find("object store fall-through"), std::string::npos)
      << other.status().ToString();
  const std::vector<Status> other_range = client_->GetIntoRanges({{"ft/c", 0, buffer.data(), 100}});
  EXPECT_FALSE(other_range[0].ok());
  EXPECT_EQ(client_->object_tier_stats().read_throughs, 7u);

  // The master still lists the dead node's replica: nothing was put back in its place.
  auto listed = admin_->GetReplicaList("ft/a");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->replicas.size(), 1u);
  EXPECT_EQ(listed->replicas[0].node_id, cluster_->node_name(0));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreObjectTierFallThroughTest, ::testing::Values("s3", "file"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mooncake::store
