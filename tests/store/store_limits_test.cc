// The store's edges with real processes (a master and two 32 MiB nodes on loopback, a Client
// in the test process): empty objects, bad keys, sizes no segment can hold, out-of-range
// replica counts, and a full pool that must make room by eviction. Every refusal carries the
// error code a caller branches on and a message that names the problem; nothing is left behind.
// (Round trips of 1 B .. 64 MiB are in store_cluster_test.cc.)

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "store_test_cluster.h"
#include "store_test_values.h"

namespace mooncake::store {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kSegment = 32 * kMiB;  // each node's DRAM

class StoreLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreTestClusterOptions options;
    options.segment_size = "32MiB";
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    client_ = TestClient(cluster_->master_address());
    admin_ = TestAdmin(cluster_->master_address());
    ASSERT_TRUE(client_ && admin_);
  }

  // Bytes in use over all segments.
  uint64_t PoolUsed() {
    auto info = admin_->GetClusterInfo();
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    uint64_t used = 0;
    if (info.ok()) {
      for (const SegmentInfo& s : info->segments) used += s.used;
    }
    return used;
  }

  std::unique_ptr<StoreTestCluster> cluster_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<master::MasterClient> admin_;
};

TEST_F(StoreLimitsTest, ZeroByteObjectsRoundTrip) {
  ASSERT_TRUE(client_->Put("empty", {}).ok());
  auto got = client_->Get("empty");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->empty());
  EXPECT_EQ(client_->GetSize("empty").value(), 0u);
  EXPECT_TRUE(client_->IsExist("empty").value());
  EXPECT_EQ(client_->Put("empty", {}).code(), StatusCode::kObjectAlreadyExists);
  ASSERT_TRUE(client_->Put("empty", Pattern(10, 1), {}, PutMode::kUpsert).ok());
  EXPECT_EQ(client_->GetSize("empty").value(), 10u);
  ASSERT_TRUE(client_->Put("empty", {}, {}, PutMode::kUpsert).ok());
  EXPECT_EQ(client_->GetSize("empty").value(), 0u);

  // Zero-copy, batched among non-empty values, and on two replicas.
  std::vector<uint8_t> buffer(4096, 0xee);
  ASSERT_TRUE(client_->RegisterBuffer(buffer.data(), buffer.size()).ok());
  ASSERT_TRUE(client_->PutFrom("empty-zc", buffer.data(), 0).ok());
  auto into = client_->GetInto("empty-zc", buffer.data(), buffer.size());
  ASSERT_TRUE(into.ok()) << into.status().ToString();
  EXPECT_EQ(*into, 0u);
  EXPECT_EQ(buffer[0], 0xee);  // nothing written
  const std::vector<uint8_t> one = Pattern(1, 2);
  ReplicateConfig two;
  two.replica_num = 2;
  for (const Status& s : client_->BatchPut({"b-empty", "b-one"}, {{}, std::span(one)}, two)) {
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  auto batch = client_->BatchGet({"b-empty", "b-one"});
  ASSERT_TRUE(batch[0].ok()) << batch[0].status().ToString();
  ASSERT_TRUE(batch[1].ok()) << batch[1].status().ToString();
  EXPECT_TRUE(batch[0]->empty());
  EXPECT_TRUE(*batch[1] == one);
  ASSERT_TRUE(client_->Remove("empty", RemoveMode::kForce).ok());
  EXPECT_FALSE(client_->IsExist("empty").value());
}

TEST_F(StoreLimitsTest, BadKeysAreInvalidKeyOnEveryCallNamingTheProblem) {
  const std::vector<uint8_t> value = Pattern(100, 1);
  const std::string too_long(4097, 'k');
  const Status empty = client_->Put("", value);
  EXPECT_EQ(empty.code(), StatusCode::kInvalidKey) << empty.ToString();
  EXPECT_THAT(empty.message(), HasSubstr("empty key"));
  const Status long_put = client_->Put(too_long, value);
  EXPECT_EQ(long_put.code(), StatusCode::kInvalidKey) << long_put.ToString();
  EXPECT_THAT(long_put.message(), AllOf(HasSubstr("4097"), HasSubstr("max_key_length 4096")));
  for (const std::string& key : {std::string(), too_long}) {
    SCOPED_TRACE(key.size());
    EXPECT_EQ(client_->Get(key).status().code(), StatusCode::kInvalidKey);
    EXPECT_EQ(client_->IsExist(key).status().code(), StatusCode::kInvalidKey);
    EXPECT_EQ(client_->GetSize(key).status().code(), StatusCode::kInvalidKey);
    EXPECT_EQ(client_->Remove(key, RemoveMode::kForce).code(), StatusCode::kInvalidKey);
    EXPECT_EQ(client_->Put(key, value, {}, PutMode::kUpsert).code(), StatusCode::kInvalidKey);
  }
  // The longest key accepted is max_key_length bytes.
  const std::string longest(4096, 'k');
  ASSERT_TRUE(client_->Put(longest, value).ok());
  EXPECT_TRUE(client_->Get(longest).value() == value);
  // In a batch, only the bad key fails.
  const std::vector<uint8_t> other = Pattern(100, 2);
  auto results = client_->BatchPut({"good-1", "", "good-2"},
                                   {std::span(value), std::span(value), std::span(other)});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_EQ(results[1].code(), StatusCode::kInvalidKey) << results[1].ToString();
  EXPECT_TRUE(results[2].ok()) << results[2].ToString();
  EXPECT_TRUE(client_->Get("good-2").value() == other);
  // A failed put leaves nothing: only the three objects above exist.
  auto info = admin_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->objects, 3u);
}

// Keys are bytes (a KV-cache key is often a binary hash): any byte sequence the length rules
// allow must either round-trip or be refused as INVALID_KEY, never fail in the RPC layer.
TEST_F(StoreLimitsTest, BinaryKeysRoundTripOrAreInvalidKey) {
  const std::vector<uint8_t> value = Pattern(100, 3);
  const std::string binary("\xff\xfe\x00\x80key\xc3", 9);
  // In a batch, the binary key must not take the other keys down with it.
  auto batch = client_->BatchPut({"beside-binary", binary}, {std::span(value), std::span(value)});
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_TRUE(batch[0].ok()) << batch[0].ToString();
  if (batch[1].code() == StatusCode::kInvalidKey) return;  // refused clearly: fine
  ASSERT_TRUE(batch[1].ok()) << batch[1].ToString();
  auto got = client_->Get(binary);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == value);
  EXPECT_TRUE(client_->IsExist(binary).value());
  EXPECT_TRUE(client_->Remove(binary, RemoveMode::kForce).ok());
}

// Valid UTF-8 with NUL and multi-byte characters: every byte of the key counts.
TEST_F(StoreLimitsTest, KeysAreComparedByEveryByte) {
  const std::vector<std::string> keys = {std::string("a\0b", 3), std::string("a\0c", 3), "a",
                                         "\xc3\xa9t\xc3\xa9", "e\xcc\x81t\xc3\xa9"};
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(client_->Put(keys[i], Pattern(64, 10 + i)).ok()) << i;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    auto got = client_->Get(keys[i]);
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
    EXPECT_TRUE(*got == Pattern(64, 10 + i)) << i;
  }
  EXPECT_EQ(client_->Get(std::string("a\0", 2)).status().code(), StatusCode::kObjectNotFound);
}

TEST_F(StoreLimitsTest, AValueNoSegmentCanHoldIsRefusedWithoutEvictingAnything) {
  const std::vector<uint8_t> keep = Pattern(kMiB, 4);
  ASSERT_TRUE(client_->Put("keep", keep).ok());
  const uint64_t used_before = PoolUsed();
  // Larger than either node's segment, smaller than the two together.
  const size_t too_big = kSegment + kMiB;
  const Status put = client_->Put("too-big", Pattern(too_big, 5));
  EXPECT_EQ(put.code(), StatusCode::kNoAvailableHandle) << put.ToString();
  EXPECT_THAT(put.message(), AllOf(HasSubstr(std::to_string(too_big)), HasSubstr("segment")));
  EXPECT_FALSE(client_->IsExist("too-big").value());
  EXPECT_EQ(PoolUsed(), used_before);                 // nothing half-allocated
  EXPECT_TRUE(client_->Get("keep").value() == keep);  // and nothing evicted for nothing
  // Zero-copy puts are refused the same way, before any byte moves.
  std::vector<uint8_t> buffer(too_big);
  ASSERT_TRUE(client_->RegisterBuffer(buffer.data(), buffer.size()).ok());
  EXPECT_EQ(client_->PutFrom("too-big", buffer.data(), buffer.size()).code(),
            StatusCode::kNoAvailableHandle);
  EXPECT_TRUE(client_->UnregisterBuffer(buffer.data()).ok());
  // Past max_object_size (1 TiB) the master refuses the size itself; asked directly, since a
  // client would need that much memory to try.
  auto huge = admin_->PutStart("huge", uint64_t{1} << 41, {});
  EXPECT_EQ(huge.status().code(), StatusCode::kInvalidParams) << huge.status().ToString();
  EXPECT_THAT(huge.status().message(), HasSubstr("max_object_size"));
  EXPECT_FALSE(client_->IsExist("huge").value());
}

TEST_F(StoreLimitsTest, ReplicaNumOutsideOneToSixteenIsInvalidParams) {
  const std::vector<uint8_t> value = Pattern(100, 6);
  for (int n : {-1, 17, 1000}) {
    ReplicateConfig config;
    config.replica_num = n;
    const Status put = client_->Put("replicas", value, config);
    EXPECT_EQ(put.code(), StatusCode::kInvalidParams) << n << ": " << put.ToString();
    EXPECT_THAT(put.message(), HasSubstr("replica_num")) << n;
  }
  EXPECT_FALSE(client_->IsExist("replicas").value());
  // More replicas than nodes is best effort: one per node.
  ReplicateConfig three;
  three.replica_num = 3;
  ASSERT_TRUE(client_->Put("replicas", value, three).ok());
  EXPECT_TRUE(client_->Get("replicas").value() == value);
}

// client.h documents ReplicateConfig::replica_num as 1..16, like -1 and 17 above.
TEST_F(StoreLimitsTest, ReplicaNumZeroIsInvalidParams) {
  ReplicateConfig zero;
  zero.replica_num = 0;
  const Status put = client_->Put("zero-replicas", Pattern(100, 7), zero);
  EXPECT_EQ(put.code(), StatusCode::kInvalidParams) << put.ToString();
  EXPECT_THAT(put.message(), HasSubstr("replica_num"));
  EXPECT_FALSE(client_->IsExist("zero-replicas").value());
}

TEST_F(StoreLimitsTest, AnInvalidRegexIsInvalidParamsNamingIt) {
  auto removed = client_->RemoveByRegex("([unclosed");
  EXPECT_EQ(removed.status().code(), StatusCode::kInvalidParams) << removed.status().ToString();
  EXPECT_THAT(removed.status().message(), HasSubstr("([unclosed"));
}

// Puts into a full pool evict the least recently used objects rather than fail; what was
// evicted is gone (OBJECT_NOT_FOUND), what is left reads back exactly, pinned objects stay.
TEST_F(StoreLimitsTest, AFullPoolEvictsSoNewPutsSucceed) {
  constexpr int kPinned = 4;
  constexpr int kObjects = 3 * 64;  // 1 MiB each: three times the 64 MiB pool
  ReplicateConfig pinned;
  pinned.with_hard_pin = true;
  for (int i = 0; i < kPinned; ++i) {
    ASSERT_TRUE(client_->Put("pinned-" + std::to_string(i), Pattern(kMiB, 1000 + i), pinned).ok());
  }
  for (int i = 0; i < kObjects; ++i) {
    const Status put = client_->Put("fill-" + std::to_string(i), Pattern(kMiB, i));
    ASSERT_TRUE(put.ok()) << "put " << i << " into a full pool: " << put.ToString();
  }
  int evicted = 0;
  for (int i = 0; i < kObjects; ++i) {
    auto got = client_->Get("fill-" + std::to_string(i));
    if (got.ok()) {
      EXPECT_TRUE(*got == Pattern(kMiB, i)) << "fill-" << i << " has wrong bytes";
    } else {
      EXPECT_EQ(got.status().code(), StatusCode::kObjectNotFound) << got.status().ToString();
      ++evicted;
    }
  }
  EXPECT_GE(evicted, kObjects - 64);  // at least what could not fit
  auto info = admin_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->objects, uint64_t(kObjects - evicted + kPinned));  // the index agrees
  for (int i = kObjects - 8; i < kObjects; ++i) {  // the newest are never the ones evicted
    EXPECT_TRUE(client_->IsExist("fill-" + std::to_string(i)).value()) << i;
  }
  for (int i = 0; i < kPinned; ++i) {
    auto got = client_->Get("pinned-" + std::to_string(i));
    ASSERT_TRUE(got.ok()) << "pinned-" << i << ": " << got.status().ToString();
    EXPECT_TRUE(*got == Pattern(kMiB, 1000 + i));
  }
  RecordProperty("evicted", evicted);
}

}  // namespace
}  // namespace mooncake::store
