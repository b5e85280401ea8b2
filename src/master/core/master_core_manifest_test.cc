// The manifest journal: what a node tracking its manifest learns from TakeManifestChanges,
// and that replaying those changes gives exactly the master's view of the segment — the
// property that lets a restarted master rebuild its index from the nodes.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "master/core/manifest_journal.h"
#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"
#include "testing/fake_clock.h"

namespace mooncake::master {
namespace {

constexpr uint64_t kSegmentBytes = 256 * kKiB;

// What a node does with the changes: a map key -> entry.
using Manifest = std::map<std::string, ManifestEntry>;

void Apply(const ManifestBatch& batch, uint64_t& acked, Manifest& manifest) {
  ASSERT_EQ(batch.first_seq, acked + 1) << "a gap in the journal";
  for (const ManifestChange& change : batch.changes) {
    if (change.removed) {
      auto it = manifest.find(change.entry.key);
      ASSERT_NE(it, manifest.end()) << "removed unknown key " << change.entry.key;
      ASSERT_EQ(it->second.address, change.entry.address);
      manifest.erase(it);
    } else {
      manifest[change.entry.key] = change.entry;
    }
  }
  acked += batch.changes.size();
}

class MasterCoreManifestTest : public MasterCoreFixture {
 protected:
  // The default options (client_ttl included: nodes heartbeat where a test needs them), with
  // versions from 1000.
  void SetUp() override {
    MasterCoreOptions options;
    options.first_version = 1000;
    journal_ = Journal::kTracked;
    CreateCore(options);
  }

  // A checksum that differs with the size, so manifests of different versions differ.
  static uint32_t ChecksumOf(uint64_t size) { return static_cast<uint32_t>(size * 7); }
  void Put(const std::string& key, uint64_t size, int replicas = 1) {
    PutOk(key, size, Replicas(replicas), ChecksumOf(size));
  }

  // Drains node's journal into its manifest.
  void Sync(const std::string& node, uint64_t& acked, Manifest& manifest, size_t max = 1000) {
    for (int round = 0; round < 1000; ++round) {
      auto batch = core_->TakeManifestChanges("seg-" + node, node, acked, max);
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      if (batch->changes.empty()) return;
      Apply(*batch, acked, manifest);
    }
    FAIL() << "journal did not drain";
  }
};

TEST(ManifestJournalTest, TakeForgetsAcknowledgedAndPagesTheRest) {
  ManifestJournal journal;
  for (int i = 0; i < 5; ++i) journal.Append({false, ManifestEntry{"k" + std::to_string(i)}});
  EXPECT_EQ(journal.last_seq(), 5u);
  ManifestBatch first = journal.Take(0, 2);
  EXPECT_EQ(first.first_seq, 1u);
  ASSERT_EQ(first.changes.size(), 2u);
  EXPECT_EQ(first.changes[1].entry.key, "k1");
  EXPECT_EQ(journal.size(), 5u) << "nothing is forgotten before it is acknowledged";
  ManifestBatch second = journal.Take(2, 10);
  EXPECT_EQ(second.first_seq, 3u);
  ASSERT_EQ(second.changes.size(), 3u);
  EXPECT_EQ(journal.size(), 3u);
  // A repeated acknowledgement (a lost reply) re-delivers from the same place.
  EXPECT_EQ(journal.Take(2, 10).first_seq, 3u);
  EXPECT_TRUE(journal.Take(5, 10).changes.empty());
  EXPECT_EQ(journal.size(), 0u);
  EXPECT_EQ(journal.last_seq(), 5u);
}

TEST_F(MasterCoreManifestTest, UntrackedSegmentsJournalNothing) {
  SegmentSpec plain{"seg-p", "p", 1, Medium::kDram, kDramBase, 64 * kKiB};
  ASSERT_TRUE(core_->Mount(plain).ok());
  Put("k", kKiB);
  EXPECT_EQ(core_->ManifestChangeCount(), 0u);
  EXPECT_EQ(core_->TakeManifestChanges("seg-p", "p", 0, 10).status().code(),
            StatusCode::kInvalidParams);
  EXPECT_EQ(core_->TakeManifestChanges("seg-x", "p", 0, 10).status().code(),
            StatusCode::kSegmentNotFound);
  EXPECT_EQ(core_->TakeManifestChanges("seg-p", "other-node", 0, 10).status().code(),
            StatusCode::kSegmentNotFound);
}

TEST_F(MasterCoreManifestTest, PutEndAddsRemoveDropsUpsertReplaces) {
  MountNode("a", kSegmentBytes);
  uint64_t acked = 0;
  Manifest manifest;
  // A put in flight is not in the manifest; its PutEnd is.
  ASSERT_TRUE(core_->PutStart("k", 100, {}).ok());
  Sync("a", acked, manifest);
  EXPECT_TRUE(manifest.empty());
  ASSERT_TRUE(core_->PutEnd("k", 42).ok());
  Sync("a", acked, manifest);
  ASSERT_EQ(manifest.size(), 1u);
  const ManifestEntry first = manifest.at("k");
  EXPECT_EQ(first.size, 100u);
  EXPECT_EQ(first.checksum, 42u);
  EXPECT_GE(first.version, 1000u) << "versions start at first_version";
  // A revoked put leaves no trace.
  ASSERT_TRUE(core_->PutStart("gone", 10, {}).ok());
  ASSERT_TRUE(core_->PutRevoke("gone").ok());
  // An upsert replaces the entry with the new version at its new address.
  UpsertOk("k", 200, Replicas(1), ChecksumOf(200));
  Sync("a", acked, manifest);
  ASSERT_EQ(manifest.size(), 1u);
  EXPECT_EQ(manifest.at("k").size, 200u);
  EXPECT_GT(manifest.at("k").version, first.version);
  ASSERT_TRUE(core_->Remove("k", RemoveMode::kNormal).ok());
  Sync("a", acked, manifest);
  EXPECT_TRUE(manifest.empty());
}

TEST_F(MasterCoreManifestTest, EachNodeLearnsOnlyItsOwnReplicas) {
  MountNode("a", kSegmentBytes);
  MountNode("b", kSegmentBytes);
  Put("both", kKiB, 2);
  Put("one", kKiB, 1);
  uint64_t acked_a = 0, acked_b = 0;
  Manifest a, b;
  Sync("a", acked_a, a);
  Sync("b", acked_b, b);
  EXPECT_EQ(a.count("both") + b.count("both"), 2u);
  EXPECT_EQ(a.count("one") + b.count("one"), 1u);
  EXPECT_EQ(a.at("both").size, kKiB);
  EXPECT_EQ(a.at("both").version, b.at("both").version);
}

TEST_F(MasterCoreManifestTest, EmptyObjectsAreObjects) {
  MountNode("a", kSegmentBytes);
  Put("empty", 0);
  Put("empty-too", 0);
  auto view = core_->GetReplicaList("empty");
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->size, 0u);
  ASSERT_EQ(view->replicas.size(), 1u);
  EXPECT_EQ(*core_->GetSize("empty"), 0u);
  // Each takes a distinct byte, so two empty objects never share an address.
  auto other = core_->GetReplicaList("empty-too");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->replicas[0].allocation.address, view->replicas[0].allocation.address);
  uint64_t acked = 0;
  Manifest manifest;
  Sync("a", acked, manifest);
  EXPECT_EQ(manifest.at("empty").size, 0u);
  EXPECT_EQ(manifest.at("empty").length, 1u);
}

// The property the master restart relies on: at any moment, a node that replayed its journal
// holds exactly the master's visible replicas on its segment, and a fresh master built from
// those manifests answers every key the same way.
TEST_F(MasterCoreManifestTest, ReplayedManifestsRebuildTheSameIndex) {
  const std::vector<std::string> nodes{"a", "b", "c"};
  for (const auto& n : nodes) MountNode(n, 512 * kKiB);
  std::map<std::string, uint64_t> acked;
  std::map<std::string, Manifest> manifests;
  std::mt19937 rng(7);
  for (int op = 0; op < 3000; ++op) {
    const std::string key = "k" + std::to_string(rng() % 200);
    switch (rng() % 6) {
      case 0:
      case 1: {
        auto started = core_->PutStart(key, 1 + rng() % (8 * kKiB), Replicas(1 + rng() % 3));
        if (started.ok()) {
          ASSERT_TRUE(core_->PutEnd(key, rng()).ok());
        }
        break;
      }
      case 2: {
        auto started = core_->UpsertStart(key, 1 + rng() % (8 * kKiB), Replicas(1 + rng() % 2));
        if (started.ok()) {
          ASSERT_TRUE(core_->PutEnd(key, rng()).ok());
        }
        break;
      }
      case 3:
        core_->Remove(key, RemoveMode::kForce).IgnoreError();
        break;
      case 4:
        core_->GetReplicaList(key).status().IgnoreError();  // leases defer upsert frees
        break;
      default:
        // Sync some node part of the way, in small pages.
        const std::string& n = nodes[rng() % nodes.size()];
        auto batch = core_->TakeManifestChanges("seg-" + n, n, acked[n], 1 + rng() % 5);
        ASSERT_TRUE(batch.ok());
        Apply(*batch, acked[n], manifests[n]);
    }
    clock_.Advance(std::chrono::milliseconds(1 + rng() % 50));
    core_->Tick();
    if (op % 100 == 0) {
      for (const auto& n : nodes) ASSERT_TRUE(core_->Heartbeat(n, 1).ok());
    }
  }
  for (const auto& n : nodes) Sync(n, acked[n], manifests[n]);

  // A brand-new master learns everything from the manifests.
  testing::FakeClock clock2;
  MasterCoreOptions options;
  options.first_version = 1;
  auto rebuilt = MasterCore::Create(options, clock2);
  ASSERT_TRUE(rebuilt.ok());
  for (const auto& n : nodes) {
    std::vector<ManifestEntry> entries;
    for (const auto& [key, entry] : manifests[n]) entries.push_back(entry);
    auto report = (*rebuilt)->MountWithManifest(Dram(n, 512 * kKiB), entries);
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->adopted, entries.size()) << "node " << n;
    EXPECT_TRUE(report->rejected_keys.empty());
  }
  ASSERT_TRUE((*rebuilt)->CheckInvariants().ok());
  for (int k = 0; k < 200; ++k) {
    const std::string key = "k" + std::to_string(k);
    auto want = core_->GetReplicaList(key);
    auto got = (*rebuilt)->GetReplicaList(key);
    ASSERT_EQ(want.ok(), got.ok()) << key;
    if (!want.ok()) continue;
    EXPECT_EQ(want->size, got->size) << key;
    EXPECT_EQ(want->version, got->version) << key;
    EXPECT_EQ(want->checksum, got->checksum) << key;
    EXPECT_EQ(want->replicas.size(), got->replicas.size()) << key;
  }
}

TEST_F(MasterCoreManifestTest, AdoptionRejectsAreNamedSoTheNodeDropsThem) {
  // A newer put of "k" is in flight when a node re-announces an old copy: the node must drop
  // it, else it would announce the stale copy again at the next master restart.
  MountNode("a", kSegmentBytes);
  ASSERT_TRUE(core_->PutStart("k", kKiB, {}).ok());
  auto report = core_->MountWithManifest(
      Dram("b", kSegmentBytes), {ManifestEntry{"k", kDramBase, kKiB, kKiB, 5, 1},
                                 ManifestEntry{"fine", kDramBase + 4 * kKiB, kKiB, kKiB, 6, 1}});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->adopted, 1u);
  EXPECT_EQ(report->rejected_keys, std::vector<std::string>{"k"});
  ASSERT_TRUE(core_->PutEnd("k", 3).ok());
}

TEST_F(MasterCoreManifestTest, LaterPutsOutrankAdoptedVersionsAfterRestart) {
  // first_version comes from the wall clock: puts on a restarted master get versions above
  // every version of the old master, so a late node re-announcing an old copy loses.
  MountNode("a", kSegmentBytes);
  Put("k", kKiB);  // version >= 1000 on "a"
  auto late =
      core_->MountWithManifest(Dram("b", kSegmentBytes), {ManifestEntry{"k", kDramBase, kKiB, kKiB,
                                                                        /*version=*/999, 1}});
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->adopted, 0u);
  EXPECT_EQ(late->rejected_keys, std::vector<std::string>{"k"});
  auto view = core_->GetReplicaList("k");
  ASSERT_TRUE(view.ok());
  EXPECT_GE(view->version, 1000u);
}

}  // namespace
}  // namespace mooncake::master
