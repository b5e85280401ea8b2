#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"

namespace mooncake::master {
namespace {

constexpr uint64_t kSegmentBytes = 64 * kKiB;

// An object of one KiB at `offset` within a segment.
ManifestEntry Entry(std::string key, uint64_t offset, uint64_t version, uint32_t checksum = 9) {
  return ManifestEntry{std::move(key), kDramBase + offset, kKiB, kKiB, version, checksum};
}

// The default options, liveness included.
class MasterCoreRebuildTest : public MasterCoreFixture {
 protected:
  void SetUp() override { CreateCore(MasterCoreOptions{}); }

  MountReport MountOk(const SegmentSpec& spec, const std::vector<ManifestEntry>& manifest) {
    auto report = core_->MountWithManifest(spec, manifest);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    ExpectConsistent();
    return report.ok() ? *report : MountReport{};
  }
};

TEST_F(MasterCoreRebuildTest, RestartedMasterRegainsIndexFromManifests) {
  MountReport a =
      MountOk(Dram("a", kSegmentBytes), {Entry("k", 0, 5), Entry("only-a", 4 * kKiB, 3)});
  EXPECT_EQ(a.adopted, 2u);
  MountReport b = MountOk(Dram("b", kSegmentBytes), {Entry("k", 8 * kKiB, 5)});
  EXPECT_EQ(b.adopted, 1u);
  EXPECT_EQ(b.skipped_conflict + b.skipped_invalid, 0u);
  EXPECT_EQ(core_->ObjectCount(), 2u);

  auto view = core_->GetReplicaList("k");
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->size, kKiB);
  EXPECT_EQ(view->version, 5u);
  EXPECT_EQ(view->checksum, 9u);
  ASSERT_EQ(view->replicas.size(), 2u);
  std::vector<NodeId> nodes{view->replicas[0].node, view->replicas[1].node};
  std::sort(nodes.begin(), nodes.end());
  EXPECT_EQ(nodes, (std::vector<NodeId>{"a", "b"}));
  for (const ReplicaView& r : view->replicas) {
    EXPECT_EQ(r.status, ReplicaStatus::kComplete);
    EXPECT_EQ(r.allocation.address, kDramBase + (r.node == "a" ? 0 : 8 * kKiB));
  }
  EXPECT_EQ(core_->ObjectsBelowReplicaTarget(), 0u);
  // Removing an adopted object gives its reserved bytes back.
  ASSERT_TRUE(core_->Remove("only-a", RemoveMode::kForce).ok());
  ASSERT_TRUE(core_->Remove("k", RemoveMode::kForce).ok());
  EXPECT_EQ(core_->segment_pool().Usage(Medium::kDram).used, 0u);
}

TEST_F(MasterCoreRebuildTest, BlockChecksumTablesSurviveARebuildWhenTheyDescribeTheObject) {
  // Objects of three checksum blocks: one with its table, one whose table does not combine to
  // its CRC32C (dropped: ranged reads then check the whole object), one without.
  const uint64_t size = 3 * kChecksumBlockSize;
  std::vector<uint8_t> bytes(size, 0x5a);
  const ObjectChecksums sums = ComputeObjectChecksums(bytes.data(), size);
  auto entry = [&](std::string key, uint64_t offset, BlockChecksums table) {
    ManifestEntry e{std::move(key), kDramBase + offset, size, size, 4, sums.whole};
    e.block_checksums = std::move(table);
    return e;
  };
  auto wrong = std::make_shared<std::vector<uint32_t>>(*sums.blocks);
  (*wrong)[0] ^= 1;
  MountOk(Dram("a", 4 * size),
          {entry("good", 0, sums.blocks), entry("bad", size, wrong), entry("none", 2 * size, {})});
  ASSERT_NE(core_->GetReplicaList("good")->block_checksums, nullptr);
  EXPECT_EQ(*core_->GetReplicaList("good")->block_checksums, *sums.blocks);
  EXPECT_EQ(core_->GetReplicaList("bad")->block_checksums, nullptr);
  EXPECT_EQ(core_->GetReplicaList("none")->block_checksums, nullptr);
  // A second node's replica of the same version brings the table the first lacked.
  MountOk(Dram("b", 4 * size), {entry("none", 0, sums.blocks)});
  ASSERT_NE(core_->GetReplicaList("none")->block_checksums, nullptr);
}

TEST_F(MasterCoreRebuildTest, LowerVersionIsSkipped) {
  MountOk(Dram("a", kSegmentBytes), {Entry("k", 0, 7, /*checksum=*/1)});
  const uint64_t used_after_a = core_->segment_pool().Usage(Medium::kDram).used;
  MountReport b = MountOk(Dram("b", kSegmentBytes), {Entry("k", 0, 6, /*checksum=*/2)});
  EXPECT_EQ(b.adopted, 0u);
  EXPECT_EQ(b.skipped_conflict, 1u);
  // The lower version's range was not reserved.
  EXPECT_EQ(core_->segment_pool().Usage(Medium::kDram).used, used_after_a);
  auto view = core_->GetReplicaList("k");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->version, 7u);
  ASSERT_EQ(view->replicas.size(), 1u);
  EXPECT_EQ(view->replicas[0].node, "a");

  // A higher version arriving later supersedes the known one, whose range is freed (once the
  // read lease just taken has lapsed).
  clock_.Advance(std::chrono::seconds(6));
  MountReport c = MountOk(Dram("c", kSegmentBytes), {Entry("k", 0, 8, /*checksum=*/3)});
  EXPECT_EQ(c.adopted, 1u);
  view = core_->GetReplicaList("k");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->version, 8u);
  EXPECT_EQ(view->checksum, 3u);
  ASSERT_EQ(view->replicas.size(), 1u);
  EXPECT_EQ(view->replicas[0].node, "c");
  EXPECT_EQ(core_->segment_pool().Find("seg-a")->used, 0u);
}

TEST_F(MasterCoreRebuildTest, InvalidAndOverlappingEntriesAreSkippedNotFatal) {
  std::vector<ManifestEntry> manifest{
      Entry("good", 0, 1),
      Entry("overlaps-good", kKiB / 2, 1),                            // overlapping range
      Entry("outside", 64 * kKiB, 1),                                 // past the segment's end
      ManifestEntry{"short", kDramBase + 4 * kKiB, 100, kKiB, 1, 0},  // length < size
      Entry("", 8 * kKiB, 1),                                         // bad key
      Entry(std::string(5000, 'x'), 8 * kKiB, 1),                     // key too long
      Entry("zero-version", 8 * kKiB, 0),
      ManifestEntry{"below-base", kDramBase - kKiB, kKiB, kKiB, 1, 0},
      Entry("dup-on-node", 12 * kKiB, 1),
      Entry("dup-on-node", 16 * kKiB, 1),  // a second replica of it on the same node
      Entry("also-good", 20 * kKiB, 1),
  };
  MountReport report = MountOk(Dram("a", kSegmentBytes), manifest);
  EXPECT_EQ(report.adopted, 3u);
  EXPECT_EQ(report.skipped_invalid, 7u);
  EXPECT_EQ(report.skipped_conflict, 1u);
  EXPECT_TRUE(*core_->ExistKey("good"));
  EXPECT_TRUE(*core_->ExistKey("also-good"));
  EXPECT_TRUE(*core_->ExistKey("dup-on-node"));
  EXPECT_FALSE(*core_->ExistKey("overlaps-good"));
  EXPECT_FALSE(*core_->ExistKey("short"));
  EXPECT_EQ(core_->ObjectCount(), 3u);
  EXPECT_EQ(core_->segment_pool().Find("seg-a")->allocations, 3u);

  // A failing mount (stale epoch) is the only error.
  ASSERT_TRUE(core_->Mount(Dram("b", 64 * kKiB, 2)).ok());
  SegmentSpec stale = Dram("b", 64 * kKiB, 1);
  stale.name = "seg-b-old";
  EXPECT_EQ(core_->MountWithManifest(stale, {Entry("x", 0, 1)}).status().code(),
            StatusCode::kInvalidVersion);
  EXPECT_FALSE(*core_->ExistKey("x"));
}

TEST_F(MasterCoreRebuildTest, AdoptedObjectsStartLeasedForClientsOfThePreviousMaster) {
  MountOk(Dram("a", kSegmentBytes), {Entry("k", 0, 3)});
  EXPECT_EQ(core_->Remove("k", RemoveMode::kNormal).code(), StatusCode::kObjectHasLease);
  clock_.Advance(MasterCoreOptions{}.default_lease_ttl);
  EXPECT_TRUE(core_->Remove("k", RemoveMode::kNormal).ok());
}

TEST_F(MasterCoreRebuildTest, NewPutsGetVersionsAboveAdoptedOnes) {
  MountOk(Dram("a", kSegmentBytes), {Entry("old", 0, 41), Entry("older", 4 * kKiB, 12)});
  auto started = core_->PutStart("new", kKiB, ReplicateConfig{});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_GT(started->version, 41u);
  ASSERT_TRUE(core_->PutEnd("new", 1).ok());
  EXPECT_GT(core_->GetReplicaList("new")->version, core_->GetReplicaList("old")->version);
}

TEST_F(MasterCoreRebuildTest, ManifestSpaceIsReservedSoAllocationsDoNotOverlapIt) {
  // The segment is 8 KiB; the manifest holds [2 KiB, 3 KiB) and [5 KiB, 6 KiB).
  MountOk(Dram("a", 8 * kKiB), {Entry("x", 2 * kKiB, 1), Entry("y", 5 * kKiB, 1)});
  std::vector<std::pair<uint64_t, uint64_t>> taken{{kDramBase + 2 * kKiB, kDramBase + 3 * kKiB},
                                                   {kDramBase + 5 * kKiB, kDramBase + 6 * kKiB}};
  // Fill the 6 free KiB (one more put would evict the adopted objects to make room).
  for (int i = 0; i < 6; ++i) {
    auto started = core_->PutStart("p" + std::to_string(i), kKiB, ReplicateConfig{});
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    const Allocation& a = started->replicas.at(0).allocation;
    for (const auto& [lo, hi] : taken) {
      EXPECT_TRUE(a.address + a.length <= lo || a.address >= hi)
          << "allocation at " << a.address << " overlaps adopted range " << lo;
    }
    taken.emplace_back(a.address, a.address + a.length);
  }
  EXPECT_EQ(core_->eviction_stats().evicted_objects, 0u);
  EXPECT_TRUE(*core_->ExistKey("x"));
  EXPECT_TRUE(*core_->ExistKey("y"));
  EXPECT_EQ(core_->segment_pool().Usage(Medium::kDram).used, 8 * kKiB);
  EXPECT_TRUE(core_->segment_pool().CheckConsistency().ok());
}

}  // namespace
}  // namespace mooncake::master
