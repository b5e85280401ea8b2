// MasterCore::ListKeys: visible keys only, prefix filter, bytewise order, paging.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "master/core/master_core.h"
#include "master/core/master_core_test_fixture.h"

namespace mooncake::master {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class MasterCoreListTest : public MasterCoreFixture {
 protected:
  void SetUp() override {
    CreateCore();
    MountNode("node");
  }

  std::vector<std::string> List(const std::string& prefix, size_t limit = 100,
                                const std::string& start_after = "") {
    auto page = core_->ListKeys(prefix, start_after, limit);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->keys : std::vector<std::string>{};
  }
};

TEST_F(MasterCoreListTest, ListsVisibleKeysWithThePrefixInOrder) {
  for (const char* key : {"b/2", "a/1", "b/10", "b/1", "c", "b"}) PutOk(key);
  // A put in flight is invisible, so it is not listed.
  ASSERT_TRUE(core_->PutStart("b/pending", 64, ReplicateConfig{}).ok());
  EXPECT_THAT(List("b/"), ElementsAre("b/1", "b/10", "b/2"));
  EXPECT_THAT(List(""), ElementsAre("a/1", "b", "b/1", "b/10", "b/2", "c"));
  EXPECT_THAT(List("zzz"), IsEmpty());
  ASSERT_TRUE(core_->PutEnd("b/pending", 0).ok());
  EXPECT_THAT(List("b/p"), ElementsAre("b/pending"));
}

TEST_F(MasterCoreListTest, LimitTruncatesToTheSmallestKeysAndPagesContinue) {
  for (int i = 9; i >= 0; --i) PutOk("k" + std::to_string(i));
  auto page = core_->ListKeys("k", "", 4);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->keys, ElementsAre("k0", "k1", "k2", "k3"));
  EXPECT_TRUE(page->truncated);
  // Paging with start_after walks every key exactly once.
  std::vector<std::string> all;
  std::string after;
  for (;;) {
    auto next = core_->ListKeys("k", after, 3);
    ASSERT_TRUE(next.ok());
    all.insert(all.end(), next->keys.begin(), next->keys.end());
    if (!next->truncated) break;
    after = next->keys.back();
  }
  EXPECT_EQ(all.size(), 10u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  // Exactly `limit` matches: not truncated.
  auto exact = core_->ListKeys("k", "", 10);
  ASSERT_TRUE(exact.ok());
  EXPECT_FALSE(exact->truncated);
}

TEST_F(MasterCoreListTest, RemovedKeysVanishAndZeroLimitIsInvalid) {
  PutOk("x1");
  PutOk("x2");
  ASSERT_TRUE(core_->Remove("x1", RemoveMode::kNormal).ok());
  EXPECT_THAT(List("x"), ElementsAre("x2"));
  EXPECT_EQ(core_->ListKeys("x", "", 0).status().code(), StatusCode::kInvalidParams);
}

}  // namespace
}  // namespace mooncake::master
