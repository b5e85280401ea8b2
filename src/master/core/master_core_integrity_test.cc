// Corrupt replicas in the master core: a replica a client reports as not matching its
// checksum is dropped and re-replicated from a remaining one; the object's last replica takes
// the object with it (unless an upsert is in flight); stale and unknown reports change nothing;
// a leased replica's range stays held until the lease lapses; counters per node and medium.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::master {
namespace {

using std::chrono::seconds;

constexpr uint64_t kSegmentBytes = 256 * kKiB;

class MasterCoreIntegrityTest : public MasterCoreFixture {
 protected:
  void SetUp() override { Create(TestOptions()); }
  // A core with `options` and nodes a, b and c, each with a tracked DRAM segment.
  void Create(MasterCoreOptions options) {
    options.client_ttl = std::chrono::hours(24);  // liveness is not under test
    journal_ = Journal::kTracked;
    CreateCore(options);
    MountNodes({"a", "b", "c"}, kSegmentBytes);
  }

  // The replica of `key` on `segment` as a reader gets it (this takes a read lease).
  ReplicaView Listed(const std::string& key, const std::string& segment) {
    auto view = core_->GetReplicaList(key);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    if (view.ok()) {
      for (const ReplicaView& r : view->replicas) {
        if (r.allocation.segment == segment) return r;
      }
    }
    ADD_FAILURE() << "no replica of '" << key << "' on " << segment;
    return {};
  }
  uint64_t Version(const std::string& key) { return core_->GetReplicaList(key)->version; }
  Result<CorruptReplicaOutcome> Report(const std::string& key, uint64_t version,
                                       const ReplicaView& replica) {
    return core_->ReportCorruptReplica(key, version, replica.allocation.segment,
                                       replica.allocation.address);
  }
  // Lets every read lease lapse.
  void LetLeasesLapse() { clock_.Advance(seconds(30)); }
};

TEST_F(MasterCoreIntegrityTest, DroppedReplicaIsCopiedAgainFromTheOther) {
  PutOn("k", {"seg-a", "seg-b"});
  const ReplicaView bad = Listed("k", "seg-a");
  const uint64_t version = Version("k");
  LetLeasesLapse();

  auto outcome = Report("k", version, bad);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, CorruptReplicaOutcome::kDropped);
  ExpectConsistent();
  EXPECT_EQ(Nodes("k"), (std::set<std::string>{"b"}));
  EXPECT_EQ(Allocations("seg-a"), 0u);  // unleased: freed at once
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 1u);
  // a's manifest forgets the replica (an SSD node would erase its header).
  auto changes = core_->TakeManifestChanges("seg-a", "a", 0, 16);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->changes.size(), 2u);  // the put, then the drop
  EXPECT_TRUE(changes->changes[1].removed);
  EXPECT_EQ(changes->changes[1].entry.key, "k");

  // Tick copies the good replica to a node holding none; the copy restores the target.
  core_->Tick();
  std::vector<CopyTask> tasks = core_->TakeCopyTasks("a", 16);
  for (CopyTask& t : core_->TakeCopyTasks("c", 16)) tasks.push_back(t);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].source.segment, "seg-b");
  EXPECT_EQ(tasks[0].version, version);
  EXPECT_EQ(tasks[0].checksum, 7u);
  ExpectConsistent();
  auto added = core_->CompleteRepair(tasks[0].task_id, tasks[0].destination_node, Status::Ok());
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(*added, RepairOutcome::kAdded);
  EXPECT_EQ(Nodes("k").size(), 2u);
  EXPECT_TRUE(Nodes("k").contains("b"));
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
}

TEST_F(MasterCoreIntegrityTest, StaleOrMisdirectedReportsChangeNothing) {
  PutOn("k", {"seg-a", "seg-b"});
  const ReplicaView old_a = Listed("k", "seg-a");
  const uint64_t old_version = Version("k");
  LetLeasesLapse();
  // An upsert replaced the object since the client read it.
  ReplicateConfig two;
  two.replica_num = 2;
  two.preferred_segments = {"seg-b", "seg-c"};
  ASSERT_TRUE(core_->UpsertStart("k", kKiB, two).ok());
  ASSERT_TRUE(core_->PutEnd("k", 8).ok());
  const uint64_t version = Version("k");
  const ReplicaView b = Listed("k", "seg-b");

  EXPECT_EQ(Report("k", old_version, b).status().code(), StatusCode::kInvalidVersion);
  EXPECT_EQ(Report("k", version, old_a).status().code(), StatusCode::kInvalidReplica);
  ReplicaView off_by_one = b;
  ++off_by_one.allocation.address;
  EXPECT_EQ(Report("k", version, off_by_one).status().code(), StatusCode::kInvalidReplica);
  ReplicaView wrong_segment = b;
  wrong_segment.allocation.segment = "seg-a";  // holds no replica of k any more
  EXPECT_EQ(Report("k", version, wrong_segment).status().code(), StatusCode::kInvalidReplica);
  EXPECT_EQ(Report("missing", 1, b).status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(Report("", 1, b).status().code(), StatusCode::kInvalidKey);
  ASSERT_TRUE(core_->PutStart("invisible", kKiB, ReplicateConfig{}).ok());
  EXPECT_EQ(Report("invisible", 1, b).status().code(), StatusCode::kObjectNotFound);

  EXPECT_EQ(Nodes("k"), (std::set<std::string>{"b", "c"}));
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
  EXPECT_EQ(core_->integrity_stats().corrupt_reports, 0u);
  EXPECT_TRUE(core_->integrity_stats().per_node.empty());
  // The same replica reported twice: the second report finds it gone.
  ASSERT_EQ(Report("k", version, b).value(), CorruptReplicaOutcome::kDropped);
  EXPECT_EQ(Report("k", version, b).status().code(), StatusCode::kInvalidReplica);
  EXPECT_EQ(core_->integrity_stats().corrupt_reports, 1u);
  EXPECT_EQ(core_->integrity_stats().corrupt_replicas_dropped, 1u);
}

TEST_F(MasterCoreIntegrityTest, LastReplicaTakesTheObjectWithItButItsRangeWaitsForTheLease) {
  PutOn("k", {"seg-a"});
  const ReplicaView bad = Listed("k", "seg-a");  // leased now
  auto outcome = Report("k", Version("k"), bad);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, CorruptReplicaOutcome::kObjectErased);
  ExpectConsistent();
  EXPECT_EQ(core_->GetReplicaList("k").status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(core_->ObjectCount(), 0u);
  EXPECT_EQ(core_->integrity_stats().objects_lost_to_corruption, 1u);
  // Erased although leased, but a reader may still be reading the range: it stays held.
  EXPECT_EQ(Allocations("seg-a"), 1u);
  EXPECT_EQ(core_->DeferredFreeCount(), 1u);
  // The key is free for a new put (which must not land on the held range).
  PutOn("k", {"seg-a"});
  EXPECT_NE(Listed("k", "seg-a").allocation.address, bad.allocation.address);
  ExpectConsistent();
  LetLeasesLapse();
  core_->Tick();
  EXPECT_EQ(core_->DeferredFreeCount(), 0u);
  EXPECT_EQ(Allocations("seg-a"), 1u);  // the new object's only
}

TEST_F(MasterCoreIntegrityTest, LastReplicaWithAnUpsertInFlightIsKept) {
  PutOn("k", {"seg-a"});
  const ReplicaView bad = Listed("k", "seg-a");
  const uint64_t version = Version("k");
  ReplicateConfig on_b;
  on_b.preferred_segments = {"seg-b"};
  ASSERT_TRUE(core_->UpsertStart("k", kKiB, on_b).ok());

  auto outcome = Report("k", version, bad);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, CorruptReplicaOutcome::kKept);
  ExpectConsistent();
  EXPECT_EQ(Nodes("k"), (std::set<std::string>{"a"}));
  EXPECT_EQ(core_->integrity_stats().corrupt_reports, 1u);
  EXPECT_EQ(core_->integrity_stats().corrupt_replicas_dropped, 0u);
  EXPECT_EQ(core_->integrity_stats().objects_lost_to_corruption, 0u);
  // The writer's PutEnd replaces it.
  ASSERT_TRUE(core_->PutEnd("k", 9).ok());
  EXPECT_EQ(Nodes("k"), (std::set<std::string>{"b"}));

  // Once the upsert is past its deadline it is no longer in flight: the report erases.
  PutOn("j", {"seg-c"});
  const ReplicaView j = Listed("j", "seg-c");
  const uint64_t j_version = Version("j");
  ASSERT_TRUE(core_->UpsertStart("j", kKiB, on_b).ok());
  clock_.Advance(seconds(31));  // put_timeout (30 s)
  EXPECT_EQ(Report("j", j_version, j).value(), CorruptReplicaOutcome::kObjectErased);
  EXPECT_EQ(core_->PendingPutCount(), 0u);
}

TEST_F(MasterCoreIntegrityTest, LeasedReplicaStaysHeldUntilTheLeaseLapses) {
  MasterCoreOptions options;
  options.max_repairs_in_flight = 0;  // no copy may take the range's segment meanwhile
  Create(options);
  PutOn("k", {"seg-a", "seg-b"});
  const ReplicaView bad = Listed("k", "seg-a");  // a reader holds the list for 5 s
  ASSERT_EQ(Report("k", Version("k"), bad).value(), CorruptReplicaOutcome::kDropped);
  ExpectConsistent();
  EXPECT_EQ(Nodes("k"), (std::set<std::string>{"b"}));
  EXPECT_EQ(Allocations("seg-a"), 1u);
  EXPECT_EQ(core_->DeferredFreeCount(), 1u);
  // Nothing may be placed over it while the reader may still be reading.
  std::vector<std::string> fills;
  ReplicateConfig on_a;
  on_a.preferred_segments = {"seg-a"};
  size_t on_seg_a = 0;
  for (int i = 0; i < 300; ++i) {
    auto started = core_->PutStart("fill" + std::to_string(i), kKiB, on_a);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    fills.push_back("fill" + std::to_string(i));
    const Allocation& at = started->replicas[0].allocation;
    if (at.segment != "seg-a") continue;  // full: the put went elsewhere
    ++on_seg_a;
    EXPECT_NE(at.address, bad.allocation.address);
  }
  EXPECT_EQ(on_seg_a, 255u);  // 256 KiB, one held
  for (const std::string& key : fills) ASSERT_TRUE(core_->PutRevoke(key).ok());
  clock_.Advance(seconds(4));
  core_->Tick();
  EXPECT_EQ(Allocations("seg-a"), 1u);  // 4 s < default_lease_ttl
  clock_.Advance(seconds(1));
  core_->Tick();
  EXPECT_EQ(Allocations("seg-a"), 0u);
  EXPECT_EQ(core_->DeferredFreeCount(), 0u);
}

TEST_F(MasterCoreIntegrityTest, SsdReplicaIsNamedPastItsHeaderAndCountedOnSsd) {
  for (const char* node : {"a", "b"}) MountSsd(node, kSegmentBytes);
  PutOn("k", {"seg-a/ssd", "seg-b/ssd"}, Medium::kSsd);
  const ReplicaView bad = Listed("k", "seg-a/ssd");
  const uint64_t version = Version("k");
  LetLeasesLapse();
  ReplicaView header = bad;
  header.allocation.address -= kSsdHeaderBytes;  // where the allocation itself begins
  EXPECT_EQ(Report("k", version, header).status().code(), StatusCode::kInvalidReplica);
  ASSERT_EQ(Report("k", version, bad).value(), CorruptReplicaOutcome::kDropped);
  ExpectConsistent();
  EXPECT_EQ(Nodes("k"), (std::set<std::string>{"b"}));
  // The range waits for a to erase the header (it acknowledges the manifest change).
  EXPECT_EQ(Allocations("seg-a/ssd"), 1u);
  EXPECT_EQ(core_->QuarantinedRanges(), 1u);
  auto changes = core_->TakeManifestChanges("seg-a/ssd", "a", 0, 16);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->changes.size(), 2u);
  EXPECT_TRUE(changes->changes[1].removed);
  EXPECT_EQ(changes->changes[1].entry.address, header.allocation.address);
  ASSERT_TRUE(core_->TakeManifestChanges("seg-a/ssd", "a", changes->first_seq + 1, 16).ok());
  EXPECT_EQ(Allocations("seg-a/ssd"), 0u);
  const IntegrityStats& stats = core_->integrity_stats();
  ASSERT_EQ(stats.per_node.size(), 1u);
  EXPECT_EQ(stats.per_node[0].node, "a");
  EXPECT_EQ(stats.per_node[0].medium, Medium::kSsd);
  EXPECT_EQ(stats.per_node[0].detected, 1u);
  EXPECT_EQ(stats.per_node[0].dropped, 1u);
}

TEST_F(MasterCoreIntegrityTest, CountersSplitByNodeAndMedium) {
  MountSsd("a", kSegmentBytes);
  PutOn("x", {"seg-b", "seg-a"});
  PutOn("y", {"seg-a/ssd"}, Medium::kSsd);
  PutOn("z", {"seg-b"});
  EXPECT_EQ(Report("x", Version("x"), Listed("x", "seg-b")).value(),
            CorruptReplicaOutcome::kDropped);
  EXPECT_EQ(Report("x", Version("x"), Listed("x", "seg-a")).value(),
            CorruptReplicaOutcome::kObjectErased);
  EXPECT_EQ(Report("y", Version("y"), Listed("y", "seg-a/ssd")).value(),
            CorruptReplicaOutcome::kObjectErased);
  const ReplicaView z = Listed("z", "seg-b");
  const uint64_t z_version = Version("z");
  ASSERT_TRUE(core_->UpsertStart("z", kKiB, ReplicateConfig{}).ok());
  EXPECT_EQ(Report("z", z_version, z).value(), CorruptReplicaOutcome::kKept);
  ExpectConsistent();

  const IntegrityStats& stats = core_->integrity_stats();
  EXPECT_EQ(stats.corrupt_reports, 4u);
  EXPECT_EQ(stats.corrupt_replicas_dropped, 3u);
  EXPECT_EQ(stats.objects_lost_to_corruption, 2u);
  ASSERT_EQ(stats.per_node.size(), 3u);  // sorted by node, then medium
  EXPECT_EQ(stats.per_node[0].node, "a");
  EXPECT_EQ(stats.per_node[0].medium, Medium::kDram);
  EXPECT_EQ(stats.per_node[0].detected, 1u);
  EXPECT_EQ(stats.per_node[0].dropped, 1u);
  EXPECT_EQ(stats.per_node[1].node, "a");
  EXPECT_EQ(stats.per_node[1].medium, Medium::kSsd);
  EXPECT_EQ(stats.per_node[1].detected, 1u);
  EXPECT_EQ(stats.per_node[2].node, "b");
  EXPECT_EQ(stats.per_node[2].medium, Medium::kDram);
  EXPECT_EQ(stats.per_node[2].detected, 2u);
  EXPECT_EQ(stats.per_node[2].dropped, 1u);  // z's was kept
}

TEST_F(MasterCoreIntegrityTest, CopyReadingTheBadReplicaIsCancelledAndTheNextReadsAGoodOne) {
  MountNode("d", kSegmentBytes);
  PutOn("k", {"seg-a", "seg-b", "seg-c"});
  core_->UnmountNode("c");
  core_->Tick();
  std::vector<CopyTask> tasks = core_->TakeCopyTasks("d", 16);
  ASSERT_EQ(tasks.size(), 1u);
  const CopyTask first = tasks[0];
  ASSERT_EQ(first.source.segment, "seg-a");  // the first replica

  LetLeasesLapse();
  ReplicaView bad;
  bad.allocation = first.source;
  ASSERT_EQ(Report("k", first.version, bad).value(), CorruptReplicaOutcome::kDropped);
  ExpectConsistent();  // a live copy's source must exist
  EXPECT_EQ(core_->repair_stats().cancelled, 1u);
  // The cancelled copy's node reports: moot. The next copy reads b.
  EXPECT_EQ(core_->CompleteRepair(first.task_id, "d", Status::Ok()).value(),
            RepairOutcome::kDropped);
  core_->Tick();
  tasks = core_->TakeCopyTasks("a", 16);
  for (CopyTask& t : core_->TakeCopyTasks("d", 16)) tasks.push_back(t);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].source.segment, "seg-b");
}

TEST_F(MasterCoreIntegrityTest, UploadNotYetHandedOutIsReadFromAGoodReplica) {
  MasterCoreOptions options;
  options.object_tier = ObjectTierPolicy::kWriteBack;
  options.max_repairs_in_flight = 0;  // not under test
  Create(options);
  PutOn("k", {"seg-a", "seg-b"});
  core_->Tick();  // schedules the upload from a (the first DRAM replica), not yet handed out
  ASSERT_EQ(core_->UploadsInFlight(), 1u);
  ASSERT_EQ(Report("k", Version("k"), Listed("k", "seg-a")).value(),
            CorruptReplicaOutcome::kDropped);
  ExpectConsistent();
  EXPECT_TRUE(core_->TakeUploadTasks("a", 16).empty());
  core_->Tick();
  std::vector<UploadTask> uploads = core_->TakeUploadTasks("b", 16);
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].source.segment, "seg-b");
}

}  // namespace
}  // namespace mooncake::master
