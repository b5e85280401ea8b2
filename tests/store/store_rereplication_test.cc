// Re-replication and drain with real processes (docs/rereplication.md): a node killed with
// SIGKILL has its replicas re-created on the other nodes from the survivors; a node stopped
// with SIGTERM hands over what only it holds before it unmounts; a source node restarted with
// a new epoch while copies read from it never yields a replica with other bytes. Every replica
// is checked byte for byte by reading it directly with a Transfer Engine of the test's own,
// not only through the client (which would be content with any one good replica).

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "replica_access.h"
#include "store_test_cluster.h"
#include "store_test_values.h"

namespace mooncake::store {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

std::string Key(int i) { return "rerep/" + std::to_string(i); }

// Sizes from 0 B to ~200 KiB, so copies of every shape (empty, unaligned, multi-slice) run.
size_t SizeOf(int i) { return i == 0 ? 0 : 1 + (static_cast<size_t>(i) * 7919) % (200 << 10); }

class StoreRereplicationTest : public ::testing::Test {
 protected:
  void Start(StoreTestClusterOptions options) {
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    client_ = TestClient(cluster_->master_address());
    admin_ = TestAdmin(cluster_->master_address());
    auto reader = ReplicaAccess::Create("tcp");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    reader_ = std::move(*reader);
    ASSERT_NE(client_, nullptr);
    ASSERT_NE(admin_, nullptr);
    ASSERT_NE(reader_, nullptr);
  }

  void PutAll(int n, const ReplicateConfig& config, uint32_t seed = 0) {
    for (int i = 0; i < n; ++i) {
      Status s = client_->Put(Key(i), Pattern(SizeOf(i), seed + i), config);
      ASSERT_TRUE(s.ok()) << Key(i) << ": " << s.ToString();
    }
  }

  // The nodes holding `key`'s COMPLETE replicas; empty when it is not found.
  std::set<std::string> NodesOf(const std::string& key) {
    std::set<std::string> nodes;
    auto list = admin_->GetReplicaList(key);
    if (!list.ok()) return nodes;
    for (const ReplicaLocation& r : list->replicas) {
      if (r.complete) nodes.insert(r.node_id);
    }
    return nodes;
  }

  bool SegmentMounted(int node) {
    auto info = admin_->GetClusterInfo();
    if (!info.ok()) return true;
    for (const SegmentInfo& s : info->segments) {
      if (s.name == cluster_->node_name(node)) return true;
    }
    return false;
  }

  // Waits (bounded by `timeout`) until nothing is below its replica target and no copy is in
  // flight; the time it took, or nullopt.
  std::optional<milliseconds> WaitForRepairs(milliseconds timeout) {
    const auto began = SteadyClock::now();
    while (SteadyClock::now() - began < timeout) {
      auto info = admin_->GetClusterInfo();
      if (info.ok() && info->objects_below_replica_target == 0 && info->repairs_in_flight == 0) {
        return std::chrono::duration_cast<milliseconds>(SteadyClock::now() - began);
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return std::nullopt;
  }

  // Every replica of `key` holds Pattern(SizeOf(i), seed), read directly; returns how many.
  size_t ExpectEveryReplicaHolds(int i, uint32_t seed) {
    auto list = admin_->GetReplicaList(Key(i));
    EXPECT_TRUE(list.ok()) << Key(i) << ": " << list.status().ToString();
    if (!list.ok()) return 0;
    const std::vector<uint8_t> want = Pattern(SizeOf(i), seed);
    for (const ReplicaLocation& r : list->replicas) {
      EXPECT_TRUE(r.complete);
      EXPECT_EQ(r.slices.size(), 1u);
      if (r.slices.empty()) continue;
      auto got = reader_->Read(r.slices[0], want.size());
      EXPECT_TRUE(got.ok()) << Key(i) << " on " << r.node_id << ": " << got.status().ToString();
      if (got.ok()) {
        EXPECT_TRUE(*got == want) << Key(i) << ": the replica on " << r.node_id
                                  << " holds other bytes than the object";
      }
    }
    return list->replicas.size();
  }

  std::unique_ptr<StoreTestCluster> cluster_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<master::MasterClient> admin_;
  std::unique_ptr<ReplicaAccess> reader_;
};

TEST_F(StoreRereplicationTest, AKilledNodesReplicasAreRecreatedOnTheOthers) {
  constexpr int kObjects = 60;
  StoreTestClusterOptions options;
  options.nodes = 3;
  options.client_ttl_s = 1;
  ASSERT_NO_FATAL_FAILURE(Start(options));
  ReplicateConfig two;
  two.replica_num = 2;
  ASSERT_NO_FATAL_FAILURE(PutAll(kObjects, two));
  const std::string dead = cluster_->node_name(0);
  int on_dead = 0;
  for (int i = 0; i < kObjects; ++i) on_dead += NodesOf(Key(i)).contains(dead) ? 1 : 0;
  ASSERT_GT(on_dead, 0) << "no object has a replica on the node to kill";

  cluster_->node(0).Kill(SIGKILL);
  const auto killed = SteadyClock::now();
  // Within 10 s of the kill (1 s of it is client_ttl): every object has two COMPLETE replicas
  // on live nodes again.
  int repaired = 0;
  while (SteadyClock::now() - killed < seconds(10)) {
    auto info = admin_->GetClusterInfo();
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    if (!SegmentMounted(0) && info->objects_below_replica_target == 0 &&
        info->repairs_in_flight == 0) {
      repaired = 0;
      for (int i = 0; i < kObjects; ++i) {
        const std::set<std::string> nodes = NodesOf(Key(i));
        repaired += nodes.size() == 2 && !nodes.contains(dead) ? 1 : 0;
      }
      if (repaired == kObjects) break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  const auto took = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - killed);
  ASSERT_EQ(repaired, kObjects) << "objects with two live replicas 10 s after the kill";
  std::printf("%d objects re-replicated %lld ms after the SIGKILL (client_ttl 1 s)\n", on_dead,
              static_cast<long long>(took.count()));

  auto info = admin_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->objects, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(info->objects_below_replica_target, 0u);
  EXPECT_EQ(info->repairs.completed, static_cast<uint64_t>(on_dead));
  EXPECT_EQ(info->repairs.failed, 0u);
  // The copies hold the objects' bytes, replica by replica, and clients read them.
  for (int i = 0; i < kObjects; ++i) EXPECT_EQ(ExpectEveryReplicaHolds(i, i), 2u);
  for (int i = 0; i < kObjects; ++i) {
    auto got = client_->Get(Key(i));
    ASSERT_TRUE(got.ok()) << Key(i) << ": " << got.status().ToString();
    EXPECT_TRUE(*got == Pattern(SizeOf(i), i)) << Key(i);
  }
}

// A node told to stop after its master died cannot hand anything over: it stops asking once
// the master has been silent for the grace period (5 s), not at its drain timeout (60 s here).
TEST_F(StoreRereplicationTest, SigtermWithTheMasterGoneStopsAfterTheGraceNotTheDrainTimeout) {
  StoreTestClusterOptions options;
  options.nodes = 1;
  options.node_args = {"--drain_timeout=60"};
  ASSERT_NO_FATAL_FAILURE(Start(options));
  ASSERT_TRUE(client_->Put("orphan", Pattern(4096, 5)).ok());
  client_.reset();
  cluster_->master().Kill(SIGKILL);
  ASSERT_TRUE(cluster_->master().Wait(seconds(10)).ok());

  const auto signalled = SteadyClock::now();
  cluster_->node(0).Kill(SIGTERM);
  auto exit_code = cluster_->node(0).Wait(seconds(40));
  const auto took = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - signalled);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status().ToString();
  EXPECT_EQ(*exit_code, 0) << cluster_->node(0).ReadLog();
  EXPECT_LT(took, seconds(30)) << "the node waited for its 60 s drain timeout";
  const std::string log = cluster_->node(0).ReadLog();
  EXPECT_NE(log.find("has not answered"), std::string::npos) << log;
  EXPECT_NE(log.find("STOPPED"), std::string::npos) << log;
}

TEST_F(StoreRereplicationTest, SigtermDrainsANodeBeforeItLeaves) {
  constexpr int kObjects = 50;
  StoreTestClusterOptions options;
  options.nodes = 2;
  options.client_ttl_s = 2;
  options.node_args = {"--drain_timeout=10"};
  ASSERT_NO_FATAL_FAILURE(Start(options));
  ReplicateConfig on_node0;
  on_node0.preferred_segments = {cluster_->node_name(0)};
  ASSERT_NO_FATAL_FAILURE(PutAll(kObjects, on_node0, 500));
  for (int i = 0; i < kObjects; ++i) {
    ASSERT_EQ(NodesOf(Key(i)), std::set<std::string>{cluster_->node_name(0)}) << Key(i);
  }

  const auto signalled = SteadyClock::now();
  cluster_->node(0).Kill(SIGTERM);
  auto exit_code = cluster_->node(0).Wait(seconds(15));
  const auto took = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - signalled);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status().ToString();
  EXPECT_EQ(*exit_code, 0) << cluster_->node(0).ReadLog();
  EXPECT_LT(took, seconds(10)) << "the drain ran into its timeout";
  const std::string log = cluster_->node(0).ReadLog();
  EXPECT_NE(log.find("DRAINED remaining=0"), std::string::npos) << log;
  EXPECT_NE(log.find("STOPPED"), std::string::npos) << log;
  std::printf("node drained %d objects and exited %lld ms after SIGTERM\n", kObjects,
              static_cast<long long>(took.count()));

  // The node unmounted at once (no client_ttl wait), and nothing was lost with it.
  EXPECT_FALSE(SegmentMounted(0));
  auto info = admin_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->objects, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(info->repairs.completed, static_cast<uint64_t>(kObjects));
  for (int i = 0; i < kObjects; ++i) {
    EXPECT_EQ(NodesOf(Key(i)), std::set<std::string>{cluster_->node_name(1)}) << Key(i);
    EXPECT_EQ(ExpectEveryReplicaHolds(i, 500 + i), 1u);
    auto got = client_->Get(Key(i));
    ASSERT_TRUE(got.ok()) << Key(i) << ": " << got.status().ToString();
    EXPECT_TRUE(*got == Pattern(SizeOf(i), 500 + i)) << Key(i);
  }
}

TEST_F(StoreRereplicationTest, ASourceRestartedDuringRepairsNeverYieldsOtherBytes) {
  constexpr int kObjects = 150;
  StoreTestClusterOptions options;
  options.nodes = 3;
  options.client_ttl_s = 1;
  ASSERT_NO_FATAL_FAILURE(Start(options));
  ReplicateConfig two;
  two.replica_num = 2;
  ASSERT_NO_FATAL_FAILURE(PutAll(kObjects, two, 1000));
  const std::string survivor = cluster_->node_name(2);
  std::vector<bool> on_survivor(kObjects);
  for (int i = 0; i < kObjects; ++i) on_survivor[i] = NodesOf(Key(i)).contains(survivor);

  // Node 0 dies; as soon as the master notices, copies start from nodes 1 and 2. Node 1 is
  // killed and restarted on its port right then (a new epoch, fresh memory), and new objects
  // of the same sizes fill its segment: copies still reading from it find other bytes where
  // the old replicas were, or no buffer at all.
  cluster_->node(0).Kill(SIGKILL);
  const auto killed = SteadyClock::now();
  while (SegmentMounted(0) && SteadyClock::now() - killed < seconds(5)) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_FALSE(SegmentMounted(0)) << "the master did not declare the killed node dead";
  cluster_->node(1).Kill(SIGKILL);
  ASSERT_TRUE(cluster_->StartNode(1).ok());
  ReplicateConfig on_node1;
  on_node1.preferred_segments = {cluster_->node_name(1)};
  for (int i = 0; i < kObjects; ++i) {
    Status s = client_->Put("fresh/" + std::to_string(i), Pattern(SizeOf(i), 7000 + i), on_node1);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  auto settled = WaitForRepairs(seconds(10));
  ASSERT_TRUE(settled.has_value()) << "objects still below target 10 s after the restart";
  // Every object that survived has two replicas on live nodes, each with exactly its bytes;
  // the lost ones are gone, never served with other bytes.
  int survived = 0;
  for (int i = 0; i < kObjects; ++i) {
    const std::set<std::string> nodes = NodesOf(Key(i));
    if (nodes.empty()) {
      EXPECT_FALSE(on_survivor[i]) << Key(i) << " had a replica on the node that never died";
      EXPECT_EQ(client_->Get(Key(i)).status().code(), StatusCode::kObjectNotFound);
      continue;
    }
    ++survived;
    EXPECT_EQ(nodes.size(), 2u) << Key(i);
    EXPECT_FALSE(nodes.contains(cluster_->node_name(0))) << Key(i);
    EXPECT_EQ(ExpectEveryReplicaHolds(i, 1000 + i), 2u);
    auto got = client_->Get(Key(i));
    ASSERT_TRUE(got.ok()) << Key(i) << ": " << got.status().ToString();
    EXPECT_TRUE(*got == Pattern(SizeOf(i), 1000 + i)) << Key(i);
  }
  int must_survive = 0;
  for (bool s : on_survivor) must_survive += s ? 1 : 0;
  EXPECT_GE(survived, must_survive);
  auto info = admin_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  std::printf(
      "%d of %d objects survived (%d had a replica on the node that never died); repairs: %llu "
      "completed, %llu failed, %llu cancelled, %llu timed out; settled %lld ms after the "
      "restart\n",
      survived, kObjects, must_survive, static_cast<unsigned long long>(info->repairs.completed),
      static_cast<unsigned long long>(info->repairs.failed),
      static_cast<unsigned long long>(info->repairs.cancelled),
      static_cast<unsigned long long>(info->repairs.timed_out),
      static_cast<long long>(settled->count()));
  for (int i = 0; i < kObjects; ++i) {
    auto got = client_->Get("fresh/" + std::to_string(i));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == Pattern(SizeOf(i), 7000 + i));
  }
}

TEST_F(StoreRereplicationTest, ACopyOfACorruptedReplicaIsNeverAdopted) {
  constexpr int kObjects = 10;
  constexpr int kCorrupt = 3;
  StoreTestClusterOptions options;
  options.nodes = 3;
  options.client_ttl_s = 1;
  ASSERT_NO_FATAL_FAILURE(Start(options));
  ReplicateConfig on_0_and_1;
  on_0_and_1.replica_num = 2;
  on_0_and_1.preferred_segments = {cluster_->node_name(0), cluster_->node_name(1)};
  ASSERT_NO_FATAL_FAILURE(PutAll(kObjects, on_0_and_1, 3000));
  // A flipped byte in the replica on node 1, the only source left once node 0 dies.
  auto list = admin_->GetReplicaList(Key(kCorrupt));
  ASSERT_TRUE(list.ok());
  bool flipped = false;
  for (const ReplicaLocation& r : list->replicas) {
    if (r.node_id != cluster_->node_name(1)) continue;
    Status s = reader_->FlipByte(r.slices.at(0), SizeOf(kCorrupt) / 2);
    ASSERT_TRUE(s.ok()) << s.ToString();
    flipped = true;
  }
  ASSERT_TRUE(flipped) << Key(kCorrupt) << " has no replica on node 1";

  cluster_->node(0).Kill(SIGKILL);
  // The clean objects get their second replica on node 2; every copy of the corrupted one
  // fails its checksum on node 2 and is reported failed, never adopted.
  const auto killed = SteadyClock::now();
  uint64_t failed = 0;
  int clean = 0;
  while (SteadyClock::now() - killed < seconds(10)) {
    auto info = admin_->GetClusterInfo();
    ASSERT_TRUE(info.ok());
    failed = info->repairs.failed;
    clean = 0;
    for (int i = 0; i < kObjects; ++i) {
      clean += i != kCorrupt && NodesOf(Key(i)).size() == 2 ? 1 : 0;
    }
    if (clean == kObjects - 1 && failed >= 2) break;  // a failure, then a retry that failed
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(clean, kObjects - 1);
  EXPECT_GE(failed, 2u) << "the corrupted copy was not refused (and retried)";
  EXPECT_EQ(NodesOf(Key(kCorrupt)), std::set<std::string>{cluster_->node_name(1)})
      << "a copy of bytes that do not match the object's checksum became a replica";
  auto info = admin_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->objects_below_replica_target, 1u);
  for (int i = 0; i < kObjects; ++i) {
    if (i != kCorrupt) {
      EXPECT_EQ(ExpectEveryReplicaHolds(i, 3000 + i), 2u);
    }
  }
}

}  // namespace
}  // namespace mooncake::store
