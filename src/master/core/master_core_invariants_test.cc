// MasterCore's indexes (object table, per-segment members, deadline index, deferred frees,
// below-target set, repairs and drain) under every operation: targeted cases for the segment ->
// objects index, then random operation sequences checked with CheckInvariants after every step.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"
#include "testing/fake_clock.h"

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kSegmentBytes = 64 * kKiB;

class MasterCoreSegmentIndexTest : public MasterCoreFixture {
 protected:
  void SetUp() override {
    CreateCore();
    MountNodes({"a", "b", "c"}, kSegmentBytes);
  }
};

TEST_F(MasterCoreSegmentIndexTest, UnmountDropsOnlyTheObjectsOnThatSegment) {
  for (int i = 0; i < 20; ++i) PutOk("a" + std::to_string(i), kKiB, Replicas(1, {"seg-a"}));
  for (int i = 0; i < 20; ++i) PutOk("b" + std::to_string(i), kKiB, Replicas(1, {"seg-b"}));
  for (int i = 0; i < 10; ++i)
    PutOk("ab" + std::to_string(i), kKiB, Replicas(2, {"seg-a", "seg-b"}));
  ASSERT_TRUE(core_->Unmount("seg-a", "a", 1).ok());
  ExpectConsistent();
  EXPECT_EQ(core_->ObjectCount(), 30u);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(*core_->ExistKey("a" + std::to_string(i)));
  for (int i = 0; i < 10; ++i) {
    auto view = core_->GetReplicaList("ab" + std::to_string(i));
    ASSERT_TRUE(view.ok());
    ASSERT_EQ(view->replicas.size(), 1u);
    EXPECT_EQ(view->replicas[0].allocation.segment, "seg-b");
  }
  // seg-b's members survived the shuffle: dropping it now takes exactly the rest.
  EXPECT_EQ(Allocations("seg-b"), 30u);
  ASSERT_TRUE(core_->Unmount("seg-b", "b", 1).ok());
  EXPECT_EQ(core_->ObjectCount(), 0u);
}

TEST_F(MasterCoreSegmentIndexTest, UpsertOnTheSameSegmentIsIndexedTwiceAndDroppedOnce) {
  PutOk("k", kKiB, Replicas(1, {"seg-a"}));
  ReplicateConfig same;
  same.preferred_segments = {"seg-a"};
  ASSERT_TRUE(core_->UpsertStart("k", 2 * kKiB, same).ok());
  ExpectConsistent();
  EXPECT_EQ(Allocations("seg-a"), 2u);
  ASSERT_TRUE(core_->Unmount("seg-a", "a", 1).ok());
  EXPECT_EQ(core_->ObjectCount(), 0u);
  EXPECT_EQ(core_->PendingPutCount(), 0u);
}

TEST_F(MasterCoreSegmentIndexTest, DeferredFreesOnALostSegmentAreForgotten) {
  PutOk("k", kKiB, Replicas(1, {"seg-a"}));
  ASSERT_TRUE(core_->GetReplicaList("k").ok());  // leased: the old version's free is deferred
  ReplicateConfig on_b;
  on_b.preferred_segments = {"seg-b"};
  ASSERT_TRUE(core_->UpsertStart("k", kKiB, on_b).ok());
  ASSERT_TRUE(core_->PutEnd("k", 2).ok());
  EXPECT_EQ(core_->DeferredFreeCount(), 1u);
  ExpectConsistent();
  ASSERT_TRUE(core_->Unmount("seg-a", "a", 1).ok());
  EXPECT_EQ(core_->DeferredFreeCount(), 0u);
  EXPECT_TRUE(*core_->ExistKey("k"));
  // The node comes back with the same segment name: the old deferred range must not be freed
  // in the new segment when the lease lapses.
  MountNode("a", kSegmentBytes, 2);
  PutOk("fresh", kKiB, Replicas(1, {"seg-a"}));
  clock_.Advance(seconds(10));
  core_->Tick();
  EXPECT_EQ(Allocations("seg-a"), 1u);
}

TEST_F(MasterCoreSegmentIndexTest, NewEpochReusingTheNameStartsWithAnEmptyIndex) {
  PutOk("old", kKiB, Replicas(1, {"seg-a"}));
  Mount(SegmentSpec{"seg-a2", "a", 1, Medium::kDram, kDramBase, kSegmentBytes});
  PutOk("old2", kKiB, Replicas(1, {"seg-a2"}));
  // The restarted node mounts "seg-a" again: both old segments go, the new one is empty.
  MountNode("a", kSegmentBytes, 2);
  ExpectConsistent();
  EXPECT_EQ(core_->ObjectCount(), 0u);
  EXPECT_EQ(Allocations("seg-a"), 0u);
  PutOk("new", kKiB, Replicas(1, {"seg-a"}));
  EXPECT_EQ(core_->GetReplicaList("new")->replicas[0].node, "a");
}

// ---- Random operation sequences ------------------------------------------------------------

class RandomOps {
 public:
  RandomOps(testing::FakeClock& clock, MasterCore& core, uint32_t seed)
      : clock_(clock), core_(core), rng_(seed) {}

  void Step() {
    const std::string key = "key-" + std::to_string(Uniform(0, 59));
    const uint64_t op = Uniform(0, 71);
    if (op < 12) {
      core_.PutStart(key, Size(), Config()).status().IgnoreError();
    } else if (op < 18) {
      core_.UpsertStart(key, Size(), Config()).status().IgnoreError();
    } else if (op < 30) {
      core_.PutEnd(key, static_cast<uint32_t>(Uniform(0, 1000))).IgnoreError();
    } else if (op < 32) {
      core_.PutRevoke(key).IgnoreError();
    } else if (op < 40) {
      core_.GetReplicaList(key).status().IgnoreError();
    } else if (op < 43) {
      core_.Remove(key, Uniform(0, 1) ? RemoveMode::kForce : RemoveMode::kNormal).IgnoreError();
    } else if (op < 44) {
      core_.RemoveByRegex("key-1", RemoveMode::kNormal).status().IgnoreError();
    } else if (op < 52) {
      clock_.Advance(milliseconds(Uniform(0, 4000)));
      core_.Tick();
    } else if (op < 56) {
      for (int n = 0; n < kNodes; ++n) core_.Heartbeat(Node(n), epochs_[n]).IgnoreError();
    } else if (op < 58) {
      // A node restarts (new epoch), with or without a manifest of what it holds.
      Remount(static_cast<int>(Uniform(0, kNodes - 1)));
    } else if (op < 59) {
      Unmount(static_cast<int>(Uniform(0, kNodes - 1)));
    } else if (op < 60) {
      core_.UnmountNode(Node(static_cast<int>(Uniform(0, kNodes - 1))));
    } else if (op < 64) {
      MountAll();  // bring missing segments back
    } else if (op < 67) {
      // A node fetches its copy tasks (with its heartbeat).
      for (CopyTask& task :
           core_.TakeCopyTasks(Node(static_cast<int>(Uniform(0, kNodes - 1))), Uniform(1, 4))) {
        delivered_.push_back(std::move(task));
      }
    } else if (op < 69) {
      // A node reports a copy: mostly done, sometimes failed, now and then from the wrong node.
      if (delivered_.empty()) return;
      const size_t i = Uniform(0, delivered_.size() - 1);
      const CopyTask task = delivered_[i];
      delivered_.erase(delivered_.begin() + static_cast<std::ptrdiff_t>(i));
      const NodeId node = Uniform(0, 7) == 0 ? Node(static_cast<int>(Uniform(0, kNodes - 1)))
                                             : task.destination_node;
      const Status result =
          Uniform(0, 3) == 0 ? Status(StatusCode::kTransferFail, "crc mismatch") : Status::Ok();
      core_.CompleteRepair(task.task_id, node, result).status().IgnoreError();
    } else if (op < 70) {
      const int n = static_cast<int>(Uniform(0, kNodes - 1));
      core_.Drain(Node(n), epochs_[n]).status().IgnoreError();
    } else if (op < 71) {
      core_.ScheduleRepairs(Uniform(0, 5));
    } else {
      core_.CompleteRepair(Uniform(0, 200), Node(0), Status::Ok()).status().IgnoreError();
    }
  }

  void MountAll() {
    for (int n = 0; n < kNodes; ++n) Mount(n);
  }

 private:
  static constexpr int kNodes = 4;

  uint64_t Uniform(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  uint64_t Size() { return Uniform(1, 6) * kKiB - Uniform(0, 100); }
  ReplicateConfig Config() {
    ReplicateConfig config;
    config.replica_num = static_cast<int>(Uniform(1, 3));
    if (Uniform(0, 3) == 0) config.preferred_segments = {Segment(static_cast<int>(Uniform(0, 3)))};
    if (Uniform(0, 7) == 0) config.with_hard_pin = true;
    if (Uniform(0, 7) == 0) config.soft_pin_ttl = seconds(Uniform(1, 20));
    return config;
  }
  static std::string Node(int n) { return "node-" + std::to_string(n); }
  static std::string Segment(int n) { return "seg-" + std::to_string(n); }
  SegmentSpec SpecOf(int n) const {
    // Small segments, so that puts fail and eviction runs.
    SegmentSpec spec{Segment(n), Node(n), epochs_[n], Medium::kDram, kDramBase, 24 * kKiB};
    spec.track_manifest = n % 2 == 0;  // repairs journal their replica for the node
    return spec;
  }
  void Mount(int n) {
    if (!core_.segment_pool().Find(Segment(n))) core_.Mount(SpecOf(n)).IgnoreError();
  }
  void Unmount(int n) { core_.Unmount(Segment(n), Node(n), epochs_[n]).IgnoreError(); }
  void Remount(int n) {
    ++epochs_[n];
    std::vector<ManifestEntry> manifest;
    const int entries = static_cast<int>(Uniform(0, 4));
    for (int i = 0; i < entries; ++i) {
      const uint64_t size = Uniform(1, 3) * kKiB;
      manifest.push_back(ManifestEntry{"key-" + std::to_string(Uniform(0, 59)),
                                       kDramBase + Uniform(0, 20) * kKiB, size, size,
                                       Uniform(1, 400), static_cast<uint32_t>(Uniform(0, 2))});
    }
    core_.MountWithManifest(SpecOf(n), manifest).status().IgnoreError();
  }

  testing::FakeClock& clock_;
  MasterCore& core_;
  std::mt19937 rng_;
  Epoch epochs_[kNodes] = {1, 1, 1, 1};
  // Copy tasks handed to nodes and not yet reported.
  std::vector<CopyTask> delivered_;
};

TEST(MasterCoreRandomOpsTest, InvariantsHoldAfterEveryOperation) {
  RepairStats repairs;  // over every seed: the sequences must reach each repair outcome
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    testing::FakeClock clock;
    MasterCoreOptions options;
    options.client_ttl = seconds(20);  // heartbeats are random: nodes expire now and then
    auto core = MasterCore::Create(options, clock).value();
    RandomOps ops(clock, *core, seed);
    ops.MountAll();
    for (int step = 0; step < 3000; ++step) {
      ops.Step();
      Status s = core->CheckInvariants();
      ASSERT_TRUE(s.ok()) << "seed " << seed << " step " << step << ": " << s.ToString();
    }
    repairs.completed += core->repair_stats().completed;
    repairs.failed += core->repair_stats().failed;
    repairs.cancelled += core->repair_stats().cancelled;
    repairs.timed_out += core->repair_stats().timed_out;
    // Everything can be given back: nothing leaked in the pool.
    clock.Advance(std::chrono::hours(1));
    core->Tick();
    core->RemoveAll(RemoveMode::kForce);
    EXPECT_EQ(core->ObjectCount(), 0u) << "seed " << seed;
    EXPECT_EQ(core->PendingPutCount(), 0u);
    EXPECT_EQ(core->DeferredFreeCount(), 0u);
    EXPECT_EQ(core->ObjectsBelowReplicaTarget(), 0u);
    EXPECT_EQ(core->RepairsInFlight(), 0u);
    for (const SegmentInfo& segment : core->segment_pool().List()) {
      EXPECT_EQ(segment.allocations, 0u) << "seed " << seed << " " << segment.name;
    }
    ExpectConsistent(*core);
  }
  EXPECT_GT(repairs.completed, 0u);
  EXPECT_GT(repairs.failed, 0u);
  EXPECT_GT(repairs.cancelled, 0u);
  EXPECT_GT(repairs.timed_out, 0u);
  std::printf(
      "repairs over all seeds: %llu completed, %llu failed, %llu cancelled, %llu timed out\n",
      static_cast<unsigned long long>(repairs.completed),
      static_cast<unsigned long long>(repairs.failed),
      static_cast<unsigned long long>(repairs.cancelled),
      static_cast<unsigned long long>(repairs.timed_out));
}

}  // namespace
}  // namespace mooncake::master
