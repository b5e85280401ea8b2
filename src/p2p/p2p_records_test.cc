#include "p2p/p2p_records.h"

#include <gtest/gtest.h>

namespace mooncake::p2p {
namespace {

TEST(P2PRecordsTest, ObjectRecordRoundTrips) {
  ObjectRecord r{"ckpt/step-1", 7, "xxh3-128", {{4, "aa"}, {3, "bb"}}, {{"a.bin", 4}, {"", 3}}};
  auto back = DecodeObjectRecord(EncodeObjectRecord(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, r.name);
  EXPECT_TRUE(back->SameContent(r));
  ASSERT_EQ(back->parts.size(), 2u);
  EXPECT_EQ(back->parts[0].name, "a.bin");
}

TEST(P2PRecordsTest, InconsistentObjectRecordsAreRejected) {
  EXPECT_FALSE(DecodeObjectRecord("not json").ok());
  EXPECT_FALSE(DecodeObjectRecord(R"({"name":"x","size":5,"hash_algorithm":"sha256",
      "shards":[{"size":4,"hash":"a"}]})")
                   .ok());
  EXPECT_FALSE(DecodeObjectRecord(R"({"name":"x","size":0,"hash_algorithm":"sha256",
      "shards":[{"size":0,"hash":"a"}]})")
                   .ok());
  EXPECT_FALSE(DecodeObjectRecord(R"({"name":"x","size":"4"})").ok());
}

TEST(P2PRecordsTest, HolderRecordRoundTripsAndMustMatchTheObject) {
  HolderRecord h{"10.0.0.1:1234", {{4096, 5}, {8192, 2}}, {true, false, true}, {}, true};
  std::string text = EncodeHolderRecord(h);
  auto back = DecodeHolderRecord(text, 3, 7);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->segment, h.segment);
  EXPECT_EQ(back->buffers, h.buffers);
  EXPECT_EQ(back->shards, h.shards);
  EXPECT_TRUE(back->seed);
  EXPECT_TRUE(back->fetching.empty());
  EXPECT_TRUE(back->HoldsAny());
  h.shards = {false, false, false};
  h.fetching = {false, true, false};
  back = DecodeHolderRecord(EncodeHolderRecord(h), 3, 7);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->fetching, h.fetching);
  EXPECT_FALSE(back->HoldsAny());
  EXPECT_EQ(DecodeHolderRecord(text, 4, 7).status().code(), StatusCode::kInvalidParams);
  EXPECT_EQ(DecodeHolderRecord(text, 3, 8).status().code(), StatusCode::kInvalidParams);
}

TEST(P2PRecordsTest, HolderPrefixesOfDifferentNamesNeverNest) {
  EXPECT_EQ(HolderKey("a/b", "h:1"), "mooncake/p2p/v1/holders/a%2Fb/h:1");
  EXPECT_EQ(HolderPrefix("a%"), "mooncake/p2p/v1/holders/a%25/");
  EXPECT_NE(HolderPrefix("a").substr(0, HolderPrefix("a").size()),
            HolderPrefix("a/b").substr(0, HolderPrefix("a").size()));
  EXPECT_EQ(ObjectKey("a/b"), "mooncake/p2p/v1/objects/a/b");
}

TEST(P2PRecordsTest, ObjectNamesAreChecked) {
  EXPECT_TRUE(ValidateObjectName("ckpt-1").ok());
  EXPECT_FALSE(ValidateObjectName("").ok());
  EXPECT_FALSE(ValidateObjectName("a\nb").ok());
  EXPECT_FALSE(ValidateObjectName(std::string(1025, 'x')).ok());
}

}  // namespace
}  // namespace mooncake::p2p
