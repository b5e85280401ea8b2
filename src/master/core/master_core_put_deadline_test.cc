// MasterCore's put deadline: a put not ended within put_timeout is reclaimed, by Tick through
// the deadline index or by the first call that touches its key, and never lands afterwards.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

class MasterCorePutDeadlineTest : public MasterCoreFixture {
 protected:
  void SetUp() override {
    CreateCore();  // put_timeout 30 s, leases 5 s
    MountNodes({"a", "b"});
  }

  // Starts a put of 4 KiB that stays in flight.
  void Start(const std::string& key, int replica_num = 1) {
    ASSERT_TRUE(core_->PutStart(key, 4 * kKiB, Replicas(replica_num)).ok()) << key;
    ExpectConsistent();
  }
};

TEST_F(MasterCorePutDeadlineTest, PutEndJustBeforeTheDeadlineLands) {
  Start("k");
  clock_.Advance(seconds(30) - milliseconds(1));
  EXPECT_TRUE(core_->PutEnd("k", 1).ok());
  EXPECT_TRUE(*core_->ExistKey("k"));
  EXPECT_EQ(core_->PendingPutCount(), 0u);
}

TEST_F(MasterCorePutDeadlineTest, PutEndAfterTheDeadlineFailsEvenBeforeTick) {
  Start("k", 2);
  ASSERT_GT(Used(), 0u);
  clock_.Advance(seconds(30));  // the deadline; no Tick has run
  Status end = core_->PutEnd("k", 1);
  EXPECT_EQ(end.code(), StatusCode::kObjectNotFound);
  EXPECT_THAT(end.message(), HasSubstr("timed out"));
  // Reclaimed by that call: the space is free and the key forgotten.
  EXPECT_EQ(Used(), 0u);
  EXPECT_EQ(core_->ObjectCount(), 0u);
  EXPECT_EQ(core_->PendingPutCount(), 0u);
  EXPECT_FALSE(*core_->ExistKey("k"));
  // A second PutEnd finds no put at all.
  EXPECT_EQ(core_->PutEnd("k", 1).code(), StatusCode::kObjectNotFound);
}

TEST_F(MasterCorePutDeadlineTest, PutRevokeAfterTheDeadlineReportsTheTimeout) {
  Start("k");
  clock_.Advance(seconds(31));
  Status revoke = core_->PutRevoke("k");
  EXPECT_EQ(revoke.code(), StatusCode::kObjectNotFound);
  EXPECT_THAT(revoke.message(), HasSubstr("timed out"));
  EXPECT_EQ(Used(), 0u);
  EXPECT_EQ(core_->ObjectCount(), 0u);
}

TEST_F(MasterCorePutDeadlineTest, UpsertEndAfterTheDeadlineKeepsTheOldVersion) {
  Start("k");
  ASSERT_TRUE(core_->PutEnd("k", 1).ok());
  const uint64_t old_version = core_->GetReplicaList("k")->version;
  const uint64_t used_old = Used();
  ASSERT_TRUE(core_->UpsertStart("k", 8 * kKiB, {}).ok());
  clock_.Advance(seconds(30));
  Status end = core_->PutEnd("k", 2);
  EXPECT_EQ(end.code(), StatusCode::kObjectNotFound);
  EXPECT_THAT(end.message(), HasSubstr("timed out"));
  auto view = core_->GetReplicaList("k");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->version, old_version);
  EXPECT_EQ(view->checksum, 1u);
  EXPECT_EQ(Used(), used_old);
  // Nothing is in flight any more: a new upsert may start at once.
  EXPECT_TRUE(core_->UpsertStart("k", kKiB, {}).ok());
}

TEST_F(MasterCorePutDeadlineTest, AnExpiredPutNoLongerHoldsItsKey) {
  Start("k");
  clock_.Advance(seconds(30));
  // No Tick: PutStart itself reclaims the expired put and may take the key.
  auto again = core_->PutStart("k", kKiB, {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(core_->PutEnd("k", 3).ok());
  EXPECT_EQ(*core_->GetSize("k"), kKiB);
}

TEST_F(MasterCorePutDeadlineTest, RemoveReclaimsAnExpiredUpsertInsteadOfRefusing) {
  Start("k");
  ASSERT_TRUE(core_->PutEnd("k", 1).ok());
  ASSERT_TRUE(core_->UpsertStart("k", kKiB, {}).ok());
  EXPECT_EQ(core_->Remove("k", RemoveMode::kForce).code(), StatusCode::kReplicaIsNotReady);
  clock_.Advance(seconds(30));
  EXPECT_TRUE(core_->Remove("k", RemoveMode::kNormal).ok());
  EXPECT_EQ(Used(), 0u);
}

TEST_F(MasterCorePutDeadlineTest, TickReclaimsExactlyThePutsPastTheirDeadline) {
  // Puts started 10 s apart; after 45 s the first two are past 30 s, the third is not.
  Start("p0");
  clock_.Advance(seconds(10));
  Start("p1", 2);
  clock_.Advance(seconds(10));
  Start("p2");
  ASSERT_TRUE(core_->PutEnd("p2", 1).ok());  // ended: leaves the deadline index
  Start("p3");
  EXPECT_EQ(core_->PendingPutCount(), 3u);
  clock_.Advance(seconds(25));  // p0 at 45 s, p1 at 35 s, p3 at 25 s
  core_->Tick();
  ExpectConsistent();
  EXPECT_EQ(core_->PendingPutCount(), 1u);
  EXPECT_EQ(core_->ObjectCount(), 2u);  // p2 (visible) and p3 (in flight)
  EXPECT_EQ(core_->PutEnd("p0", 1).code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(core_->PutEnd("p1", 1).code(), StatusCode::kObjectNotFound);
  EXPECT_TRUE(core_->PutEnd("p3", 1).ok());
  EXPECT_EQ(core_->PendingPutCount(), 0u);
}

TEST_F(MasterCorePutDeadlineTest, PutsLostWithTheirSegmentLeaveTheDeadlineIndex) {
  ReplicateConfig on_a;
  on_a.preferred_segments = {"seg-a"};
  ASSERT_TRUE(core_->PutStart("only-a", kKiB, on_a).ok());
  Start("both", 2);
  EXPECT_EQ(core_->PendingPutCount(), 2u);
  ASSERT_EQ(core_->UnmountNode("a"), 1u);
  ExpectConsistent();
  // "only-a" lost its only replica: cancelled. "both" keeps its replica on b.
  EXPECT_EQ(core_->PendingPutCount(), 1u);
  EXPECT_EQ(core_->PutEnd("only-a", 1).code(), StatusCode::kObjectNotFound);
  clock_.Advance(seconds(30));
  core_->Tick();
  EXPECT_EQ(core_->PendingPutCount(), 0u);
  EXPECT_EQ(core_->ObjectCount(), 0u);
  EXPECT_EQ(Used(), 0u);
}

TEST_F(MasterCorePutDeadlineTest, ManyPutsWithOneDeadlineAreAllReclaimed) {
  // The deadline index must keep puts that started at the same instant apart.
  for (int i = 0; i < 50; ++i) Start("same-" + std::to_string(i));
  EXPECT_EQ(core_->PendingPutCount(), 50u);
  ASSERT_TRUE(core_->PutRevoke("same-7").ok());
  ASSERT_TRUE(core_->PutEnd("same-8", 1).ok());
  EXPECT_EQ(core_->PendingPutCount(), 48u);
  clock_.Advance(seconds(30));
  core_->Tick();
  EXPECT_EQ(core_->PendingPutCount(), 0u);
  EXPECT_EQ(core_->ObjectCount(), 1u);
  EXPECT_TRUE(*core_->ExistKey("same-8"));
}

TEST_F(MasterCorePutDeadlineTest, BelowTargetCounterFollowsPutsAndSegmentLoss) {
  ReplicateConfig three;
  three.replica_num = 3;  // only two nodes: one short
  ASSERT_TRUE(core_->PutStart("k", kKiB, three).ok());
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);  // not visible yet
  ASSERT_TRUE(core_->PutEnd("k", 1).ok());
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
  Start("two", 2);
  ASSERT_TRUE(core_->PutEnd("two", 1).ok());
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
  ASSERT_EQ(core_->UnmountNode("b"), 1u);
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 2u);
  ASSERT_TRUE(core_->Remove("k", RemoveMode::kForce).ok());
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
  ASSERT_EQ(core_->UnmountNode("a"), 1u);
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
  EXPECT_EQ(core_->ObjectCount(), 0u);
}

}  // namespace
}  // namespace mooncake::master
