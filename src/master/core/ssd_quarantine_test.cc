// SsdQuarantine on its own, with a real SegmentPool and SegmentIndex: a range freed while the
// node has unacknowledged manifest changes stays held until it acknowledges them; DRAM and
// segments without a manifest are never held; a gone segment's ranges are forgotten.
#include "master/core/ssd_quarantine.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>

#include "store_types/ssd_geometry.h"

namespace mooncake::master {
namespace {

constexpr uint64_t kBase = uint64_t{1} << 63;
constexpr uint64_t kSize = uint64_t{1} << 20;

class SsdQuarantineTest : public ::testing::Test {
 protected:
  SegmentId MountSsd(const std::string& name, bool track_manifest) {
    SegmentSpec spec{name, "n", 1, Medium::kSsd, kBase, kSize};
    spec.track_manifest = track_manifest;
    EXPECT_TRUE(pool_.Mount(spec).ok());
    return segments_.Add(spec);
  }
  // Allocates a block-sized range on `name`, as a replica held in the pool.
  Allocation Hold(const std::string& name) { return pool_.Allocate(name, kSsdBlockBytes).value(); }
  uint64_t Used(const std::string& name) { return pool_.Find(name)->used; }
  Status Check() {
    std::map<SegmentId, size_t> held;
    return quarantine_.CheckInvariants(segments_, pool_, held);
  }

  SegmentPool pool_;
  SegmentIndex segments_;
  SsdQuarantine quarantine_;
};

TEST_F(SsdQuarantineTest, ARangeWaitsForTheNodeToAcknowledgeEveryChangeJournaledBefore) {
  const SegmentId id = MountSsd("n/ssd", true);
  const Allocation range = Hold("n/ssd");
  ManifestJournal* journal = segments_.Journal(id);
  journal->Append(ManifestChange{});  // seq 1: the removal the node must apply (erase)
  ASSERT_TRUE(quarantine_.HoldIfUnacknowledged(id, segments_.Get(id), range.address, range.length));
  EXPECT_EQ(quarantine_.Ranges(), 1u);
  EXPECT_EQ(quarantine_.Bytes(), range.length);
  EXPECT_TRUE(Check().ok());
  journal->Append(ManifestChange{});  // seq 2, after the range was freed
  // Acknowledging nothing, then seq 1 (all the range waited for), frees it.
  quarantine_.Release(id, segments_.Get(id), pool_);
  EXPECT_EQ(Used("n/ssd"), range.length);
  journal->Take(1, 0);
  quarantine_.Release(id, segments_.Get(id), pool_);
  EXPECT_EQ(quarantine_.Ranges(), 0u);
  EXPECT_EQ(Used("n/ssd"), 0u);
  EXPECT_TRUE(Check().ok());
}

TEST_F(SsdQuarantineTest, NothingIsHeldWithoutUnacknowledgedChangesOrAManifest) {
  const SegmentId tracked = MountSsd("n/ssd", true);
  const SegmentId untracked = MountSsd("m/ssd", false);
  const Allocation a = Hold("n/ssd");
  const Allocation b = Hold("m/ssd");
  EXPECT_FALSE(
      quarantine_.HoldIfUnacknowledged(tracked, segments_.Get(tracked), a.address, a.length))
      << "the node has acknowledged everything: free at once";
  EXPECT_FALSE(
      quarantine_.HoldIfUnacknowledged(untracked, segments_.Get(untracked), b.address, b.length));
  EXPECT_EQ(quarantine_.Ranges(), 0u);
}

TEST_F(SsdQuarantineTest, AForgottenSegmentTakesItsRangesAndARangeNotHeldIsCaught) {
  const SegmentId id = MountSsd("n/ssd", true);
  const Allocation range = Hold("n/ssd");
  segments_.Journal(id)->Append(ManifestChange{});
  ASSERT_TRUE(quarantine_.HoldIfUnacknowledged(id, segments_.Get(id), range.address, range.length));
  // The pool giving the range back behind the quarantine's back breaks the invariant.
  ASSERT_TRUE(pool_.Free(range).ok());
  const Status broken = Check();
  EXPECT_FALSE(broken.ok());
  EXPECT_NE(broken.ToString().find("quarantined SSD range not held"), std::string::npos)
      << broken.ToString();
  quarantine_.Forget(id);
  EXPECT_EQ(quarantine_.Ranges(), 0u);
  EXPECT_TRUE(Check().ok());
}

}  // namespace
}  // namespace mooncake::master
