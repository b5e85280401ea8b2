#include "mooncake/common/cluster_secret.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "testing/temp_dir.h"

namespace mooncake::auth {
namespace {

constexpr char kKeyA[] = "0123456789abcdef0123456789abcdef";
constexpr char kKeyB[] = "fedcba9876543210fedcba9876543210";

std::string WriteFile(const testing::TempDir& dir, const std::string& name, const std::string& text,
                      mode_t mode) {
  const std::string path = dir.File(name);
  std::ofstream(path) << text;
  EXPECT_EQ(chmod(path.c_str(), mode), 0);
  return path;
}

TEST(ClusterSecretTest, SignIsDeterministicAndDependsOnKeyLabelAndParts) {
  auto a = ClusterSecret::FromText(kKeyA);
  auto b = ClusterSecret::FromText(kKeyB);
  ASSERT_TRUE(a.ok() && b.ok());
  const Mac mac = a->Sign("step", {"x", "y"});
  EXPECT_EQ(mac, a->Sign("step", {"x", "y"}));
  EXPECT_NE(mac, b->Sign("step", {"x", "y"}));
  EXPECT_NE(mac, a->Sign("other-step", {"x", "y"}));
  EXPECT_NE(mac, a->Sign("step", {"y", "x"}));
  // Length prefixes keep piece boundaries apart.
  EXPECT_NE(mac, a->Sign("step", {"xy", ""}));
  EXPECT_TRUE(a->Verify(mac, "step", {"x", "y"}));
  EXPECT_FALSE(b->Verify(mac, "step", {"x", "y"}));
  Mac flipped = mac;
  flipped[31] ^= 1;
  EXPECT_FALSE(a->Verify(flipped, "step", {"x", "y"}));
}

TEST(ClusterSecretTest, EveryLineIsAcceptedButTheFirstSigns) {
  auto rotated = ClusterSecret::FromText(std::string(kKeyB) + "\r\n\n" + kKeyA + "  \n");
  auto old_only = ClusterSecret::FromText(std::string(kKeyA) + "\n");
  ASSERT_TRUE(rotated.ok() && old_only.ok());
  EXPECT_EQ(rotated->key_count(), 2u);
  // A peer still on the old key is accepted by a rotated process ...
  EXPECT_TRUE(rotated->Verify(old_only->Sign("s", {"n"}), "s", {"n"}));
  // ... and the rotated process signs with its first key, which the old peer does not know.
  EXPECT_FALSE(old_only->Verify(rotated->Sign("s", {"n"}), "s", {"n"}));
  EXPECT_NE(rotated->KeyId(), old_only->KeyId());
  EXPECT_EQ(rotated->KeyId().size(), 8u);
}

TEST(ClusterSecretTest, ShortOrEmptySecretsAreRefusedWithTheReason) {
  auto empty = ClusterSecret::FromText("\n \n");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("empty"), std::string::npos);
  auto short_key = ClusterSecret::FromText(std::string(kKeyA) + "\nshort\n");
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.status().code(), StatusCode::kInvalidParams);
  EXPECT_NE(short_key.status().message().find("line 2"), std::string::npos);
}

TEST(ClusterSecretTest, SecretFileMustBePrivate) {
  auto dir = testing::TempDir::Create("mc_secret");
  ASSERT_TRUE(dir.ok());
  const std::string good = WriteFile(*dir, "good", std::string(kKeyA) + "\n", 0600);
  auto loaded = LoadSecretFile(good);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(loaded->Verify(ClusterSecret::FromText(kKeyA)->Sign("s", {}), "s", {}));

  const std::string readable = WriteFile(*dir, "readable", kKeyA, 0644);
  auto refused = LoadSecretFile(readable);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("chmod 600"), std::string::npos);
  EXPECT_NE(refused.status().message().find("644"), std::string::npos);

  auto missing = LoadSecretFile(dir->File("missing"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing"), std::string::npos);

  const std::string empty = WriteFile(*dir, "empty", "", 0600);
  auto empty_refused = LoadSecretFile(empty);
  ASSERT_FALSE(empty_refused.ok());
  EXPECT_NE(empty_refused.status().message().find(empty), std::string::npos);
}

TEST(ClusterSecretTest, FlagWinsOverEnvironmentAndNeitherMeansOpen) {
  auto dir = testing::TempDir::Create("mc_secret");
  ASSERT_TRUE(dir.ok());
  const std::string from_flag = WriteFile(*dir, "flag", kKeyA, 0600);
  const std::string from_env = WriteFile(*dir, "env", kKeyB, 0400);
  unsetenv(kSecretFileEnv);
  auto none = LoadConfiguredSecret("");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  setenv(kSecretFileEnv, from_env.c_str(), 1);
  auto env = LoadConfiguredSecret("");
  auto flag = LoadConfiguredSecret(from_flag);
  unsetenv(kSecretFileEnv);
  ASSERT_TRUE(env.ok() && flag.ok());
  ASSERT_NE(*env, nullptr);
  ASSERT_NE(*flag, nullptr);
  EXPECT_EQ((*env)->KeyId(), ClusterSecret::FromText(kKeyB)->KeyId());
  EXPECT_EQ((*flag)->KeyId(), ClusterSecret::FromText(kKeyA)->KeyId());
}

TEST(ClusterSecretTest, NoncesAreFreshAndHexRoundTrips) {
  const Nonce a = RandomNonce(), b = RandomNonce();
  EXPECT_NE(a, b);
  const std::string hex = ToHex(AsBytes(a));
  EXPECT_EQ(hex.size(), 64u);
  Nonce back{};
  ASSERT_TRUE(FromHex(hex, back.data(), back.size()));
  EXPECT_EQ(back, a);
  EXPECT_FALSE(FromHex(hex.substr(2), back.data(), back.size()));
  EXPECT_FALSE(FromHex(std::string(64, 'g'), back.data(), back.size()));
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abcd"));
}

}  // namespace
}  // namespace mooncake::auth
