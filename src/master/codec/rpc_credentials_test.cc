#include "master/codec/rpc_credentials.h"

#include <gtest/gtest.h>

namespace mooncake::master {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

auth::ClusterSecret Secret(const char* text) { return auth::ClusterSecret::FromText(text).value(); }

const auth::ClusterSecret kRight = Secret("0123456789abcdef0123456789abcdef");
const auth::ClusterSecret kWrong = Secret("fedcba9876543210fedcba9876543210");
const auto kNow = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));

TEST(RpcCredentialsTest, RightSecretSameMethodWithinSkewPasses) {
  const std::string credential = MakeRpcCredential(kRight, "BatchRemove", kNow);
  EXPECT_EQ(credential.rfind("v1.1700000000123.", 0), 0u) << credential;
  EXPECT_TRUE(CheckRpcCredential(kRight, "BatchRemove", credential, kNow).ok());
  EXPECT_TRUE(CheckRpcCredential(kRight, "BatchRemove", credential, kNow + minutes(5)).ok());
  EXPECT_TRUE(CheckRpcCredential(kRight, "BatchRemove", credential, kNow - minutes(5)).ok());
  // Fresh nonces: two credentials for the same call differ.
  EXPECT_NE(credential, MakeRpcCredential(kRight, "BatchRemove", kNow));
}

TEST(RpcCredentialsTest, RotationAcceptsEveryListedKey) {
  const auth::ClusterSecret rotated =
      Secret("fedcba9876543210fedcba9876543210\n0123456789abcdef0123456789abcdef");
  EXPECT_TRUE(
      CheckRpcCredential(rotated, "Ping", MakeRpcCredential(kRight, "Ping", kNow), kNow).ok());
}

TEST(RpcCredentialsTest, WrongSecretOtherMethodOrStaleIsUnauthenticated) {
  const std::string credential = MakeRpcCredential(kRight, "Ping", kNow);
  const Status wrong = CheckRpcCredential(kWrong, "Ping", credential, kNow);
  EXPECT_EQ(wrong.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(wrong.message().find("does not match"), std::string::npos) << wrong.message();
  EXPECT_EQ(CheckRpcCredential(kRight, "RemoveAll", credential, kNow).code(),
            StatusCode::kUnauthenticated);
  const Status stale =
      CheckRpcCredential(kRight, "Ping", credential, kNow + minutes(5) + seconds(1));
  EXPECT_EQ(stale.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(stale.message().find("stale"), std::string::npos) << stale.message();
  EXPECT_EQ(CheckRpcCredential(kRight, "Ping", credential, kNow - minutes(6)).code(),
            StatusCode::kUnauthenticated);
}

TEST(RpcCredentialsTest, MalformedCredentialsAreRefusedWithoutCrashing) {
  const std::string good = MakeRpcCredential(kRight, "Ping", kNow);
  std::string flipped = good;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  const std::string nonce_and_mac = good.substr(good.find('.', 3));
  for (const std::string& bad :
       {std::string(), std::string("v1"), std::string("v1..."), std::string("v2") + good.substr(2),
        "v1.-5" + nonce_and_mac, "v1.12x" + nonce_and_mac,
        "v1.99999999999999999999" + nonce_and_mac, good + ".x", good.substr(0, good.size() - 2),
        good + "00", flipped, std::string(10000, 'a')}) {
    const Status status = CheckRpcCredential(kRight, "Ping", bad, kNow);
    EXPECT_EQ(status.code(), StatusCode::kUnauthenticated) << bad;
  }
}

TEST(RpcCredentialsTest, SignerReusesACredentialForOneSecondPerMethod) {
  RpcSigner signer(std::make_shared<const auth::ClusterSecret>(kRight));
  const std::string first = signer.CredentialFor("BatchRemove", kNow);
  EXPECT_EQ(signer.CredentialFor("BatchRemove", kNow + std::chrono::milliseconds(999)), first);
  EXPECT_NE(signer.CredentialFor("Ping", kNow), first) << "per method";
  EXPECT_NE(signer.CredentialFor("BatchRemove", kNow + seconds(1)), first) << "renewed";
  EXPECT_NE(signer.CredentialFor("BatchRemove", kNow - seconds(10)), first) << "clock stepped back";
  EXPECT_TRUE(CheckRpcCredential(kRight, "BatchRemove", first, kNow).ok());
}

TEST(RpcCredentialsTest, VerifierRemembersOnlyWhatPassedForItsMethod) {
  RpcVerifier verifier(std::make_shared<const auth::ClusterSecret>(kRight));
  const std::string right = MakeRpcCredential(kRight, "Ping", kNow);
  EXPECT_TRUE(verifier.Check("Ping", right, kNow).ok());
  EXPECT_TRUE(verifier.Check("Ping", right, kNow).ok()) << "remembered";
  EXPECT_EQ(verifier.Check("RemoveAll", right, kNow).code(), StatusCode::kUnauthenticated)
      << "a credential that passed for one method is no good for another";
  const std::string wrong = MakeRpcCredential(kWrong, "Ping", kNow);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(verifier.Check("Ping", wrong, kNow).code(), StatusCode::kUnauthenticated);
  }
}

}  // namespace
}  // namespace mooncake::master
