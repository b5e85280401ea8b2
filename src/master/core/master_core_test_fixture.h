#pragma once

// The fixture every MasterCore unit test derives from: a FakeClock, the core under test, the
// segments it mounts, puts that must succeed, and the invariant check that ends every test.
// One fixture so that a test file states only what is particular to its subject (options,
// topology, the calls it makes), and so that every test, whatever its file, ends with the
// core's indexes cross-checked (CheckInvariants).
//
// Header-only on purpose: the tests link mc_master_core and mc_testing already, and a library
// of test helpers in this folder would be a non-test target linking mc_testing, which
// scripts/check_deps.py refuses.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "master/core/master_core.h"
#include "master/core/segment_pool_test_util.h"  // kKiB, kMiB
#include "testing/fake_clock.h"

namespace mooncake::master {

// Segment base addresses: DRAM at a plausible mapped address; SSD (file segments) at the
// synthetic addresses nodes give them, high bit set; VRAM apart from both. Tests compare
// allocations against these.
inline constexpr uint64_t kDramBase = 0x100000;
inline constexpr uint64_t kSsdBase = uint64_t{1} << 63;
inline constexpr uint64_t kVramBase = uint64_t{1} << 62;

// The checksum the put helpers seal objects with; tests check it on views and copy tasks.
inline constexpr uint32_t kPutChecksum = 7;

// Whether a test segment journals its manifest (SegmentSpec::track_manifest). A tracked
// segment's node learns its replicas through TakeManifestChanges, and a freed SSD range stays
// quarantined until the node acknowledges it, so tests of those paths need it on.
enum class Journal { kUntracked, kTracked };

// When PutOk and UpsertOk cross-check the indexes (CheckInvariants, O(objects)): after every
// put by default; only at TearDown for a test that puts thousands of keys, where checking
// after each would make it quadratic.
enum class PutCheck { kEveryPut, kAtTearDown };

// How a test segment is mounted; each default is the common case.
struct SegmentShape {
  // Bytes. Default 1 MiB.
  uint64_t size = kMiB;
  // The node's incarnation. Default 1.
  Epoch epoch = 1;
  // Default: untracked.
  Journal journal = Journal::kUntracked;
};

// `node`'s segment of `medium`: "seg-<node>" (DRAM), "seg-<node>/ssd", "seg-<node>/vram". A
// node has at most one segment per medium here, so the name says whose and which it is.
inline std::string SegmentName(const NodeId& node, Medium medium = Medium::kDram) {
  switch (medium) {
    case Medium::kSsd:
      return "seg-" + node + "/ssd";
    case Medium::kVram:
      return "seg-" + node + "/vram";
    default:
      return "seg-" + node;
  }
}

// The spec of `node`'s segment of `medium` (SegmentName), at that medium's base address.
inline SegmentSpec NodeSegment(const NodeId& node, Medium medium = Medium::kDram,
                               const SegmentShape& shape = {}) {
  const uint64_t base = medium == Medium::kSsd    ? kSsdBase
                        : medium == Medium::kVram ? kVramBase
                                                  : kDramBase;
  SegmentSpec spec{SegmentName(node, medium), node, shape.epoch, medium, base, shape.size};
  spec.track_manifest = shape.journal == Journal::kTracked;
  return spec;
}

// A placement of `replica_num` copies on `medium`, trying the segments `preferred` first.
inline ReplicateConfig Replicas(int replica_num, std::vector<std::string> preferred = {},
                                Medium medium = Medium::kDram) {
  ReplicateConfig config;
  config.replica_num = replica_num;
  config.preferred_segments = std::move(preferred);
  config.medium = medium;
  return config;
}

// One replica on `medium`.
inline ReplicateConfig OnMedium(Medium medium) { return Replicas(1, {}, medium); }

// Records a test failure, naming the broken invariant, unless every index of `core` agrees.
inline void ExpectConsistent(const MasterCore& core) {
  Status s = core.CheckInvariants();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

class MasterCoreFixture : public ::testing::Test {
 protected:
  // A fixture wanting other options or a topology overrides SetUp and calls CreateCore itself.
  void SetUp() override { CreateCore(); }
  // Every test ends with the indexes consistent. A test may build no core at all (core_ null).
  void TearDown() override {
    if (core_ != nullptr) ExpectConsistent();
  }

  // The default options, but nodes never expire: they do not heartbeat in these tests
  // (liveness is master_core_liveness_test's subject), so client_ttl is beyond any advance.
  static MasterCoreOptions TestOptions() {
    MasterCoreOptions options;
    options.client_ttl = std::chrono::hours(24);
    return options;
  }

  // Replaces core_ with a new core on clock_ (calling it again is a master restart: the new
  // core knows nothing until nodes mount).
  void CreateCore(const MasterCoreOptions& options = TestOptions(),
                  MasterCorePolicies policies = {}) {
    core_.reset();
    auto core = MasterCore::Create(options, clock_, std::move(policies));
    ASSERT_TRUE(core.ok()) << core.status().ToString();
    core_ = std::move(core).value();
  }

  void ExpectConsistent() const { master::ExpectConsistent(*core_); }
  // For a second core a test builds itself (the member above hides the free function).
  static void ExpectConsistent(const MasterCore& core) { master::ExpectConsistent(core); }

  // ---- Segments ----------------------------------------------------------------------------
  // The specs of `node`'s segments (see SegmentName), journalled as journal_ says.
  SegmentSpec Dram(const NodeId& node, uint64_t size = kMiB, Epoch epoch = 1) const {
    return NodeSegment(node, Medium::kDram, SegmentShape{size, epoch, journal_});
  }
  SegmentSpec Ssd(const NodeId& node, uint64_t size = kMiB, Epoch epoch = 1) const {
    return NodeSegment(node, Medium::kSsd, SegmentShape{size, epoch, journal_});
  }
  SegmentSpec Vram(const NodeId& node, uint64_t size = kMiB, Epoch epoch = 1) const {
    return NodeSegment(node, Medium::kVram, SegmentShape{size, epoch, journal_});
  }
  void Mount(const SegmentSpec& spec) {
    Status s = core_->Mount(spec);
    ASSERT_TRUE(s.ok()) << spec.name << ": " << s.ToString();
  }
  void MountNode(const NodeId& node, uint64_t size = kMiB, Epoch epoch = 1) {
    Mount(Dram(node, size, epoch));
  }
  void MountSsd(const NodeId& node, uint64_t size = kMiB, Epoch epoch = 1) {
    Mount(Ssd(node, size, epoch));
  }
  void MountVram(const NodeId& node, uint64_t size = kMiB, Epoch epoch = 1) {
    Mount(Vram(node, size, epoch));
  }
  // Mounts `node`'s DRAM segment and, when `ssd` > 0, its SSD segment.
  void MountTiers(const NodeId& node, uint64_t dram, uint64_t ssd, Epoch epoch = 1) {
    MountNode(node, dram, epoch);
    if (ssd > 0) MountSsd(node, ssd, epoch);
  }
  // Mounts each of `nodes`' DRAM segment.
  void MountNodes(const std::vector<NodeId>& nodes, uint64_t size = kMiB) {
    for (const NodeId& node : nodes) MountNode(node, size);
  }

  // ---- Puts ----------------------------------------------------------------------------------
  // PutStart + PutEnd of `key`: PutStart's result, or the status of the call that failed (for
  // a test that asserts on it, or expects a failure).
  Result<PutStartResult> TryPut(const std::string& key, uint64_t size = kKiB,
                                const ReplicateConfig& config = {},
                                uint32_t checksum = kPutChecksum) {
    return End(key, core_->PutStart(key, size, config), checksum);
  }
  // TryPut, asserting that the put lands and (see put_check_) the indexes stay consistent;
  // returns PutStart's result ({} on failure).
  PutStartResult PutOk(const std::string& key, uint64_t size = kKiB,
                       const ReplicateConfig& config = {}, uint32_t checksum = kPutChecksum) {
    return Landed(key, TryPut(key, size, config, checksum));
  }
  // TryPut and PutOk through UpsertStart: a new version of `key`, or its first.
  Result<PutStartResult> TryUpsert(const std::string& key, uint64_t size = kKiB,
                                   const ReplicateConfig& config = {},
                                   uint32_t checksum = kPutChecksum) {
    return End(key, core_->UpsertStart(key, size, config), checksum);
  }
  PutStartResult UpsertOk(const std::string& key, uint64_t size = kKiB,
                          const ReplicateConfig& config = {}, uint32_t checksum = kPutChecksum) {
    return Landed(key, TryUpsert(key, size, config, checksum));
  }
  // PutOk, and every replica placed (none short).
  PutStartResult PutFull(const std::string& key, uint64_t size = kKiB,
                         const ReplicateConfig& config = {}) {
    PutStartResult put = PutOk(key, size, config);
    EXPECT_EQ(put.replicas_short, 0) << key;
    return put;
  }
  // A kKiB object with one replica on each of `segments`, in order.
  PutStartResult PutOn(const std::string& key, std::vector<std::string> segments,
                       Medium medium = Medium::kDram) {
    const int n = static_cast<int>(segments.size());
    return PutFull(key, kKiB, Replicas(n, std::move(segments), medium));
  }

  // ---- Reading the core's state --------------------------------------------------------------
  // Bytes allocated on `medium` over every segment.
  uint64_t Used(Medium medium = Medium::kDram) const {
    return core_->segment_pool().Usage(medium).used;
  }
  // Bytes allocated on `segment` (0 when it is not mounted).
  uint64_t UsedOn(const std::string& segment) const {
    auto info = core_->segment_pool().Find(segment);
    return info ? info->used : 0;
  }
  // Allocations held on `segment` (0 when it is not mounted).
  size_t Allocations(const std::string& segment) const {
    auto info = core_->segment_pool().Find(segment);
    return info ? info->allocations : 0;
  }
  // The nodes holding a replica of `key` (none when it is not visible). Takes a read lease.
  std::set<NodeId> Nodes(const std::string& key) {
    std::set<NodeId> nodes;
    auto view = core_->GetReplicaList(key);
    if (view.ok()) {
      for (const ReplicaView& r : view->replicas) nodes.insert(r.node);
    }
    return nodes;
  }
  // Takes every manifest change of `segment` (mounted by `node`), acknowledges them, and
  // returns them: what the node would apply (and, on SSD, the quarantine it releases).
  ManifestBatch AckAll(const std::string& segment, const NodeId& node) {
    auto batch = core_->TakeManifestChanges(segment, node, 0, 1 << 20);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok()) return {};
    const uint64_t last = batch->first_seq + batch->changes.size() - 1;
    EXPECT_TRUE(core_->TakeManifestChanges(segment, node, last, 1).ok());
    return *batch;
  }

  testing::FakeClock clock_;
  std::unique_ptr<MasterCore> core_;
  // Whether the segments Dram(), Ssd() and Vram() build journal their manifests; a fixture
  // sets it before mounting.
  Journal journal_ = Journal::kUntracked;
  PutCheck put_check_ = PutCheck::kEveryPut;

 private:
  Result<PutStartResult> End(const std::string& key, Result<PutStartResult> started,
                             uint32_t checksum) {
    if (!started.ok()) return started;
    Status ended = core_->PutEnd(key, checksum);
    if (!ended.ok()) return ended;
    return started;
  }
  PutStartResult Landed(const std::string& key, const Result<PutStartResult>& put) {
    EXPECT_TRUE(put.ok()) << key << ": " << put.status().ToString();
    if (put_check_ == PutCheck::kEveryPut) ExpectConsistent();
    return put.ok() ? *put : PutStartResult{};
  }
};

}  // namespace mooncake::master
