// Nodes are the truth: the master's index is rebuilt from the nodes' manifests after the
// master dies. Real processes: the master is killed with SIGKILL and a new one started on the
// same port; the nodes re-mount with their manifests and the same client, never restarted,
// reads every object back with the right bytes.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "master/client/master_client.h"
#include "mooncake/store/client.h"
#include "store_test_cluster.h"
#include "store_test_values.h"

namespace mooncake::store {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class StoreMasterRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreTestClusterOptions options;
    options.client_ttl_s = 2;
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    ClientOptions client_options;
    client_options.master_address = cluster_->master_address();
    client_options.verify_checksum = true;
    client_options.rpc_timeout = milliseconds(3000);
    auto client = Client::Create(client_options);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(*client);
  }

  std::unique_ptr<master::MasterClient> Admin() {
    master::MasterClientOptions options;
    options.master_address = cluster_->master_address();
    options.rpc_timeout = milliseconds(2000);
    return std::move(master::MasterClient::Create(options).value());
  }

  // Waits (bounded) until every node acknowledged every manifest change: from then on a
  // master crash loses nothing.
  void WaitForManifestsSynced() {
    auto admin = Admin();
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    uint64_t backlog = 0;
    while (Clock::now() < deadline) {
      auto info = admin->GetClusterInfo();
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      backlog = info->manifest_backlog;
      if (backlog == 0) return;
      std::this_thread::sleep_for(milliseconds(5));
    }
    FAIL() << backlog << " manifest changes still unacknowledged after 5 s";
  }

  std::unique_ptr<StoreTestCluster> cluster_;
  std::unique_ptr<Client> client_;
};

TEST_F(StoreMasterRestartTest, AThousandObjectsSurviveAMasterKilledWithSigkill) {
  constexpr int kObjects = 1000;
  std::vector<std::string> keys;
  std::vector<std::vector<uint8_t>> values;
  std::mt19937 rng(11);
  for (int i = 0; i < kObjects; ++i) {
    keys.push_back("restart/" + std::to_string(i));
    values.push_back(Pattern(1 + rng() % (48 << 10), static_cast<uint32_t>(i)));
  }
  values[7].clear();  // an empty object survives too
  // Batches of 100 with one or two replicas, so both nodes hold objects and some objects are
  // on both.
  for (int b = 0; b < kObjects; b += 100) {
    std::vector<std::string> batch_keys(keys.begin() + b, keys.begin() + b + 100);
    std::vector<std::span<const uint8_t>> spans;
    for (int i = b; i < b + 100; ++i) spans.emplace_back(values[i]);
    ReplicateConfig config;
    config.replica_num = (b / 100) % 3 == 0 ? 2 : 1;
    for (const Status& s : client_->BatchPut(batch_keys, spans, config)) {
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }
  // One object removed and one replaced before the crash: the manifests must say so too.
  ASSERT_TRUE(client_->Remove(keys[1]).ok());
  values[2] = Pattern(777, 2002);
  ASSERT_TRUE(client_->Put(keys[2], values[2], {}, PutMode::kUpsert).ok());
  WaitForManifestsSynced();

  cluster_->master().Kill(SIGKILL);
  ASSERT_TRUE(cluster_->master().Wait(milliseconds(5000)).ok());
  Status restarted = cluster_->StartMaster();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  const auto master_ready = Clock::now();

  // Every object readable again within 2 s of the new master's READY, through the same
  // client.
  std::vector<bool> seen(kObjects, false);
  seen[1] = true;  // removed: must stay gone
  int missing = kObjects - 1;
  for (int round = 0; missing > 0 && Clock::now() - master_ready < std::chrono::seconds(2);
       ++round) {
    std::vector<std::string> ask;
    std::vector<int> index;
    for (int i = 0; i < kObjects; ++i) {
      if (!seen[i]) {
        ask.push_back(keys[i]);
        index.push_back(i);
      }
    }
    auto got = client_->BatchGet(ask);
    for (size_t j = 0; j < got.size(); ++j) {
      if (!got[j].ok()) continue;
      ASSERT_EQ(*got[j], values[index[j]]) << keys[index[j]] << " came back with other bytes";
      seen[index[j]] = true;
      --missing;
    }
    if (missing > 0) std::this_thread::sleep_for(milliseconds(20));
  }
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - master_ready);
  EXPECT_EQ(missing, 0) << missing << " objects not readable 2 s after the master restarted";
  std::printf("all %d objects readable %lld ms after the new master was ready\n", kObjects - 1,
              static_cast<long long>(took.count()));

  auto removed = client_->Get(keys[1]);
  EXPECT_EQ(removed.status().code(), StatusCode::kObjectNotFound);
  // The rebuilt index knows the keys: a create of an existing key is refused, the replicated
  // objects have both replicas again, and new puts work.
  EXPECT_EQ(client_->Put(keys[3], values[3]).code(), StatusCode::kObjectAlreadyExists);
  auto admin = Admin();
  auto info = admin->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->objects, static_cast<uint64_t>(kObjects - 1));
  EXPECT_EQ(info->objects_below_replica_target, 0u);
  auto replicas = admin->GetReplicaList(keys[0]);
  ASSERT_TRUE(replicas.ok());
  EXPECT_EQ(replicas->replicas.size(), 2u);
  const std::vector<uint8_t> fresh = Pattern(4096, 99);
  ASSERT_TRUE(client_->Put("restart/fresh", fresh).ok());
  auto fresh_back = client_->Get("restart/fresh");
  ASSERT_TRUE(fresh_back.ok());
  EXPECT_EQ(*fresh_back, fresh);
  // A new version written after the restart outranks the old master's versions.
  const std::vector<uint8_t> newer = Pattern(100, 5);
  ASSERT_TRUE(client_->Put(keys[4], newer, {}, PutMode::kUpsert).ok());
  EXPECT_EQ(*client_->Get(keys[4]), newer);
}

TEST_F(StoreMasterRestartTest, AClientRidesOutAMasterRestart) {
  // A writer/reader thread keeps working while the master is killed and restarted. Calls
  // during the outage wait for the master (up to rpc_timeout) or fail with a clear error;
  // none crashes, and afterwards every call succeeds on the same client.
  std::atomic<bool> stop{false};
  std::atomic<int> ok_after{0};
  std::atomic<int> failures{0};
  std::mutex codes_mutex;
  std::map<std::string, int> codes;
  std::atomic<bool> restarted{false};
  std::thread worker([&] {
    for (int i = 0; !stop.load() && i < 100000; ++i) {
      const std::string key = "ride/" + std::to_string(i);
      const std::vector<uint8_t> value = Pattern(1024, static_cast<uint32_t>(i));
      Status put = client_->Put(key, value);
      auto got = put.ok() ? client_->Get(key) : Result<std::vector<uint8_t>>(put);
      if (got.ok()) {
        ASSERT_EQ(*got, value);
        if (restarted.load()) ok_after.fetch_add(1);
      } else {
        const StatusCode code = got.status().code();
        EXPECT_TRUE(code == StatusCode::kRpcFail || code == StatusCode::kRpcTimeout ||
                    code == StatusCode::kObjectNotFound || code == StatusCode::kNoAvailableHandle)
            << got.status().ToString();
        failures.fetch_add(1);
        std::lock_guard lock(codes_mutex);
        ++codes[StatusCodeName(code)];
      }
    }
  });
  std::this_thread::sleep_for(milliseconds(300));
  cluster_->master().Kill(SIGKILL);
  ASSERT_TRUE(cluster_->master().Wait(milliseconds(5000)).ok());
  std::this_thread::sleep_for(milliseconds(300));  // the master is down for a while
  Status started = cluster_->StartMaster();
  ASSERT_TRUE(started.ok()) << started.ToString();
  restarted.store(true);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (ok_after.load() < 20 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  stop.store(true);
  worker.join();
  EXPECT_GE(ok_after.load(), 20) << "the client did not recover after the master restart";
  std::string by_code;
  for (const auto& [name, n] : codes) by_code += " " + name + "=" + std::to_string(n);
  std::printf("%d calls failed during the outage:%s\n", failures.load(), by_code.c_str());
}

}  // namespace
}  // namespace mooncake::store
