// A Get never returns wrong bytes silently (docs/integrity.md). Real processes: a master and
// two nodes on loopback; the corruption comes from a Transfer Engine of the test's own writing
// into a node's memory, as any process reaching the node's port could, over tcp and over shared
// memory. Reads must return the put's bytes or CHECKSUM_MISMATCH, never other bytes; the bad
// replica is reported, dropped by the master and, where a good one is left, re-created from it.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "replica_access.h"
#include "store_test_cluster.h"
#include "store_test_values.h"

namespace mooncake::store {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

class StoreIntegrityTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    StoreTestClusterOptions options;
    options.metrics = true;
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    // The product's default: reads verify.
    ASSERT_TRUE(ClientOptions{}.verify_checksum) << "reads verify unless the caller opts out";
    client_ =
        TestClient(cluster_->master_address(),
                   {.protocol = GetParam(), .verify_checksum = ClientOptions{}.verify_checksum});
    ASSERT_NE(client_, nullptr);
    admin_ = TestAdmin(cluster_->master_address());
    ASSERT_NE(admin_, nullptr);
    auto foreign = ReplicaAccess::Create(GetParam());
    ASSERT_TRUE(foreign.ok()) << foreign.status().ToString();
    foreign_ = std::move(*foreign);
  }

  // `key`'s replicas per the master (none when it is not listed).
  std::vector<ReplicaLocation> Replicas(const std::string& key) {
    auto list = admin_->GetReplicaList(key);
    return list.ok() ? list->replicas : std::vector<ReplicaLocation>{};
  }

  // The value of `sample` on the master's /metrics; -1 when absent.
  double MasterMetric(const std::string& sample) {
    httplib::Client http("127.0.0.1", cluster_->metrics_port());
    auto response = http.Get("/metrics");
    if (!response) return -1;
    const size_t at = response->body.find("\n" + sample + " ");
    return at == std::string::npos ? -1 : std::stod(response->body.substr(at + sample.size() + 2));
  }
  std::string Labels(int node) const {
    return "{medium=\"DRAM\",node=\"" + cluster_->node_name(node) + "\"}";
  }

  std::unique_ptr<StoreTestCluster> cluster_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<master::MasterClient> admin_;
  std::unique_ptr<ReplicaAccess> foreign_;
};

TEST_P(StoreIntegrityTest, AForeignWriteOverTheOnlyReplicaIsNeverReturnedAsTheObject) {
  constexpr int kRounds = 20;
  std::vector<uint8_t> buffer(size_t{4} << 20);
  ASSERT_TRUE(client_->RegisterBuffer(buffer.data(), buffer.size()).ok());
  std::mt19937_64 rng(17);
  int detected = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "integrity/only/" + std::to_string(round);
    // The case first (4 MiB, almost all of it overwritten), then smaller objects with
    // a few bytes changed anywhere, the last byte included.
    const size_t size = round == 0 ? size_t{4} << 20 : (size_t{64} << 10) * (1 + round % 5) + 37;
    const std::vector<uint8_t> value = Pattern(size, 1000 + round);
    ASSERT_TRUE(client_->Put(key, value).ok()) << key;
    const std::vector<ReplicaLocation> replicas = Replicas(key);
    ASSERT_EQ(replicas.size(), 1u) << key;
    const size_t length = round == 0 ? size - 4096 : 1 + rng() % 64;
    const size_t offset = round == 1 ? size - length : rng() % (size - length + 1);
    std::vector<uint8_t> garbage = Pattern(length, 5000 + round);
    garbage[0] = static_cast<uint8_t>(value[offset] + 1);  // at least one byte differs
    ASSERT_TRUE(foreign_->Write(replicas[0].slices.at(0), offset, garbage).ok()) << key;

    // Each read path in turn; none may hand back bytes.
    Status read;
    switch (round % 4) {
      case 0: {
        auto got = client_->Get(key);
        read = got.ok() ? Status::Ok() : got.status();
        break;
      }
      case 1: {
        auto got = client_->GetInto(key, buffer.data(), buffer.size());
        read = got.ok() ? Status::Ok() : got.status();
        break;
      }
      case 2: {
        // A "range" that is the whole object is checked like GetInto.
        read = client_->GetIntoRanges({{key, 0, buffer.data(), size}})[0];
        break;
      }
      default: {
        const std::string good = key + "/good";
        ASSERT_TRUE(client_->Put(good, value).ok());
        auto got = client_->BatchGet({good, key});
        ASSERT_TRUE(got[0].ok()) << "an intact object next to a corrupt one: "
                                 << got[0].status().ToString();
        EXPECT_TRUE(*got[0] == value);
        read = got[1].ok() ? Status::Ok() : got[1].status();
      }
    }
    ASSERT_FALSE(read.ok()) << key << ": a read returned " << size << " bytes of which " << length
                            << " were overwritten behind the store's back";
    EXPECT_EQ(read.code(), StatusCode::kChecksumMismatch) << key << ": " << read.ToString();
    EXPECT_TRUE(read.message().find(cluster_->node_name(0)) != std::string::npos ||
                read.message().find(cluster_->node_name(1)) != std::string::npos)
        << "the error names the node: " << read.ToString();
    ++detected;
    // Reported: the master dropped its only replica, so the object is gone rather than served
    // corrupt to the next reader.
    auto again = client_->Get(key);
    EXPECT_EQ(again.status().code(), StatusCode::kObjectNotFound) << key;
  }
  EXPECT_EQ(client_->read_integrity_stats().corrupt_replicas, static_cast<uint64_t>(detected));
  const double node0 = MasterMetric("mooncake_master_corrupt_replicas_detected_total" + Labels(0));
  const double node1 = MasterMetric("mooncake_master_corrupt_replicas_detected_total" + Labels(1));
  EXPECT_EQ(std::max(node0, 0.0) + std::max(node1, 0.0), kRounds);
  EXPECT_EQ(MasterMetric("mooncake_master_objects_lost_to_corruption_total"), kRounds);
}

TEST_P(StoreIntegrityTest, AReplicaDamagedNextToAGoodOneIsReadAroundAndReplaced) {
  constexpr int kKeys = 8;
  ReplicateConfig two;
  two.replica_num = 2;
  std::vector<std::vector<uint8_t>> values;
  std::vector<uint8_t> buffer(size_t{1} << 20);
  ASSERT_TRUE(client_->RegisterBuffer(buffer.data(), buffer.size()).ok());
  auto key = [](int i) { return "integrity/two/" + std::to_string(i); };
  for (int i = 0; i < kKeys; ++i) {
    values.push_back(Pattern((size_t{48} << 10) + 1000 * i, 77 + i));
    ASSERT_TRUE(client_->Put(key(i), values.back(), two).ok()) << key(i);
    const std::vector<ReplicaLocation> replicas = Replicas(key(i));
    ASSERT_EQ(replicas.size(), 2u) << key(i);
    for (const ReplicaLocation& r : replicas) {
      if (r.node_id != cluster_->node_name(0)) continue;
      ASSERT_TRUE(foreign_->FlipByte(r.slices.at(0), values[i].size() / 3).ok());
    }
  }
  // Reads alternate the replica they try first, so two reads of a key meet the damaged one;
  // every read returns the object's bytes all the same.
  for (int i = 0; i < kKeys; ++i) {
    for (int n = 0; n < 2; ++n) {
      auto got = client_->Get(key(i));
      ASSERT_TRUE(got.ok()) << key(i) << ": " << got.status().ToString();
      EXPECT_TRUE(*got == values[i]) << key(i) << ": wrong bytes returned";
      auto into = client_->GetInto(key(i), buffer.data(), buffer.size());
      ASSERT_TRUE(into.ok()) << key(i) << ": " << into.status().ToString();
      EXPECT_TRUE(std::equal(values[i].begin(), values[i].end(), buffer.begin()))
          << key(i) << ": wrong bytes returned into the buffer";
    }
  }
  EXPECT_EQ(client_->read_integrity_stats().corrupt_replicas, static_cast<uint64_t>(kKeys));
  EXPECT_EQ(MasterMetric("mooncake_master_corrupt_replicas_detected_total" + Labels(0)), kKeys);
  EXPECT_EQ(MasterMetric("mooncake_master_corrupt_replicas_dropped_total" + Labels(0)), kKeys);

  // Re-replication brings every key back to two replicas (the new one necessarily on node 0,
  // the only node without one), each holding the object's bytes.
  const auto began = SteadyClock::now();
  int repaired = 0;
  while (SteadyClock::now() - began < std::chrono::seconds(20)) {
    repaired = 0;
    for (int i = 0; i < kKeys; ++i) repaired += Replicas(key(i)).size() == 2 ? 1 : 0;
    if (repaired == kKeys) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(repaired, kKeys) << "keys back at two replicas within 20 s";
  for (int i = 0; i < kKeys; ++i) {
    for (const ReplicaLocation& r : Replicas(key(i))) {
      auto bytes = foreign_->Read(r.slices.at(0), values[i].size());
      ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
      EXPECT_TRUE(*bytes == values[i])
          << key(i) << ": the replica on " << r.node_id << " holds other bytes than the object";
    }
  }
  EXPECT_GE(MasterMetric("mooncake_repairs_completed_total"), kKeys);
}

TEST_P(StoreIntegrityTest, AForeignWriteIsCaughtByEveryRangeThatTouchesItsBlock) {
  constexpr int kRounds = 20;
  constexpr size_t kBlock = size_t{64} << 10;  // the store's checksum block
  std::vector<uint8_t> buffer(size_t{2} << 20);
  ASSERT_TRUE(client_->RegisterBuffer(buffer.data(), buffer.size()).ok());
  std::mt19937_64 rng(23);
  ReplicateConfig two;
  two.replica_num = 2;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "integrity/ranges/" + std::to_string(round);
    const size_t blocks = 2 + round % 5;
    const size_t size = kBlock * (blocks - 1) + 1 + rng() % kBlock;  // a short last block
    const std::vector<uint8_t> value = Pattern(size, 3000 + round);
    // Odd rounds keep a good replica next to the damaged one.
    const bool with_good_copy = round % 2 == 1;
    ASSERT_TRUE(client_->Put(key, value, with_good_copy ? two : ReplicateConfig{}).ok()) << key;
    const std::vector<ReplicaLocation> replicas = Replicas(key);
    ASSERT_EQ(replicas.size(), with_good_copy ? 2u : 1u) << key;
    // A few bytes changed inside one block (the last byte of the object in round 0).
    const size_t damaged_block = round == 0 ? blocks - 1 : rng() % blocks;
    const size_t block_end = std::min(size, (damaged_block + 1) * kBlock);
    const size_t length = 1 + rng() % 16;
    const size_t offset =
        round == 0 ? size - length
                   : damaged_block * kBlock + rng() % (block_end - damaged_block * kBlock - length);
    std::vector<uint8_t> garbage = Pattern(length, 9000 + round);
    garbage[0] = static_cast<uint8_t>(value[offset] + 1);
    const ReplicaLocation& victim = replicas[0];
    ASSERT_TRUE(foreign_->Write(victim.slices.at(0), offset, garbage).ok()) << key;

    // One call, two ranges: a small one over the changed bytes and one wholly inside another
    // block, whose bytes are intact.
    const size_t clean_block = (damaged_block + 1) % blocks;
    const size_t clean_offset = clean_block * kBlock + 3;
    const size_t clean_length = std::min<size_t>(1000, size - clean_offset);
    const size_t bad_offset = offset > 100 ? offset - 100 : 0;
    const size_t bad_length = std::min<size_t>(300, size - bad_offset);
    std::fill(buffer.begin(), buffer.end(), 0);
    const std::vector<Status> got =
        client_->GetIntoRanges({{key, clean_offset, buffer.data(), clean_length},
                                {key, bad_offset, buffer.data() + kBlock, bad_length}});
    ASSERT_TRUE(got[0].ok()) << key << ": a range of intact blocks: " << got[0].ToString();
    EXPECT_TRUE(
        std::equal(buffer.begin(), buffer.begin() + clean_length, value.begin() + clean_offset))
        << key;
    if (with_good_copy) {
      // Read around: the other replica's bytes, whichever replica the read tried first.
      ASSERT_TRUE(got[1].ok()) << key << ": " << got[1].ToString();
      EXPECT_TRUE(std::equal(buffer.begin() + kBlock, buffer.begin() + kBlock + bad_length,
                             value.begin() + bad_offset))
          << key << ": wrong bytes returned for the range over the damage";
      // The damaged replica is found by whichever of two reads tries it first.
      const Status second =
          client_->GetIntoRanges({{key, bad_offset, buffer.data() + kBlock, bad_length}})[0];
      ASSERT_TRUE(second.ok()) << key << ": " << second.ToString();
      EXPECT_TRUE(std::equal(buffer.begin() + kBlock, buffer.begin() + kBlock + bad_length,
                             value.begin() + bad_offset))
          << key;
    } else {
      ASSERT_FALSE(got[1].ok()) << key << ": a range over bytes changed behind the store's back "
                                << "was returned";
      EXPECT_EQ(got[1].code(), StatusCode::kChecksumMismatch) << got[1].ToString();
      EXPECT_NE(got[1].message().find(victim.node_id), std::string::npos) << got[1].ToString();
      EXPECT_EQ(client_->Get(key).status().code(), StatusCode::kObjectNotFound)
          << key << ": the only replica was dropped";
    }
  }
  EXPECT_EQ(client_->read_integrity_stats().corrupt_replicas, static_cast<uint64_t>(kRounds));
  EXPECT_EQ(client_->read_integrity_stats().unverified_ranges, 0u);
  EXPECT_EQ(MasterMetric("mooncake_master_objects_lost_to_corruption_total"), kRounds / 2);
}

INSTANTIATE_TEST_SUITE_P(Protocols, StoreIntegrityTest, ::testing::Values("tcp", "shm"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mooncake::store
