#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"

namespace mooncake::master {
namespace {

using std::chrono::seconds;

// Nodes expire after 10 s without a heartbeat; the other fixtures turn this off.
class MasterCoreLivenessTest : public MasterCoreFixture {
 protected:
  void SetUp() override {
    MasterCoreOptions options;
    options.client_ttl = seconds(10);
    CreateCore(options);
  }
};

TEST(MasterCoreLivenessOptionsTest, ClientTtlMustBePositive) {
  MasterCoreOptions options;
  EXPECT_EQ(options.client_ttl, seconds(10));
  options.client_ttl = seconds(0);
  EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidParams);
}

TEST_F(MasterCoreLivenessTest, NodeMissingItsTtlIsUnmounted) {
  MountNode("a");
  PutFull("k", kKiB, Replicas(1));
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
  PutFull("two", kKiB, Replicas(2));
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
  MountNode("a", kMiB, /*epoch=*/1);
  MountNode("a", kMiB, /*epoch=*/2);  // Restarted: epoch 1's segment is replaced.
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
