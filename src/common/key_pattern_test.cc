#include "common/key_pattern.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace mooncake {
namespace {

using ::testing::HasSubstr;

bool Matches(const std::string& pattern, const std::string& key) {
  auto compiled = KeyPattern::Compile(pattern);
  EXPECT_TRUE(compiled.ok()) << compiled.status().ToString();
  return compiled.ok() && compiled->Matches(key);
}

TEST(KeyPatternTest, SearchesAnywhereInTheKeyUnlessAnchored) {
  EXPECT_TRUE(Matches("user/", "tenant/user/1"));
  EXPECT_FALSE(Matches("^user/", "tenant/user/1"));
  EXPECT_TRUE(Matches("^user/[0-9]+$", "user/42"));
  EXPECT_FALSE(Matches("^user/[0-9]+$", "user/42x"));
  EXPECT_TRUE(Matches("", "anything"));  // like std::regex_search: empty matches every key
  EXPECT_TRUE(Matches("a|b", "xxb"));
}

TEST(KeyPatternTest, RejectedPatternNamesItselfAndTheReason) {
  auto bad = KeyPattern::Compile("([a-");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(bad.status().message(), HasSubstr("invalid regex '([a-'"));
  EXPECT_THAT(bad.status().message(), HasSubstr("missing ]"));
  // A backreference is ECMAScript, not RE2: refused with RE2's reason, never run.
  auto backref = KeyPattern::Compile("(a)\\1");
  ASSERT_FALSE(backref.ok());
  EXPECT_THAT(backref.status().message(), HasSubstr("escape"));
}

TEST(KeyPatternTest, OverlongAndOversizedPatternsAreRefused) {
  const std::string overlong(KeyPattern::kMaxPatternBytes + 1, 'a');
  auto too_long = KeyPattern::Compile(overlong);
  ASSERT_FALSE(too_long.ok());
  EXPECT_THAT(too_long.status().message(), HasSubstr("longer than 4096 bytes"));
  EXPECT_THAT(too_long.status().message(), HasSubstr("(4097 bytes)"));
  // Short to write, huge to compile: its program would not fit in kMaxMemoryBytes.
  auto huge = KeyPattern::Compile("((((a{100}){100}){100}){100})");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), StatusCode::kInvalidParams);
}

TEST(KeyPatternTest, PathologicalBacktrackingPatternRunsInLinearTime) {
  auto pattern = KeyPattern::Compile("^(a+)+$");
  ASSERT_TRUE(pattern.ok());
  // A backtracking engine takes 2^n steps on n 'a's followed by a 'b'; 4000 is far beyond
  // any machine, so finishing at all proves the matcher does not backtrack.
  const std::string key = std::string(4000, 'a') + "b";
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(pattern->Matches(key));
  EXPECT_TRUE(pattern->Matches(std::string(4000, 'a')));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace mooncake
