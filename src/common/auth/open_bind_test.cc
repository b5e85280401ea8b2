#include "common/auth/open_bind.h"

#include <gtest/gtest.h>

namespace mooncake::auth {
namespace {

TEST(OpenBindTest, DefaultHostIsLoopbackWithoutSecretAndAllInterfacesWithOne) {
  auto secret = ClusterSecret::FromText("0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(DefaultListenHost(nullptr), "127.0.0.1");
  EXPECT_EQ(DefaultListenHost(&*secret), "0.0.0.0");
}

TEST(OpenBindTest, LoopbackHostsAreRecognised) {
  for (const char* host :
       {"127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "192.168.1.7", "128.0.0.1", "", "[]"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(OpenBindTest, WarnsOnlyForNonLoopbackAddressesAndOnlyWithoutSecret) {
  EXPECT_TRUE(WarnIfOpen("master", {"127.0.0.1:50051", "localhost"}, nullptr).empty());
  EXPECT_EQ(WarnIfOpen("node", {"127.0.0.1:1", "0.0.0.0:9003", "[::]:7"}, nullptr),
            (std::vector<std::string>{"0.0.0.0:9003", "[::]:7"}));
  auto secret = ClusterSecret::FromText("0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(secret.ok());
  EXPECT_TRUE(WarnIfOpen("master", {"0.0.0.0:50051"}, &*secret).empty());
}

TEST(OpenBindTest, WarningNamesTheAddressAndTheSecretFlag) {
  const std::string text = OpenClusterWarning("master", {"0.0.0.0:50051"});
  EXPECT_NE(text.find("0.0.0.0:50051"), std::string::npos) << text;
  EXPECT_NE(text.find("open to anyone"), std::string::npos) << text;
  EXPECT_NE(text.find("--auth_secret_file"), std::string::npos) << text;
}

}  // namespace
}  // namespace mooncake::auth
