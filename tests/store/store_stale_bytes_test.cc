// A storage node killed with SIGKILL and restarted on its port (a new process, a new epoch,
// fresh memory) must never serve bytes of its previous incarnation, and clients that talked to
// the old incarnation (cached segment handles, shared-memory mappings of the dead process's
// buffer) must move bytes to and from the new one. Real processes: a master and two nodes on
// loopback; clients in the test process, over tcp and over auto (same host: shared memory).
// store_cluster_test.cc checks the basic case (one key, read after the restart is
// OBJECT_NOT_FOUND); this adds every read path, clients warmed up before the restart, and new
// objects written where the old ones were.

#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "store_test_cluster.h"
#include "store_test_values.h"

namespace mooncake::store {
namespace {

constexpr int kKeys = 8;

// Sizes of object i: mixed, so the allocator's layout is not one uniform stride.
size_t SizeOf(int i) { return (size_t{16} << 10) * (1 + i % 3) + 123 * i; }

std::string Key(const std::string& prefix, int i) { return prefix + "-" + std::to_string(i); }

class StoreStaleBytesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto cluster = StoreTestCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    admin_ = TestAdmin(cluster_->master_address());
    ASSERT_NE(admin_, nullptr);
  }

  std::unique_ptr<Client> NewClient() {
    return TestClient(cluster_->master_address(), {.protocol = GetParam()});
  }

  ReplicateConfig OnNode0() const {
    ReplicateConfig config;
    config.preferred_segments = {cluster_->node_name(0)};
    return config;
  }

  // The segments holding `key`'s replicas, per the master.
  std::vector<Allocation> Slices(const std::string& key) {
    auto list = admin_->GetReplicaList(key);
    EXPECT_TRUE(list.ok()) << key << ": " << list.status().ToString();
    std::vector<Allocation> slices;
    if (list.ok()) {
      for (const ReplicaLocation& r : list->replicas) {
        slices.insert(slices.end(), r.slices.begin(), r.slices.end());
      }
    }
    return slices;
  }

  // Node 0's segment epoch, per the master; 0 if it has none.
  uint64_t Node0Epoch() {
    auto info = admin_->GetClusterInfo();
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    if (info.ok()) {
      for (const SegmentInfo& s : info->segments) {
        if (s.name == cluster_->node_name(0)) return s.epoch;
      }
    }
    return 0;
  }

  std::unique_ptr<StoreTestCluster> cluster_;
  std::unique_ptr<master::MasterClient> admin_;
};

TEST_P(StoreStaleBytesTest, ARestartedNodeNeverServesItsPredecessorsBytes) {
  auto warm = NewClient();  // talks to node 0's old incarnation before the restart
  ASSERT_NE(warm, nullptr);
  ReplicateConfig both;
  both.replica_num = 2;
  std::vector<uint64_t> old_addresses;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(warm->Put(Key("only0", i), Pattern(SizeOf(i), i), OnNode0()).ok());
    ASSERT_TRUE(warm->Put(Key("both", i), Pattern(SizeOf(i), 100 + i), both).ok());
    const std::vector<Allocation> only0 = Slices(Key("only0", i));
    ASSERT_EQ(only0.size(), 1u);
    ASSERT_EQ(only0[0].segment, cluster_->node_name(0));
    old_addresses.push_back(only0[0].address);
    std::set<std::string> nodes;
    for (const Allocation& a : Slices(Key("both", i))) nodes.insert(a.segment);
    ASSERT_EQ(nodes.size(), 2u) << Key("both", i) << " is not on both nodes";
  }
  for (int i = 0; i < kKeys; ++i) {  // warms segment handles / mappings of both nodes
    ASSERT_TRUE(warm->Get(Key("only0", i)).value() == Pattern(SizeOf(i), i));
    ASSERT_TRUE(warm->Get(Key("both", i)).value() == Pattern(SizeOf(i), 100 + i));
  }
  const uint64_t old_epoch = Node0Epoch();

  cluster_->node(0).Kill(SIGKILL);
  ASSERT_TRUE(cluster_->StartNode(0).ok());  // same port, new epoch, well within client_ttl
  EXPECT_NE(Node0Epoch(), old_epoch);

  // 1. The old incarnation's objects are gone on every read path, at once.
  std::vector<std::string> only0_keys;
  for (int i = 0; i < kKeys; ++i) only0_keys.push_back(Key("only0", i));
  for (const auto& got : warm->BatchGet(only0_keys)) {
    EXPECT_EQ(got.status().code(), StatusCode::kObjectNotFound) << got.status().ToString();
  }
  std::vector<uint8_t> buffer(1 << 20);
  ASSERT_TRUE(warm->RegisterBuffer(buffer.data(), buffer.size()).ok());
  for (int i = 0; i < kKeys; ++i) {
    SCOPED_TRACE(Key("only0", i));
    EXPECT_EQ(warm->Get(Key("only0", i)).status().code(), StatusCode::kObjectNotFound);
    EXPECT_EQ(warm->GetInto(Key("only0", i), buffer.data(), buffer.size()).status().code(),
              StatusCode::kObjectNotFound);
    EXPECT_EQ(warm->GetIntoRanges({{Key("only0", i), 0, buffer.data(), 1}})[0].code(),
              StatusCode::kObjectNotFound);
    EXPECT_FALSE(warm->IsExist(Key("only0", i)).value());
    // Replicated objects read from the survivor, whichever replica a read tries first.
    for (int read = 0; read < 2; ++read) {
      auto got = warm->Get(Key("both", i));
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_TRUE(*got == Pattern(SizeOf(i), 100 + i));
    }
  }

  // 2. New objects in the new incarnation, where old ones were: a client warmed up on the old
  //    incarnation reads the new bytes, and the old keys stay gone.
  auto fresh = NewClient();
  ASSERT_NE(fresh, nullptr);
  std::vector<uint64_t> new_addresses;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(fresh->Put(Key("new0", i), Pattern(SizeOf(i), 200 + i), OnNode0()).ok());
    const std::vector<Allocation> slices = Slices(Key("new0", i));
    ASSERT_EQ(slices.size(), 1u);
    EXPECT_EQ(slices[0].segment, cluster_->node_name(0));
    new_addresses.push_back(slices[0].address);
  }
  // How many new objects lie (as offsets into the segment; the first put of each incarnation
  // starts it) over bytes an old object had: the case a stale read would go wrong on.
  int overlapping = 0;
  for (int n = 0; n < kKeys; ++n) {
    const uint64_t begin = new_addresses[n] - new_addresses[0];
    for (int o = 0; o < kKeys; ++o) {
      const uint64_t old_begin = old_addresses[o] - old_addresses[0];
      if (begin < old_begin + SizeOf(o) && old_begin < begin + SizeOf(n)) {
        ++overlapping;
        break;
      }
    }
  }
  EXPECT_GT(overlapping, 0) << "the new objects do not reuse the old ones' space";
  for (int i = 0; i < kKeys; ++i) {
    SCOPED_TRACE(Key("new0", i));
    auto got = warm->Get(Key("new0", i));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == Pattern(SizeOf(i), 200 + i))
        << "a client that knew the old incarnation read other bytes than the new object's";
    auto into = warm->GetInto(Key("new0", i), buffer.data(), buffer.size());
    ASSERT_TRUE(into.ok()) << into.status().ToString();
    EXPECT_TRUE(std::vector<uint8_t>(buffer.begin(), buffer.begin() + *into) ==
                Pattern(SizeOf(i), 200 + i));
    EXPECT_EQ(warm->Get(Key("only0", i)).status().code(), StatusCode::kObjectNotFound);
  }

  // 3. The warm client's writes reach the new incarnation: a client that never saw the old
  //    one reads them back.
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(warm->Put(Key("warm0", i), Pattern(SizeOf(i), 300 + i), OnNode0()).ok());
  }
  auto third = NewClient();
  ASSERT_NE(third, nullptr);
  for (int i = 0; i < kKeys; ++i) {
    SCOPED_TRACE(Key("warm0", i));
    ASSERT_EQ(Slices(Key("warm0", i)).at(0).segment, cluster_->node_name(0));
    auto got = third->Get(Key("warm0", i));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == Pattern(SizeOf(i), 300 + i))
        << "a write by a client that knew the old incarnation did not reach the new one";
  }
  RecordProperty("new_objects_over_old_ones", overlapping);
}

INSTANTIATE_TEST_SUITE_P(Protocols, StoreStaleBytesTest, ::testing::Values("tcp", "auto"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mooncake::store
