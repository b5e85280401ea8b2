#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "master/core/master_core.h"
#include "testing/fake_clock.h"

namespace mooncake::master {
namespace {

using std::chrono::seconds;

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;

class MasterCoreLivenessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MasterCoreOptions options;
    options.client_ttl = seconds(10);
    auto core = MasterCore::Create(options, clock_);
    ASSERT_TRUE(core.ok()) << core.status().ToString();
    core_ = std::move(core).value();
  }

  void TearDown() override {
    if (core_ == nullptr) return;
    Status s = core_->CheckInvariants();
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  void MountNode(const std::string& node, Epoch epoch = 1) {
    ASSERT_TRUE(
        core_->Mount(SegmentSpec{"seg-" + node, node, epoch, Medium::kDram, 0x100000, kMiB}).ok());
  }

  void PutOk(const std::string& key, int replica_num) {
    ReplicateConfig config;
    config.replica_num = replica_num;
    auto started = core_->PutStart(key, kKiB, config);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    ASSERT_EQ(started->replicas_short, 0);
    ASSERT_TRUE(core_->PutEnd(key, 7).ok());
  }

  testing::FakeClock clock_;
  std::unique_ptr<MasterCore> core_;
};

TEST(MasterCoreLivenessOptionsTest, ClientTtlMustBePositive) {
  MasterCoreOptions options;
  EXPECT_EQ(options.client_ttl, seconds(10));
  options.client_ttl = seconds(0);
  EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidParams);
}

TEST_F(MasterCoreLivenessTest, NodeMissingItsTtlIsUnmounted) {
  MountNode("a");
  PutOk("k", 1);
  clock_.Advance(seconds(9));
  core_->Tick();
  EXPECT_TRUE(core_->TakeExpiredNodes().empty());
  EXPECT_TRUE(core_->segment_pool().Find("seg-a").has_value());
  clock_.Advance(seconds(1));
  core_->Tick();
  EXPECT_EQ(core_->TakeExpiredNodes(), std::vector<NodeId>{"a"});
  EXPECT_TRUE(core_->TakeExpiredNodes().empty());  // Taken once.
  EXPECT_FALSE(core_->segment_pool().Find("seg-a").has_value());
  EXPECT_FALSE(*core_->ExistKey("k"));
  // Dead now: its heartbeat is refused until it mounts again.
  EXPECT_EQ(core_->Heartbeat("a", 1).code(), StatusCode::kClientNotFound);
  EXPECT_TRUE(core_->segment_pool().CheckConsistency().ok());
}

TEST_F(MasterCoreLivenessTest, HeartbeatsKeepANodeAlive) {
  MountNode("a");
  MountNode("b");
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(seconds(6));
    ASSERT_TRUE(core_->Heartbeat("a", 1).ok());
    core_->Tick();
  }
  // 30 s in: "a" heartbeat every 6 s and lives; "b" never did and expired.
  EXPECT_EQ(core_->TakeExpiredNodes(), std::vector<NodeId>{"b"});
  EXPECT_TRUE(core_->segment_pool().Find("seg-a").has_value());
  EXPECT_FALSE(core_->segment_pool().Find("seg-b").has_value());
  clock_.Advance(seconds(10));
  core_->Tick();
  EXPECT_EQ(core_->TakeExpiredNodes(), std::vector<NodeId>{"a"});
}

TEST_F(MasterCoreLivenessTest, ObjectWithAnotherReplicaSurvivesNodeExpiry) {
  MountNode("a");
  MountNode("b");
  PutOk("two", 2);
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
  clock_.Advance(seconds(5));
  ASSERT_TRUE(core_->Heartbeat("b", 1).ok());
  clock_.Advance(seconds(5));
  core_->Tick();
  EXPECT_EQ(core_->TakeExpiredNodes(), std::vector<NodeId>{"a"});
  auto view = core_->GetReplicaList("two");
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  ASSERT_EQ(view->replicas.size(), 1u);
  EXPECT_EQ(view->replicas[0].node, "b");
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
}

TEST_F(MasterCoreLivenessTest, StaleEpochHeartbeatRefused) {
  MountNode("a", /*epoch=*/1);
  MountNode("a", /*epoch=*/2);  // Restarted: epoch 1's segment is replaced.
  EXPECT_EQ(core_->Heartbeat("a", 1).code(), StatusCode::kInvalidVersion);
  EXPECT_TRUE(core_->Heartbeat("a", 2).ok());
  // A newer incarnation that has not mounted cannot keep the old one's segments alive.
  EXPECT_EQ(core_->Heartbeat("a", 3).code(), StatusCode::kClientNotFound);
  // The refused heartbeats did not count: only the mount/epoch-2 heartbeat at t0 did.
  clock_.Advance(seconds(10));
  core_->Tick();
  EXPECT_EQ(core_->TakeExpiredNodes(), std::vector<NodeId>{"a"});
}

TEST_F(MasterCoreLivenessTest, UnknownNodeHeartbeatIsClientNotFound) {
  EXPECT_EQ(core_->Heartbeat("ghost", 1).code(), StatusCode::kClientNotFound);
  MountNode("a");
  ASSERT_EQ(core_->UnmountNode("a"), 1u);
  EXPECT_EQ(core_->Heartbeat("a", 1).code(), StatusCode::kClientNotFound);
}

}  // namespace
}  // namespace mooncake::master
