// Write-back in the master core: acknowledged objects wait in a backlog until a node holding a
// replica uploads them; until then eviction keeps them; failures back off; one upload per key
// is in flight across upserts and removals, and a late upload of a removed object is deleted.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"
#include "testing/fake_clock.h"

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;

constexpr uint64_t kSegmentBytes = 64 * kKiB;

class MasterCoreUploadTest : public MasterCoreFixture {
 protected:
  void SetUp() override {
    MasterCoreOptions options = TestOptions();
    options.object_tier = ObjectTierPolicy::kWriteBack;
    options.max_uploads_per_node = 2;
    options.upload_retry_delay = milliseconds(100);
    options.upload_timeout = milliseconds(5000);
    journal_ = Journal::kTracked;
    CreateCore(options);
    MountNodes({"a", "b"}, kSegmentBytes);
  }

  // One replica, on `segment` while it has room: the tests choose the node that uploads.
  static ReplicateConfig On(const std::string& segment) { return Replicas(1, {segment}); }
  // A read-through's put-back onto `segment`: its bytes came from the object store.
  static ReplicateConfig ReadThrough(const std::string& segment) {
    ReplicateConfig config = On(segment);
    config.from_object_store = true;
    return config;
  }
  // TryPut of `key` onto `segment`.
  Result<PutStartResult> Put(const std::string& key, uint64_t size = kKiB,
                             const std::string& segment = "seg-a") {
    return TryPut(key, size, On(segment));
  }
  std::vector<UploadTask> TickAndTake(const std::string& node) {
    core_->Tick();
    return core_->TakeUploadTasks(node, 64);
  }
  const TierStats& stats() const { return core_->tier_stats(); }
};

TEST_F(MasterCoreUploadTest, AcknowledgedObjectWaitsInTheBacklogUntilItsNodeUploadsIt) {
  ASSERT_TRUE(Put("k", 3 * kKiB).ok());
  EXPECT_EQ(stats().upload_backlog_objects, 1u);
  EXPECT_EQ(stats().upload_backlog_bytes, 3 * kKiB);

  std::vector<UploadTask> tasks = TickAndTake("a");
  ASSERT_EQ(tasks.size(), 1u);
  const UploadTask& task = tasks[0];
  EXPECT_EQ(task.key, "k");
  EXPECT_EQ(task.size, 3 * kKiB);
  EXPECT_EQ(task.checksum, 7u);
  EXPECT_EQ(task.source.segment, "seg-a");
  EXPECT_FALSE(task.check_first);
  EXPECT_FALSE(task.remove_only);
  EXPECT_GT(task.timeout.count(), 0);
  EXPECT_EQ(stats().uploads_in_flight, 1u);
  EXPECT_TRUE(core_->TakeUploadTasks("a", 64).empty()) << "each task is handed out once";
  EXPECT_TRUE(TickAndTake("a").empty()) << "one upload per object in flight";

  EXPECT_EQ(core_->CompleteUpload(task.task_id, "b", Status::Ok()).code(),
            StatusCode::kInvalidParams);
  ASSERT_TRUE(core_->CompleteUpload(task.task_id, "a", Status::Ok()).ok());
  EXPECT_EQ(stats().upload_backlog_objects, 0u);
  EXPECT_EQ(stats().upload_backlog_bytes, 0u);
  EXPECT_EQ(stats().object_uploads, 1u);
  EXPECT_EQ(stats().uploads_in_flight, 0u);
  EXPECT_EQ(core_->CompleteUpload(task.task_id, "a", Status::Ok()).code(),
            StatusCode::kObjectNotFound);
  EXPECT_TRUE(TickAndTake("a").empty()) << "nothing left to upload";
}

TEST_F(MasterCoreUploadTest, PutBackFromTheObjectStoreNeedsNoUpload) {
  ASSERT_TRUE(TryPut("k", kKiB, ReadThrough("seg-a")).ok());
  EXPECT_EQ(stats().object_read_throughs, 1u);
  EXPECT_EQ(stats().upload_backlog_objects, 0u);
  EXPECT_TRUE(TickAndTake("a").empty());
}

TEST_F(MasterCoreUploadTest, EvictionNeverDropsAnObjectBeforeItsUpload) {
  // 64 KiB segments: eight 8 KiB objects on "a" fill it.
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(Put("k" + std::to_string(i), 8 * kKiB).ok());
  ReplicateConfig on_a;
  on_a.preferred_segments = {"seg-a"};
  // Only "a" may take it: fill "b" too.
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(Put("b" + std::to_string(i), 8 * kKiB, "seg-b").ok());
  }
  auto refused = core_->PutStart("new", 8 * kKiB, on_a);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_NE(refused.status().message().find("wait for their write-back upload"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(core_->ObjectCount(), 16u) << "nothing was dropped";
  EXPECT_GT(core_->eviction_stats().skipped_not_uploaded, 0u);

  // Once k0 is uploaded it may go.
  std::vector<UploadTask> tasks = TickAndTake("a");
  ASSERT_EQ(tasks.size(), 2u) << "max_uploads_per_node";
  for (const UploadTask& task : tasks) {
    ASSERT_TRUE(core_->CompleteUpload(task.task_id, "a", Status::Ok()).ok());
  }
  clock_.Advance(milliseconds(1));
  EXPECT_TRUE(core_->PutStart("new", 8 * kKiB, on_a).ok());
  EXPECT_TRUE(core_->PutEnd("new", 7).ok());
  // Eviction freed down to the low watermark: both uploaded objects went, nothing else.
  for (const UploadTask& task : tasks) EXPECT_FALSE(*core_->ExistKey(task.key)) << task.key;
  EXPECT_EQ(core_->ObjectCount(), 15u);
}

TEST_F(MasterCoreUploadTest, FailedUploadIsRetriedWithGrowingDelay) {
  ASSERT_TRUE(Put("k").ok());
  std::vector<UploadTask> first = TickAndTake("a");
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(
      core_->CompleteUpload(first[0].task_id, "a", Status(StatusCode::kRpcFail, "down")).ok());
  EXPECT_EQ(stats().object_upload_failures, 1u);
  EXPECT_EQ(stats().upload_backlog_objects, 1u);
  EXPECT_TRUE(TickAndTake("a").empty()) << "waits upload_retry_delay";
  clock_.Advance(milliseconds(100));
  std::vector<UploadTask> second = TickAndTake("a");
  ASSERT_EQ(second.size(), 1u);
  ASSERT_TRUE(
      core_->CompleteUpload(second[0].task_id, "a", Status(StatusCode::kRpcFail, "down")).ok());
  clock_.Advance(milliseconds(100));
  EXPECT_TRUE(TickAndTake("a").empty()) << "the second failure waits twice as long";
  clock_.Advance(milliseconds(100));
  std::vector<UploadTask> third = TickAndTake("a");
  ASSERT_EQ(third.size(), 1u);
  ASSERT_TRUE(core_->CompleteUpload(third[0].task_id, "a", Status::Ok()).ok());
  EXPECT_EQ(stats().upload_backlog_objects, 0u);
}

TEST_F(MasterCoreUploadTest, RetriesReachEveryWaitingObjectRoundRobin) {
  // 40 objects on node a, whose uploads all fail: the scan (a bounded slice per Tick, round
  // robin) reaches every one of them, at most max_uploads_per_node at a time.
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(Put("k" + std::to_string(i), 64).ok());
  for (int round = 0; round < 20 && stats().uploads_in_flight < 40; ++round) {
    core_->Tick();
    for (const char* node : {"a", "b"}) {
      for (const UploadTask& t : core_->TakeUploadTasks(node, 64)) {
        ASSERT_TRUE(
            core_->CompleteUpload(t.task_id, node, Status(StatusCode::kRpcFail, "down")).ok());
      }
    }
  }
  EXPECT_EQ(stats().object_upload_failures, 40u) << "every object tried once";
  // All wait now; once due, all are reached.
  clock_.Advance(milliseconds(100));
  size_t scheduled = 0;
  for (int round = 0; round < 10; ++round) scheduled += core_->ScheduleUploads(1);
  EXPECT_EQ(scheduled, 2u) << "max_uploads_per_node (2) on node a";
}

TEST_F(MasterCoreUploadTest, UnreportedUploadExpiresAndIsScheduledAgain) {
  ASSERT_TRUE(Put("k").ok());
  std::vector<UploadTask> tasks = TickAndTake("a");
  ASSERT_EQ(tasks.size(), 1u);
  clock_.Advance(milliseconds(5000));
  core_->Tick();  // expires it; the retry waits upload_retry_delay
  EXPECT_EQ(stats().object_upload_failures, 1u);
  EXPECT_EQ(core_->CompleteUpload(tasks[0].task_id, "a", Status::Ok()).code(),
            StatusCode::kObjectNotFound);
  clock_.Advance(milliseconds(100));
  EXPECT_EQ(TickAndTake("a").size(), 1u);
}

TEST_F(MasterCoreUploadTest, UpsertDuringUploadUploadsTheNewVersionAfterwards) {
  ASSERT_TRUE(Put("k", kKiB).ok());
  std::vector<UploadTask> old_upload = TickAndTake("a");
  ASSERT_EQ(old_upload.size(), 1u);
  ASSERT_TRUE(TryUpsert("k", 2 * kKiB, On("seg-b")).ok());
  EXPECT_EQ(stats().upload_backlog_objects, 1u);
  EXPECT_EQ(stats().upload_backlog_bytes, 2 * kKiB);
  EXPECT_TRUE(TickAndTake("b").empty()) << "the old version's upload is still in flight";
  ASSERT_TRUE(core_->CompleteUpload(old_upload[0].task_id, "a", Status::Ok()).ok());
  EXPECT_EQ(stats().upload_backlog_objects, 1u) << "the old version landing does not count";
  std::vector<UploadTask> new_upload = TickAndTake("b");
  ASSERT_EQ(new_upload.size(), 1u);
  EXPECT_EQ(new_upload[0].size, 2 * kKiB);
  ASSERT_TRUE(core_->CompleteUpload(new_upload[0].task_id, "b", Status::Ok()).ok());
  EXPECT_EQ(stats().upload_backlog_objects, 0u);
}

TEST_F(MasterCoreUploadTest, LateUploadOfARemovedObjectIsDeletedBeforeTheKeysNextUpload) {
  ASSERT_TRUE(Put("k").ok());
  std::vector<UploadTask> stale = TickAndTake("a");
  ASSERT_EQ(stale.size(), 1u);
  ASSERT_TRUE(core_->Remove("k", RemoveMode::kForce).ok());
  EXPECT_EQ(stats().upload_backlog_objects, 0u);
  ASSERT_TRUE(Put("k", kKiB, "seg-b").ok());
  EXPECT_TRUE(TickAndTake("b").empty()) << "waits for the orphaned upload";

  // The orphan lands after the remove; the new object is still on its way, so no delete
  // (its upload overwrites the stale bytes).
  ASSERT_TRUE(core_->CompleteUpload(stale[0].task_id, "a", Status::Ok()).ok());
  std::vector<UploadTask> next = TickAndTake("b");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_FALSE(next[0].remove_only);
  ASSERT_TRUE(core_->CompleteUpload(next[0].task_id, "b", Status::Ok()).ok());

  // Removed for good while an upload runs: its late success is followed by a delete.
  ASSERT_TRUE(Put("j").ok());
  std::vector<UploadTask> late = TickAndTake("a");
  ASSERT_EQ(late.size(), 1u);
  ASSERT_TRUE(core_->Remove("j", RemoveMode::kForce).ok());
  ASSERT_TRUE(core_->CompleteUpload(late[0].task_id, "a", Status::Ok()).ok());
  std::vector<UploadTask> remove = core_->TakeUploadTasks("a", 64);
  ASSERT_EQ(remove.size(), 1u);
  EXPECT_TRUE(remove[0].remove_only);
  EXPECT_EQ(remove[0].key, "j");
  ASSERT_TRUE(Put("j", kKiB, "seg-b").ok());
  EXPECT_TRUE(TickAndTake("b").empty()) << "the key's next upload waits for the delete";
  ASSERT_TRUE(core_->CompleteUpload(remove[0].task_id, "a", Status::Ok()).ok());
  EXPECT_EQ(TickAndTake("b").size(), 1u);
}

TEST_F(MasterCoreUploadTest, UploadFromALostNodeMovesToAnotherReplica) {
  ReplicateConfig two;
  two.replica_num = 2;
  two.preferred_segments = {"seg-a", "seg-b"};
  ASSERT_TRUE(core_->PutStart("k", kKiB, two).ok());
  ASSERT_TRUE(core_->PutEnd("k", 7).ok());
  std::vector<UploadTask> on_a = TickAndTake("a");
  ASSERT_EQ(on_a.size(), 1u);
  EXPECT_EQ(core_->UnmountNode("a"), 1u);
  EXPECT_EQ(stats().uploads_in_flight, 0u);
  EXPECT_EQ(stats().object_upload_failures, 0u) << "a lost node is no failed upload";
  std::vector<UploadTask> on_b = TickAndTake("b");
  ASSERT_EQ(on_b.size(), 1u);
  EXPECT_EQ(on_b[0].source.segment, "seg-b");
}

TEST_F(MasterCoreUploadTest, AdoptedObjectsAreUploadedAfterACheck) {
  SegmentSpec c = Dram("c", kSegmentBytes);
  std::vector<ManifestEntry> manifest{ManifestEntry{"adopted", kDramBase, kKiB, kKiB, 99, 7}};
  ASSERT_TRUE(core_->MountWithManifest(c, manifest).ok());
  EXPECT_EQ(stats().upload_backlog_objects, 1u);
  std::vector<UploadTask> tasks = TickAndTake("c");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_TRUE(tasks[0].check_first);
  EXPECT_EQ(tasks[0].version, 99u);
}

TEST_F(MasterCoreUploadTest, ManifestsSayWhatIsInTheObjectStoreAlready) {
  // Node c uploaded "up" before the master restarted; d holds a second replica and does not
  // know. "new" was never uploaded.
  SegmentSpec c = Dram("c", kSegmentBytes);
  SegmentSpec d = Dram("d", kSegmentBytes);
  ManifestEntry up{"up", kDramBase, kKiB, kKiB, 99, 7, /*in_object_store=*/false};
  ManifestEntry fresh{"new", kDramBase + kKiB, kKiB, kKiB, 98, 7, false};
  ASSERT_TRUE(core_->MountWithManifest(d, {up, fresh}).ok());
  EXPECT_EQ(stats().upload_backlog_objects, 2u);
  up.in_object_store = true;
  ASSERT_TRUE(core_->MountWithManifest(c, {up}).ok());
  EXPECT_EQ(stats().upload_backlog_objects, 1u) << "c's manifest says 'up' is uploaded";
  std::vector<UploadTask> tasks = TickAndTake("d");
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].key, "new");
  ASSERT_TRUE(core_->CompleteUpload(tasks[0].task_id, "d", Status::Ok()).ok());
  // The journal tells a node that later gets a replica of an uploaded object.
  MountNode("e", kSegmentBytes);
  ASSERT_TRUE(TryPut("after", kKiB, ReadThrough("seg-e")).ok());
  auto journal = core_->TakeManifestChanges("seg-e", "e", 0, 64);
  ASSERT_TRUE(journal.ok());
  ASSERT_EQ(journal->changes.size(), 1u);
  EXPECT_TRUE(journal->changes[0].entry.in_object_store);
}

TEST(MasterCoreWriteBackSsdTest, NotYetUploadedObjectsAreDemotedNotDroppedAndAFullSsdKeepsThem) {
  testing::FakeClock clock;
  MasterCoreOptions options;
  options.object_tier = ObjectTierPolicy::kWriteBack;
  options.client_ttl = std::chrono::hours(24);
  auto core = MasterCore::Create(options, clock).value();
  SegmentSpec dram = NodeSegment("n", Medium::kDram, {100 * kKiB, 1, Journal::kTracked});
  dram.name = "n";
  SegmentSpec ssd = NodeSegment("n", Medium::kSsd, {40 * kKiB, 1, Journal::kTracked});
  ssd.name = "n/ssd";
  ASSERT_TRUE(core->Mount(dram).ok());
  ASSERT_TRUE(core->Mount(ssd).ok());
  ReplicateConfig config;
  for (int i = 0; i < 12; ++i) {  // 96 KiB: above DRAM's 95 % high watermark
    const std::string key = "k" + std::to_string(i);
    ASSERT_TRUE(core->PutStart(key, 8 * kKiB, config).ok());
    ASSERT_TRUE(core->PutEnd(key, 7).ok());
    clock.Advance(milliseconds(1));  // LRU order = put order
  }
  core->Tick();
  // Moving it to SSD keeps its only copy: allowed before the upload.
  std::vector<CopyTask> demotions = core->TakeCopyTasks("n", 64);
  ASSERT_EQ(demotions.size(), 1u);
  EXPECT_EQ(demotions[0].key, "k0");
  ASSERT_TRUE(core->CompleteRepair(demotions[0].task_id, "n", Status::Ok()).ok());
  EXPECT_EQ(core->eviction_stats().evicted_objects, 0u);
  EXPECT_EQ(core->tier_stats().upload_backlog_objects, 12u);
  ExpectConsistent(*core);

  // The SSD (40 KiB: three 12 KiB allocations) fills with objects that are not uploaded: a
  // put that needs SSD room is refused rather than dropping one.
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  for (int i = 0; i < 2; ++i) {
    const std::string key = "s" + std::to_string(i);
    ASSERT_TRUE(core->PutStart(key, 8 * kKiB, on_ssd).ok()) << i;
    ASSERT_TRUE(core->PutEnd(key, 7).ok());
  }
  auto refused = core->PutStart("s2", 8 * kKiB, on_ssd);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kNoAvailableHandle);
  EXPECT_EQ(core->eviction_stats().evicted_objects, 0u);
  EXPECT_GT(core->eviction_stats().skipped_not_uploaded, 0u);
  ExpectConsistent(*core);
}

TEST(MasterCoreWriteThroughTest, EveryPutIsInTheObjectStoreAndEvictable) {
  testing::FakeClock clock;
  MasterCoreOptions options;
  options.object_tier = ObjectTierPolicy::kWriteThrough;
  auto core = MasterCore::Create(options, clock).value();
  ASSERT_TRUE(
      core->Mount(NodeSegment("a", Medium::kDram, {kSegmentBytes, 1, Journal::kTracked})).ok());
  ReplicateConfig config;
  for (int i = 0; i < 9; ++i) {  // the ninth fits only by evicting
    const std::string key = "k" + std::to_string(i);
    ASSERT_TRUE(core->PutStart(key, 8 * kKiB, config).ok()) << i;
    ASSERT_TRUE(core->PutEnd(key, 7).ok());
  }
  EXPECT_EQ(core->tier_stats().object_uploads, 9u);
  EXPECT_EQ(core->tier_stats().upload_backlog_objects, 0u);
  EXPECT_GT(core->eviction_stats().evicted_objects, 0u);
  core->Tick();
  EXPECT_TRUE(core->TakeUploadTasks("a", 64).empty());
  ExpectConsistent(*core);
}

}  // namespace
}  // namespace mooncake::master
