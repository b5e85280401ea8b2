// The chunked admin scans (key_scan.h): chunks of bounded size cover the index, and keys
// present for the whole scan are removed or listed however the index changes between chunks.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "common/key_pattern.h"
#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"

namespace mooncake::master {
namespace {

using ::testing::ElementsAre;

class MasterCoreScanTest : public MasterCoreFixture {
 protected:
  void SetUp() override {
    put_check_ = PutCheck::kAtTearDown;  // thousands of keys
    CreateCore();
    MountNode("node", uint64_t{1} << 30);
  }

  // Puts `count` new keys named `prefix` + number, starting at `first`.
  void PutMany(const std::string& prefix, int first, int count) {
    for (int i = first; i < first + count; ++i) PutOk(prefix + std::to_string(i));
  }

  size_t CountWithPrefix(const std::string& prefix) {
    auto page = core_->ListKeys(prefix, "", kMaxKeys);
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->keys.size() : 0;
  }

  static constexpr size_t kMaxKeys = 1 << 20;
};

TEST_F(MasterCoreScanTest, SmallChunksCoverTheIndexAndRemoveOnlyMatches) {
  PutMany("drop/", 0, 300);
  PutMany("keep/", 0, 100);
  auto pattern = KeyPattern::Compile("^drop/");
  ASSERT_TRUE(pattern.ok());
  KeyScanCursor cursor;
  size_t removed = 0;
  int chunks = 0;
  while (!cursor.done() && chunks < 10000) {
    const size_t in_chunk = core_->RemoveMatchingChunk(&*pattern, RemoveMode::kNormal, 16, cursor);
    EXPECT_LE(in_chunk, 16u);  // a chunk visits at most 16 slots, so removes at most 16
    removed += in_chunk;
    ++chunks;
  }
  ASSERT_TRUE(cursor.done());
  EXPECT_EQ(removed, 300u);
  EXPECT_GT(chunks, 300 / 16);
  EXPECT_EQ(cursor.restarts, 0u);
  EXPECT_EQ(CountWithPrefix("drop/"), 0u);
  EXPECT_EQ(CountWithPrefix("keep/"), 100u);
  // A finished cursor does nothing more.
  EXPECT_EQ(core_->RemoveMatchingChunk(nullptr, RemoveMode::kForce, 16, cursor), 0u);
  EXPECT_EQ(CountWithPrefix("keep/"), 100u);
  EXPECT_TRUE(core_->CheckInvariants().ok());
}

TEST_F(MasterCoreScanTest, KeysPresentThroughoutAreRemovedWhileTheTableGrowsAndShrinks) {
  PutMany("old/", 0, 200);
  PutMany("churn/", 0, 200);
  auto pattern = KeyPattern::Compile("^old/");
  ASSERT_TRUE(pattern.ok());
  KeyScanCursor cursor;
  size_t removed = 0;
  int next_new = 0;
  int next_gone = 0;
  for (int chunk = 0; chunk < 1000 && !cursor.done(); ++chunk) {
    removed += core_->RemoveMatchingChunk(&*pattern, RemoveMode::kNormal, 8, cursor);
    // Between chunks, as other RPCs would: new keys (growing, i.e. rebuilding, the table)
    // and removals of other keys (tombstones).
    PutMany("new/", next_new, 40);
    next_new += 40;
    if (next_gone < 200) {
      ASSERT_TRUE(core_->Remove("churn/" + std::to_string(next_gone++), RemoveMode::kNormal).ok());
    }
  }
  ASSERT_TRUE(cursor.done());
  EXPECT_GT(cursor.restarts, 0u);  // the table was rebuilt under the scan
  EXPECT_EQ(removed, 200u);        // each old key once, none twice
  EXPECT_EQ(CountWithPrefix("old/"), 0u);
  EXPECT_EQ(CountWithPrefix("new/"), static_cast<size_t>(next_new));
  EXPECT_TRUE(core_->CheckInvariants().ok());
}

TEST_F(MasterCoreScanTest, ScanEndsEvenWhenEveryChunkIsRestartedByARebuild) {
  PutMany("k/", 0, 1000);
  KeyScanCursor cursor;
  int chunks = 0;
  int churn = 0;
  // Put-then-remove churn fills the table with tombstones, so the table keeps rebuilding in
  // place; the chunk doubles per restart until one chunk covers the table.
  while (!cursor.done() && chunks < 64) {
    KeyListing listing = KeyListing::Create("", "", 10).value();
    core_->ListKeysChunk(listing, 4, cursor);
    ++chunks;
    for (int i = 0; i < 1500; ++i, ++churn) {
      const std::string key = "tmp/" + std::to_string(churn);
      PutOk(key);
      ASSERT_TRUE(core_->Remove(key, RemoveMode::kNormal).ok());
    }
  }
  EXPECT_TRUE(cursor.done());
  EXPECT_GT(cursor.restarts, 1u);
  EXPECT_LT(chunks, 64);
}

TEST_F(MasterCoreScanTest, ListingAcrossRebuildsListsEveryKeyOnceInOrder) {
  PutMany("a/", 0, 150);
  KeyListing listing = KeyListing::Create("a/", "", 1000).value();
  KeyScanCursor cursor;
  int next_new = 0;
  for (int chunk = 0; chunk < 1000 && !cursor.done(); ++chunk) {
    core_->ListKeysChunk(listing, 8, cursor);
    PutMany("b/", next_new, 30);  // grows the table: the scan starts over, offering keys again
    next_new += 30;
  }
  ASSERT_TRUE(cursor.done());
  EXPECT_GT(cursor.restarts, 0u);
  KeyPage page = listing.TakePage();
  EXPECT_FALSE(page.truncated);
  ASSERT_EQ(page.keys.size(), 150u);
  EXPECT_TRUE(std::is_sorted(page.keys.begin(), page.keys.end()));
  EXPECT_EQ(std::set<std::string>(page.keys.begin(), page.keys.end()).size(), 150u);
}

TEST_F(MasterCoreScanTest, ListingKeepsTheSmallestKeysAndSaysWhenTruncated) {
  KeyListing listing = KeyListing::Create("p", "p1", 3).value();
  for (const char* key : {"p5", "q0", "p1", "p9", "p2", "p2", "p4", "p3"}) listing.Offer(key);
  KeyPage page = listing.TakePage();
  EXPECT_THAT(page.keys, ElementsAre("p2", "p3", "p4"));
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(KeyListing::Create("", "", 0).status().code(), StatusCode::kInvalidParams);
}

TEST_F(MasterCoreScanTest, PathologicalPatternOverLongKeysFinishes) {
  // Under std::regex (backtracking) one such key took seconds; RE2 is linear.
  for (int i = 0; i < 200; ++i) PutOk(std::string(100 + i, 'a') + "b");
  PutMany("a", 0, 50);
  PutOk("aaaa");
  const auto start = std::chrono::steady_clock::now();
  auto removed = core_->RemoveByRegex("^(a+)+$", RemoveMode::kNormal);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);  // only "aaaa" is all a's
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  auto bad = core_->RemoveByRegex("(?<=a)b", RemoveMode::kNormal);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("invalid regex '(?<=a)b'"));
}

}  // namespace
}  // namespace mooncake::master
