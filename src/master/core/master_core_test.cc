#include "master/core/master_core.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "master/core/master_core_test_fixture.h"
#include "testing/fake_clock.h"

namespace mooncake::master {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

// Nodes never heartbeat here: liveness is master_core_liveness_test's subject (TestOptions).
class MasterCoreTest : public MasterCoreFixture {};

TEST(MasterCoreOptionsTest, DefaultsValidateAndBadValuesAreRefused) {
  EXPECT_TRUE(MasterCoreOptions{}.Validate().ok());
  MasterCoreOptions options;
  options.max_lease_ttl = seconds(1);  // below default_lease_ttl
  EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidParams);
  options = MasterCoreOptions{};
  options.put_timeout = seconds(0);
  EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidParams);
  testing::FakeClock clock;
  EXPECT_EQ(MasterCore::Create(options, clock).status().code(), StatusCode::kInvalidParams);
}

TEST_F(MasterCoreTest, PutIsInvisibleUntilPutEnd) {
  MountNode("a");
  ASSERT_TRUE(core_->PutStart("k", kKiB, {}).ok());
  EXPECT_FALSE(*core_->ExistKey("k"));
  EXPECT_EQ(core_->GetReplicaList("k").status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(core_->GetSize("k").status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(core_->Remove("k", RemoveMode::kForce).code(), StatusCode::kObjectNotFound);
  ASSERT_TRUE(core_->PutEnd("k", 7).ok());
  EXPECT_TRUE(*core_->ExistKey("k"));
  auto view = core_->GetReplicaList("k");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->size, kKiB);
  EXPECT_EQ(view->checksum, 7u);
  ASSERT_EQ(view->replicas.size(), 1u);
  EXPECT_EQ(view->replicas[0].status, ReplicaStatus::kComplete);
  EXPECT_EQ(*core_->GetSize("k"), kKiB);
}

TEST_F(MasterCoreTest, PutEndSealsAValidBlockChecksumTableAndRefusesAWrongOne) {
  MountNode("a");
  const uint64_t size = 3 * kChecksumBlockSize + 5;
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 7);
  const ObjectChecksums sums = ComputeObjectChecksums(bytes.data(), size);
  ASSERT_TRUE(core_->PutStart("k", size, {}).ok());
  auto wrong = std::make_shared<std::vector<uint32_t>>(*sums.blocks);
  wrong->back() ^= 1;
  EXPECT_EQ(core_->PutEnd("k", sums.whole, wrong).code(), StatusCode::kInvalidParams);
  EXPECT_FALSE(*core_->ExistKey("k")) << "a refused PutEnd leaves the put open";
  ASSERT_TRUE(core_->PutEnd("k", sums.whole, sums.blocks).ok());
  auto view = core_->GetReplicaList("k");
  ASSERT_TRUE(view.ok());
  ASSERT_NE(view->block_checksums, nullptr);
  EXPECT_EQ(*view->block_checksums, *sums.blocks);
  // An object without a table (a writer that sent none) is listed without one.
  ASSERT_TRUE(core_->PutStart("plain", size, {}).ok());
  ASSERT_TRUE(core_->PutEnd("plain", sums.whole).ok());
  EXPECT_EQ(core_->GetReplicaList("plain")->block_checksums, nullptr);
}

TEST_F(MasterCoreTest, ExistingKeyIsAlreadyExistsEvenWhileInFlight) {
  MountNode("a");
  ASSERT_TRUE(core_->PutStart("k", kKiB, {}).ok());
  EXPECT_EQ(core_->PutStart("k", kKiB, {}).status().code(), StatusCode::kObjectAlreadyExists);
  ASSERT_TRUE(core_->PutEnd("k", 0).ok());
  EXPECT_EQ(core_->PutStart("k", kKiB, {}).status().code(), StatusCode::kObjectAlreadyExists);
}

TEST_F(MasterCoreTest, VersionsAreMonotonic) {
  MountNode("a");
  uint64_t v1 = PutOk("a").version;
  uint64_t v2 = PutOk("b").version;
  EXPECT_LT(v1, v2);
}

TEST_F(MasterCoreTest, ExistKeyGrantsNoLease) {
  MountNode("a");
  PutOk("k");
  EXPECT_TRUE(*core_->ExistKey("k"));
  EXPECT_TRUE(core_->GetSize("k").ok());
  EXPECT_TRUE(core_->Remove("k", RemoveMode::kNormal).ok());
  EXPECT_EQ(Used(), 0u);
}

TEST_F(MasterCoreTest, RemoveRefusedWhileLeasedUnlessForced) {
  MountNode("a");
  PutOk("k");
  PutOk("k2");
  ASSERT_TRUE(core_->GetReplicaList("k").ok());
  ASSERT_TRUE(core_->GetReplicaList("k2").ok());
  EXPECT_EQ(core_->Remove("k", RemoveMode::kNormal).code(), StatusCode::kObjectHasLease);
  clock_.Advance(seconds(4));
  EXPECT_EQ(core_->Remove("k", RemoveMode::kNormal).code(), StatusCode::kObjectHasLease);
  clock_.Advance(seconds(1));  // default_lease_ttl (5 s) reached: lapsed
  EXPECT_TRUE(core_->Remove("k", RemoveMode::kNormal).ok());
  ASSERT_TRUE(core_->GetReplicaList("k2").ok());
  EXPECT_TRUE(core_->Remove("k2", RemoveMode::kForce).ok());
  EXPECT_EQ(core_->ObjectCount(), 0u);
  EXPECT_EQ(Used(), 0u);
}

TEST_F(MasterCoreTest, LeaseCannotBeExtendedPastCap) {
  MountNode("a");
  PutOk("k");
  const MasterCoreOptions defaults;
  const auto start = clock_.Now();
  bool removed = false;
  for (int i = 0; i < 2 * 30; ++i) {
    if (core_->Remove("k", RemoveMode::kNormal).ok()) {
      removed = true;
      break;
    }
    ASSERT_TRUE(core_->GetReplicaList("k").ok());
    clock_.Advance(seconds(1));
  }
  ASSERT_TRUE(removed);
  EXPECT_LE(clock_.Now() - start, defaults.max_lease_ttl + defaults.default_lease_ttl);
}

TEST_F(MasterCoreTest, LeaseExtendsWithinCapAndReportsLeaseUntil) {
  MountNode("a");
  PutOk("k");
  auto first = core_->GetReplicaList("k");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->lease_until, clock_.Now() + seconds(5));
  clock_.Advance(seconds(27));  // lapsed: a new streak starts at t=27
  ASSERT_TRUE(core_->GetReplicaList("k").ok());
  clock_.Advance(seconds(4));
  auto again = core_->GetReplicaList("k");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->lease_until, clock_.Now() + seconds(5));  // well within the cap
}

TEST_F(MasterCoreTest, AbandonedPutIsReclaimedAfterTimeout) {
  MountNode("a");
  ASSERT_TRUE(core_->PutStart("k", 64 * kKiB, {}).ok());
  EXPECT_GT(Used(), 0u);
  clock_.Advance(seconds(29));
  core_->Tick();
  EXPECT_GT(Used(), 0u);
  clock_.Advance(seconds(1));
  core_->Tick();
  EXPECT_EQ(Used(), 0u);
  EXPECT_EQ(core_->ObjectCount(), 0u);
  EXPECT_EQ(core_->PutEnd("k", 0).code(), StatusCode::kObjectNotFound);
  EXPECT_TRUE(core_->PutStart("k", kKiB, {}).ok());  // the key is free again
}

TEST_F(MasterCoreTest, ReplicasLandOnDistinctNodes) {
  MountNode("a");
  MountNode("b");
  MountNode("c");
  PutStartResult put = PutOk("k", kKiB, Replicas(3));
  EXPECT_EQ(put.replicas_short, 0);
  std::set<NodeId> nodes;
  for (const auto& r : put.replicas) nodes.insert(r.node);
  EXPECT_EQ(nodes, (std::set<NodeId>{"a", "b", "c"}));
  EXPECT_EQ(core_->GetReplicaList("k")->replicas.size(), 3u);
}

TEST_F(MasterCoreTest, ShortOfNodesStillPutsBestEffort) {
  MountNode("a");
  // A second segment on the same node must not take a second replica.
  ASSERT_TRUE(core_->Mount(SegmentSpec{"seg-a2", "a", 1, Medium::kDram, 0x900000, kMiB}).ok());
  MountNode("b");
  PutStartResult put = PutOk("k", kKiB, Replicas(3));
  EXPECT_EQ(put.replicas.size(), 2u);
  EXPECT_EQ(put.replicas_short, 1);
  EXPECT_NE(put.replicas[0].node, put.replicas[1].node);
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
}

TEST_F(MasterCoreTest, NoSpaceIsNoAvailableHandleAndFreesPartial) {
  MountNode("a", 64 * kKiB);
  EXPECT_EQ(core_->PutStart("k", kMiB, {}).status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_EQ(core_->ObjectCount(), 0u);
  // No segments of the medium at all.
  ReplicateConfig vram;
  vram.medium = Medium::kVram;
  EXPECT_EQ(core_->PutStart("k", kKiB, vram).status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_EQ(Used(), 0u);
  // Partial: the big node fits, the small one does not -> best effort, one replica.
  MountNode("b", 4 * kMiB);
  auto put = core_->PutStart("k", kMiB, Replicas(2));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->replicas.size(), 1u);
  EXPECT_EQ(put->replicas[0].node, "b");
  ASSERT_TRUE(core_->PutRevoke("k").ok());
  EXPECT_EQ(Used(), 0u);
}

TEST_F(MasterCoreTest, DoublePutEndRefused) {
  MountNode("a");
  PutOk("k");
  Status again = core_->PutEnd("k", 0);
  EXPECT_EQ(again.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(again.message(), HasSubstr("already complete"));
  EXPECT_EQ(core_->PutEnd("missing", 0).code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(core_->PutRevoke("k").code(), StatusCode::kInvalidParams);
}

TEST_F(MasterCoreTest, PutEndAfterRevokeIsNotFound) {
  MountNode("a");
  ASSERT_TRUE(core_->PutStart("k", kKiB, {}).ok());
  ASSERT_TRUE(core_->PutRevoke("k").ok());
  EXPECT_EQ(Used(), 0u);
  EXPECT_EQ(core_->PutEnd("k", 0).code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(core_->PutRevoke("k").code(), StatusCode::kObjectNotFound);
}

TEST_F(MasterCoreTest, RemoveOfInFlightPutIsNotReady) {
  MountNode("a");
  PutOk("k");
  ASSERT_TRUE(core_->UpsertStart("k", kKiB, {}).ok());
  EXPECT_EQ(core_->Remove("k", RemoveMode::kForce).code(), StatusCode::kReplicaIsNotReady);
}

TEST_F(MasterCoreTest, NewerEpochMountDropsReplicasAndObjects) {
  MountNode("a", kMiB, 1);
  PutOk("k");
  ASSERT_TRUE(core_->PutStart("inflight", kKiB, {}).ok());
  EXPECT_EQ(core_->ObjectCount(), 2u);
  MountNode("a", kMiB, 2);  // restarted node: its old segment and replicas are gone
  EXPECT_EQ(core_->ObjectCount(), 0u);
  EXPECT_FALSE(*core_->ExistKey("k"));
  EXPECT_EQ(core_->PutEnd("inflight", 0).code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(Used(), 0u);
  // A stale epoch is refused.
  EXPECT_EQ(core_->Mount(SegmentSpec{"seg-old", "a", 1, Medium::kDram, 0, kMiB}).code(),
            StatusCode::kInvalidVersion);
}

TEST_F(MasterCoreTest, UnmountNodeKeepsObjectsWithAnotherReplica) {
  MountNode("a");
  MountNode("b");
  PutOk("two", kKiB, Replicas(2));
  ASSERT_TRUE(core_->PutStart("only-a", kKiB, Replicas(1, {"seg-a"})).ok());
  ASSERT_TRUE(core_->PutEnd("only-a", 0).ok());
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
  EXPECT_EQ(core_->UnmountNode("a"), 1u);
  EXPECT_TRUE(*core_->ExistKey("two"));
  EXPECT_FALSE(*core_->ExistKey("only-a"));
  auto view = core_->GetReplicaList("two");
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->replicas.size(), 1u);
  EXPECT_EQ(view->replicas[0].node, "b");
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
  // Single-segment unmount drops the rest.
  ASSERT_TRUE(core_->Unmount("seg-b", "b", 1).ok());
  EXPECT_EQ(core_->ObjectCount(), 0u);
  EXPECT_EQ(core_->Unmount("seg-b", "b", 1).code(), StatusCode::kSegmentNotFound);
}

TEST_F(MasterCoreTest, RemoveByRegexCountsAndBadPatternIsClearError) {
  MountNode("a");
  PutOk("user/1");
  PutOk("user/2");
  PutOk("user/3");
  PutOk("other");
  ASSERT_TRUE(core_->PutStart("user/inflight", kKiB, {}).ok());
  ASSERT_TRUE(core_->GetReplicaList("user/3").ok());  // leased: skipped unless forced
  auto removed = core_->RemoveByRegex("^user/", RemoveMode::kNormal);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 2u);
  EXPECT_EQ(*core_->RemoveByRegex("^user/", RemoveMode::kForce), 1u);
  auto bad = core_->RemoveByRegex("([a-", RemoveMode::kNormal);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(bad.status().message(), HasSubstr("invalid regex"));
  EXPECT_TRUE(*core_->ExistKey("other"));
}

TEST_F(MasterCoreTest, RemoveAllSkipsLeasedUnlessForced) {
  MountNode("a");
  PutOk("x");
  PutOk("y");
  ASSERT_TRUE(core_->GetReplicaList("y").ok());
  EXPECT_EQ(core_->RemoveAll(RemoveMode::kNormal), 1u);
  EXPECT_EQ(core_->RemoveAll(RemoveMode::kForce), 1u);
  EXPECT_EQ(Used(), 0u);
}

TEST_F(MasterCoreTest, BadKeysAndSizesHaveDefinedCodes) {
  MountNode("a");
  EXPECT_EQ(core_->PutStart("", kKiB, {}).status().code(), StatusCode::kInvalidKey);
  const std::string too_long(4097, 'k');
  EXPECT_EQ(core_->PutStart(too_long, kKiB, {}).status().code(), StatusCode::kInvalidKey);
  EXPECT_TRUE(core_->PutStart(std::string(4096, 'k'), kKiB, {}).ok());
  const std::string mega(1 << 20, 'k');
  EXPECT_EQ(core_->GetReplicaList(mega).status().code(), StatusCode::kInvalidKey);
  EXPECT_EQ(core_->ExistKey("").status().code(), StatusCode::kInvalidKey);
  EXPECT_EQ(core_->Remove("", RemoveMode::kForce).code(), StatusCode::kInvalidKey);
  EXPECT_EQ(core_->PutStart("k", uint64_t{1} << 63, {}).status().code(),
            StatusCode::kInvalidParams);
  EXPECT_EQ(core_->PutStart("k", kKiB, Replicas(0)).status().code(), StatusCode::kInvalidParams);
  EXPECT_EQ(core_->PutStart("k", kKiB, Replicas(17)).status().code(), StatusCode::kInvalidParams);
}

TEST_F(MasterCoreTest, UpsertSwapsAtomicallyAndFreesOldAtOnceWhenUnleased) {
  MountNode("a");
  PutOk("k", kKiB);
  const uint64_t used_one = Used();
  auto up = core_->UpsertStart("k", 2 * kKiB, {});
  ASSERT_TRUE(up.ok());
  // The old version stays readable while the new one is written.
  EXPECT_EQ(core_->GetReplicaList("k")->size, kKiB);
  EXPECT_EQ(core_->UpsertStart("k", kKiB, {}).status().code(), StatusCode::kReplicaIsNotReady);
  clock_.Advance(seconds(5));  // let the read lease lapse
  ASSERT_TRUE(core_->PutEnd("k", 9).ok());
  auto view = core_->GetReplicaList("k");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->size, 2 * kKiB);
  EXPECT_EQ(view->version, up->version);
  EXPECT_EQ(view->replicas[0].allocation, up->replicas[0].allocation);
  EXPECT_EQ(core_->DeferredFreeCount(), 0u);
  EXPECT_GT(Used(), used_one);  // only the new 2 KiB is held
  ASSERT_TRUE(core_->Remove("k", RemoveMode::kForce).ok());
  EXPECT_EQ(Used(), 0u);
}

TEST_F(MasterCoreTest, UpsertDefersOldReplicasWhileLeased) {
  MountNode("a");
  PutOk("k");
  ASSERT_TRUE(core_->GetReplicaList("k").ok());  // lease until t+5
  auto up = core_->UpsertStart("k", kKiB, {});
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE(core_->PutEnd("k", 1).ok());
  EXPECT_EQ(core_->DeferredFreeCount(), 1u);
  const uint64_t both = Used();
  // The new version starts unleased.
  clock_.Advance(seconds(4));
  core_->Tick();
  EXPECT_EQ(Used(), both);
  clock_.Advance(seconds(1));
  core_->Tick();
  EXPECT_EQ(core_->DeferredFreeCount(), 0u);
  EXPECT_LT(Used(), both);
  EXPECT_TRUE(core_->Remove("k", RemoveMode::kNormal).ok());
  EXPECT_EQ(Used(), 0u);
}

TEST_F(MasterCoreTest, UpsertRevokeAndTimeoutKeepOldVersion) {
  MountNode("a");
  PutOk("k");
  const uint64_t version = core_->GetReplicaList("k")->version;
  ASSERT_TRUE(core_->UpsertStart("k", kKiB, {}).ok());
  ASSERT_TRUE(core_->PutRevoke("k").ok());
  EXPECT_EQ(core_->GetReplicaList("k")->version, version);
  ASSERT_TRUE(core_->UpsertStart("k", kKiB, {}).ok());
  clock_.Advance(seconds(30));
  core_->Tick();
  EXPECT_EQ(core_->GetReplicaList("k")->version, version);
  EXPECT_EQ(core_->PutEnd("k", 0).code(), StatusCode::kInvalidParams);
  clock_.Advance(seconds(5));
  ASSERT_TRUE(core_->Remove("k", RemoveMode::kNormal).ok());
  EXPECT_EQ(Used(), 0u);
  // Upsert of a new key behaves as PutStart.
  ASSERT_TRUE(core_->UpsertStart("fresh", kKiB, {}).ok());
  EXPECT_FALSE(*core_->ExistKey("fresh"));
}

}  // namespace
}  // namespace mooncake::master
