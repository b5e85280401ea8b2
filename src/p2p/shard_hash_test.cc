#include "p2p/shard_hash.h"

#include <gtest/gtest.h>

#include <string>

namespace mooncake::p2p {
namespace {

Extent Of(const std::string& s, size_t from, size_t n) {
  return {reinterpret_cast<uint64_t>(s.data() + from), n};
}

TEST(ShardHashTest, Sha256MatchesTheStandardVector) {
  std::string abc = "abc";
  EXPECT_EQ(HashExtents(P2PHashAlgorithm::kSha256, {Of(abc, 0, 3)}).value(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ShardHashTest, HashOfSplitExtentsEqualsHashOfTheWhole) {
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + 7);
  for (P2PHashAlgorithm a : {P2PHashAlgorithm::kXxh3_128, P2PHashAlgorithm::kSha256}) {
    std::string whole = HashExtents(a, {Of(data, 0, data.size())}).value();
    std::string split =
        HashExtents(a, {Of(data, 0, 1), Of(data, 1, 4095), Of(data, 4096, data.size() - 4096)})
            .value();
    EXPECT_EQ(whole, split);
    EXPECT_EQ(whole.size(), a == P2PHashAlgorithm::kSha256 ? 64u : 32u);
    data[777] ^= 1;
    EXPECT_NE(HashExtents(a, {Of(data, 0, data.size())}).value(), whole);
    data[777] ^= 1;
  }
}

TEST(ShardHashTest, AlgorithmNamesRoundTrip) {
  for (P2PHashAlgorithm a : {P2PHashAlgorithm::kXxh3_128, P2PHashAlgorithm::kSha256}) {
    EXPECT_EQ(ParseHashAlgorithm(HashAlgorithmName(a)).value(), a);
  }
  EXPECT_EQ(ParseHashAlgorithm("md5").status().code(), StatusCode::kInvalidParams);
}

}  // namespace
}  // namespace mooncake::p2p
