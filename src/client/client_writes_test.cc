// ClientImpl's write path against the master's real core in-process (in_process_store.h): the
// bytes land where PutStart placed them, and a put whose transfer failed is revoked at once
// rather than left for the master's put timeout.

#include <gtest/gtest.h>

#include <algorithm>

#include "client/in_process_store.h"

namespace mooncake::store {
namespace {

TEST(ClientWritesTest, PutWritesEveryReplicaWhereTheMasterPlacedIt) {
  InProcessStore store;
  store.AddNode("a");
  store.AddNode("b");
  auto client = store.NewClient();
  const std::vector<uint8_t> value = TestValue(5000, 1);
  ReplicateConfig two;
  two.replica_num = 2;
  ASSERT_TRUE(client->Put("k", value, two, PutMode::kCreate).ok());
  const master::ObjectView object = store.Lookup("k").value();
  ASSERT_EQ(object.replicas.size(), 2u);
  for (const master::ReplicaView& replica : object.replicas) {
    std::span<uint8_t> bytes = store.BytesOf(replica.allocation);
    EXPECT_TRUE(std::equal(value.begin(), value.end(), bytes.begin(), bytes.end()));
  }
  EXPECT_EQ(store.master().calls().put_revoke, 0u);
}

// A put whose bytes could not be written, by each write path: staged in one batch, zero-copy
// from registered memory, and in staging-sized pieces.
enum class WritePath { kStaged, kRegistered, kChunked };

class ClientRevokeTest : public ::testing::TestWithParam<WritePath> {};

TEST_P(ClientRevokeTest, FailedTransferRevokesThePut) {
  InProcessStore store;
  store.AddNode("a");
  auto client = store.NewClient();
  store.KillNode("a");  // the master still places replicas there
  const size_t size = GetParam() == WritePath::kChunked
                          ? InProcessStore::DefaultOptions().local_buffer_size + 1000
                          : 5000;
  std::vector<uint8_t> value = TestValue(size, 2);
  Status put;
  if (GetParam() == WritePath::kRegistered) {
    ASSERT_TRUE(client->RegisterBuffer(value.data(), value.size()).ok());
    put = client->PutFrom("k", value.data(), value.size(), {}, PutMode::kCreate);
    ASSERT_TRUE(client->UnregisterBuffer(value.data()).ok());
  } else {
    put = client->Put("k", value, {}, PutMode::kCreate);
  }
  EXPECT_EQ(put.code(), StatusCode::kTransferFail) << put.ToString();
  EXPECT_EQ(store.master().calls().put_revoke, 1u);
  EXPECT_EQ(store.master().calls().put_end, 0u);
  // Revoked: nothing pending, nothing held; without the revoke the put would hold its space
  // until the put timeout.
  store.master().WithCore([](master::MasterCore& core) {
    EXPECT_EQ(core.PendingPutCount(), 0u);
    EXPECT_EQ(core.ExistKey("k").value(), false);
    EXPECT_EQ(core.segment_pool().List().at(0).used, 0u);
  });
}

INSTANTIATE_TEST_SUITE_P(EveryWritePath, ClientRevokeTest,
                         ::testing::Values(WritePath::kStaged, WritePath::kRegistered,
                                           WritePath::kChunked));

}  // namespace
}  // namespace mooncake::store
