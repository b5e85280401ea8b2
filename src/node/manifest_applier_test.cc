// ManifestApplier: the numbered batches of a segment's manifest changes are applied once each
// (re-delivered changes skipped, gaps reported), adds replace and removes drop only the replica
// they name, and an SSD segment gets exactly the header writes and erasures its manifest needs.

#include "node/manifest_applier.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "store_types/ssd_geometry.h"

namespace mooncake::node {
namespace {

constexpr uint64_t kBase = uint64_t{1} << 40;

ManifestEntry Entry(const std::string& key, uint64_t offset, uint64_t size, uint64_t version = 1) {
  ManifestEntry entry;
  entry.key = key;
  entry.address = kBase + offset;
  entry.length = SsdAllocationBytes(size);
  entry.size = size;
  entry.version = version;
  entry.checksum = static_cast<uint32_t>(size * 31 + version);
  return entry;
}

ManifestChange Added(ManifestEntry entry) { return {false, std::move(entry)}; }

// A removal as the master journals it: only key and address.
ManifestChange Removed(const std::string& key, uint64_t offset) {
  ManifestChange change;
  change.removed = true;
  change.entry.key = key;
  change.entry.address = kBase + offset;
  return change;
}

ManifestBatch Batch(uint64_t first_seq, std::vector<ManifestChange> changes) {
  return {first_seq, std::move(changes)};
}

bool IsWrite(const SsdRecordAction& a, const ManifestEntry& e) {
  return a.kind == SsdRecordAction::Kind::kWriteHeader && a.entry.key == e.key &&
         a.entry.address == e.address && a.entry.length == e.length && a.entry.size == e.size &&
         a.entry.version == e.version && a.entry.checksum == e.checksum;
}

bool IsErase(const SsdRecordAction& a, uint64_t offset, uint64_t length) {
  return a.kind == SsdRecordAction::Kind::kErase && a.entry.address == kBase + offset &&
         a.entry.length == length;
}

TEST(ManifestApplierTest, AddsAndRemovesKeepEntriesBytesAndTheLastNumberApplied) {
  ManifestApplier manifest(SegmentRecords::kNone);
  const ManifestEntry a = Entry("a", 0, 100);
  const ManifestEntry b = Entry("b", 8192, 5000);
  ManifestApplier::Applied applied = manifest.Apply(Batch(1, {Added(a), Added(b)}));
  EXPECT_EQ(applied.changes, 2u);
  EXPECT_FALSE(applied.missed);
  EXPECT_TRUE(applied.actions.empty()) << "a DRAM segment keeps no records";
  EXPECT_EQ(manifest.size(), 2u);
  EXPECT_EQ(manifest.bytes(), a.length + b.length);
  EXPECT_EQ(manifest.acked_seq(), 2u);

  applied = manifest.Apply(Batch(3, {Removed("a", 0)}));
  EXPECT_EQ(applied.changes, 1u);
  EXPECT_FALSE(manifest.Find("a"));
  ASSERT_TRUE(manifest.Find("b"));
  EXPECT_EQ(manifest.Find("b")->checksum, b.checksum);
  EXPECT_EQ(manifest.bytes(), b.length);
  EXPECT_EQ(manifest.acked_seq(), 3u);
}

TEST(ManifestApplierTest, AnAddReplacesTheKeysEntryAndItsBytes) {
  ManifestApplier manifest(SegmentRecords::kNone);
  manifest.Apply(Batch(1, {Added(Entry("k", 0, 100, 1))}));
  const ManifestEntry newer = Entry("k", 65536, 9000, 2);
  manifest.Apply(Batch(2, {Added(newer)}));
  EXPECT_EQ(manifest.size(), 1u);
  EXPECT_EQ(manifest.bytes(), newer.length) << "the old replica's bytes are no longer counted";
  EXPECT_EQ(manifest.Find("k")->version, 2u);
}

TEST(ManifestApplierTest, ARemovalAtAnotherAddressKeepsTheNewerReplica) {
  ManifestApplier manifest(SegmentRecords::kNone);
  manifest.Apply(Batch(1, {Added(Entry("k", 0, 100, 1)), Added(Entry("k", 65536, 100, 2))}));
  // The old replica at offset 0 goes after the new one arrived elsewhere.
  const ManifestApplier::Applied applied = manifest.Apply(Batch(3, {Removed("k", 0)}));
  EXPECT_EQ(applied.changes, 1u) << "applied (and acknowledged) even though nothing dropped";
  ASSERT_TRUE(manifest.Find("k"));
  EXPECT_EQ(manifest.Find("k")->version, 2u);
  EXPECT_EQ(manifest.acked_seq(), 3u);
  // A removal of a key the manifest never held changes nothing either.
  manifest.Apply(Batch(4, {Removed("never", 0)}));
  EXPECT_EQ(manifest.size(), 1u);
  EXPECT_EQ(manifest.acked_seq(), 4u);
}

TEST(ManifestApplierTest, ARedeliveredBatchIsSkippedAndAnOverlappingOneAppliesOnlyItsNewChanges) {
  ManifestApplier manifest(SegmentRecords::kSsdHeaders);
  const ManifestEntry a = Entry("a", 0, 100);
  const ManifestEntry b = Entry("b", 8192, 100);
  ASSERT_EQ(manifest.Apply(Batch(1, {Added(a), Added(b)})).changes, 2u);

  // The acknowledgement was lost: the master sends the same batch again.
  ManifestApplier::Applied again = manifest.Apply(Batch(1, {Added(a), Added(b)}));
  EXPECT_EQ(again.changes, 0u);
  EXPECT_TRUE(again.actions.empty()) << "headers written twice";
  EXPECT_EQ(manifest.acked_seq(), 2u);

  // 2 was applied, 3 and 4 are new; a removal of `a` replayed from 2 would be wrong.
  const ManifestEntry c = Entry("c", 16384, 100);
  ManifestApplier::Applied overlap =
      manifest.Apply(Batch(2, {Added(b), Added(c), Removed("a", 0)}));
  EXPECT_EQ(overlap.changes, 2u);
  ASSERT_EQ(overlap.actions.size(), 2u);
  EXPECT_TRUE(IsWrite(overlap.actions[0], c));
  EXPECT_TRUE(IsErase(overlap.actions[1], 0, a.length));
  EXPECT_EQ(manifest.acked_seq(), 4u);
  EXPECT_FALSE(manifest.Find("a"));
  EXPECT_TRUE(manifest.Find("b"));
  EXPECT_TRUE(manifest.Find("c"));

  // An older batch arriving late (out of order) changes nothing.
  ManifestApplier::Applied stale = manifest.Apply(Batch(1, {Removed("b", 8192)}));
  EXPECT_EQ(stale.changes, 0u);
  EXPECT_TRUE(stale.actions.empty());
  EXPECT_TRUE(manifest.Find("b"));
  EXPECT_EQ(manifest.acked_seq(), 4u);
}

TEST(ManifestApplierTest, ABatchPastTheNextNumberNamesTheMissingOnesAndIsApplied) {
  ManifestApplier manifest(SegmentRecords::kNone);
  manifest.Apply(Batch(1, {Added(Entry("a", 0, 1))}));
  const ManifestApplier::Applied applied = manifest.Apply(Batch(5, {Added(Entry("b", 8192, 1))}));
  ASSERT_TRUE(applied.missed);
  EXPECT_EQ(applied.missed->first, 2u);
  EXPECT_EQ(applied.missed->second, 4u);
  EXPECT_EQ(applied.changes, 1u);
  EXPECT_EQ(manifest.acked_seq(), 5u);
  EXPECT_TRUE(manifest.Find("b"));
  EXPECT_FALSE(manifest.Apply(Batch(6, {})).missed) << "the next batch follows on";
}

TEST(ManifestApplierTest, AnSsdSegmentWritesAHeaderPerAddAndErasesTheWholeRecordOnRemoval) {
  ManifestApplier manifest(SegmentRecords::kSsdHeaders);
  const ManifestEntry a = Entry("a", 0, 3 * kSsdBlockBytes);  // a record of 4 blocks
  const ManifestEntry b = Entry("b", 65536, 10);
  ManifestApplier::Applied applied = manifest.Apply(Batch(1, {Added(a), Added(b)}));
  ASSERT_EQ(applied.actions.size(), 2u);
  EXPECT_TRUE(IsWrite(applied.actions[0], a));
  EXPECT_TRUE(IsWrite(applied.actions[1], b));

  // The removal names only the address: the length is the manifest's.
  applied = manifest.Apply(Batch(3, {Removed("a", 0)}));
  ASSERT_EQ(applied.actions.size(), 1u);
  EXPECT_TRUE(IsErase(applied.actions[0], 0, a.length));
  // A replica the manifest does not hold there (never learnt, or replaced): its header at
  // least, so no scan finds a record there again.
  applied = manifest.Apply(Batch(4, {Removed("b", 0), Removed("unknown", 131072)}));
  ASSERT_EQ(applied.actions.size(), 2u);
  EXPECT_TRUE(IsErase(applied.actions[0], 0, kSsdHeaderBytes));
  EXPECT_TRUE(IsErase(applied.actions[1], 131072, kSsdHeaderBytes));
  EXPECT_TRUE(manifest.Find("b")) << "b lives at 65536, not at 0";
}

TEST(ManifestApplierTest, ARemountForgetsTheRejectedEntriesAndErasesOnlyTheirOwnRecords) {
  ManifestApplier manifest(SegmentRecords::kSsdHeaders);
  // What a scan found: `big` spans [0, 5 blocks); `stale` is a header found inside it (an
  // older record the big one overwrote, minus its header block); `old` is elsewhere.
  const ManifestEntry big = Entry("big", 0, 4 * kSsdBlockBytes);
  const ManifestEntry inside = Entry("stale", 2 * kSsdBlockBytes, 10);
  const ManifestEntry old = Entry("old", 65536, 10);
  const ManifestEntry kept = Entry("kept", 131072, 10);
  manifest.Load({big, inside, old, kept});
  ASSERT_EQ(manifest.size(), 4u);
  EXPECT_EQ(manifest.bytes(), big.length + inside.length + old.length + kept.length);
  manifest.Apply(Batch(1, {Added(Entry("x", 262144, 1))}));
  ASSERT_EQ(manifest.acked_seq(), 1u);

  const std::vector<SsdRecordAction> erasures = manifest.Remounted({"stale", "old", "gone"});
  ASSERT_EQ(erasures.size(), 1u) << "stale lies inside big, which was adopted";
  EXPECT_TRUE(IsErase(erasures[0], 65536, kSsdHeaderBytes));
  EXPECT_FALSE(manifest.Find("stale"));
  EXPECT_FALSE(manifest.Find("old"));
  EXPECT_TRUE(manifest.Find("big"));
  EXPECT_TRUE(manifest.Find("kept"));
  EXPECT_EQ(manifest.size(), 3u);
  EXPECT_EQ(manifest.acked_seq(), 0u) << "the master journals anew for every mount";
  EXPECT_EQ(manifest.Apply(Batch(1, {Removed("x", 262144)})).changes, 1u)
      << "change 1 of the new mount is not mistaken for one already applied";
  EXPECT_FALSE(manifest.Find("x"));
}

TEST(ManifestApplierTest, ARemountOfADramSegmentForgetsButErasesNothing) {
  ManifestApplier manifest(SegmentRecords::kNone);
  manifest.Load({Entry("a", 0, 10), Entry("b", 65536, 10)});
  EXPECT_TRUE(manifest.Remounted({"a"}).empty());
  EXPECT_FALSE(manifest.Find("a"));
  EXPECT_EQ(manifest.size(), 1u);
  EXPECT_EQ(manifest.bytes(), Entry("b", 65536, 10).length);
}

TEST(ManifestApplierTest, LoadKeepsTheFirstEntryOfAKey) {
  ManifestApplier manifest(SegmentRecords::kSsdHeaders);
  manifest.Load({Entry("k", 0, 10, 3), Entry("k", 65536, 10000, 2)});
  EXPECT_EQ(manifest.size(), 1u);
  EXPECT_EQ(manifest.Find("k")->version, 3u);
  EXPECT_EQ(manifest.bytes(), Entry("k", 0, 10).length);
  EXPECT_EQ(manifest.Entries().size(), 1u);
}

TEST(ManifestApplierTest, AnUploadMarksOnlyTheVersionItPut) {
  ManifestApplier manifest(SegmentRecords::kNone);
  manifest.Apply(Batch(1, {Added(Entry("k", 0, 10, 7))}));
  EXPECT_FALSE(manifest.MarkUploaded("k", 6)) << "an older version was uploaded";
  EXPECT_FALSE(manifest.MarkUploaded("k", 0)) << "a removal's result";
  EXPECT_FALSE(manifest.MarkUploaded("other", 7));
  EXPECT_FALSE(manifest.Find("k")->in_object_store);
  EXPECT_TRUE(manifest.MarkUploaded("k", 7));
  EXPECT_TRUE(manifest.Find("k")->in_object_store);
  EXPECT_TRUE(manifest.Entries()[0].in_object_store) << "a remount announces it";
}

}  // namespace
}  // namespace mooncake::node
