// ClientImpl's read path against the master's real core in-process (in_process_store.h): the
// location cache, the retry through the master of a read that failed on a cached location,
// replica order (memory before SSD, the next replica when one fails), and corrupt replicas
// reported. Each test runs through every read entry point (Get, GetInto, GetIntoRanges), which
// share one read pipeline.

#include <gtest/gtest.h>

#include <algorithm>

#include "client/client_read_test_util.h"
#include "client/in_process_store.h"

namespace mooncake::store {
namespace {

constexpr size_t kValueSize = 10000;

class ClientReadsTest : public ::testing::TestWithParam<ReadEntry> {
 protected:
  uint64_t Lookups() { return store_.master().calls().get_replica_list; }
  Result<std::vector<uint8_t>> Read(ClientImpl& client, const std::string& key) {
    return ReadVia(client, GetParam(), key, kValueSize);
  }
  // How many reads the fabric saw of node `node`'s engine.
  size_t ReadsOf(const std::string& node) {
    const std::string prefix = "read " + InProcessStore::EngineOf(node) + " ";
    const std::vector<std::string> log = store_.fabric().log();
    return std::count_if(log.begin(), log.end(),
                         [&](const std::string& line) { return line.rfind(prefix, 0) == 0; });
  }

  InProcessStore store_;
};

TEST_P(ClientReadsTest, HotKeyIsReadFromTheCachedLocationWithoutAskingTheMaster) {
  store_.AddNode("a");
  auto client = store_.NewClient();
  const std::vector<uint8_t> value = TestValue(kValueSize, 1);
  ASSERT_TRUE(client->Put("k", value, {}, PutMode::kCreate).ok());
  EXPECT_EQ(Read(*client, "k").value(), value);
  const uint64_t lookups = Lookups();
  EXPECT_EQ(Read(*client, "k").value(), value);
  EXPECT_EQ(Lookups(), lookups);
}

TEST_P(ClientReadsTest, StaleCachedLocationIsRetriedThroughTheMaster) {
  store_.AddNode("a");
  auto reader = store_.NewClient();
  auto writer = store_.NewClient();
  ASSERT_TRUE(writer->Put("k", TestValue(kValueSize, 1), {}, PutMode::kCreate).ok());
  ASSERT_TRUE(Read(*reader, "k").ok());  // caches the location on a
  // Node a dies and the master drops it; the key is written again, now on b. The reader's
  // cached location (on a) is still within its lease.
  store_.KillNode("a");
  store_.ForgetNode("a");
  store_.AddNode("b");
  const std::vector<uint8_t> fresh = TestValue(kValueSize, 2);
  ASSERT_TRUE(writer->Put("k", fresh, {}, PutMode::kUpsert).ok());
  const uint64_t lookups = Lookups();
  const size_t reads_of_a = ReadsOf("a");
  Result<std::vector<uint8_t>> read = Read(*reader, "k");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, fresh);
  EXPECT_GT(ReadsOf("a"), reads_of_a);  // the cached location was tried first
  EXPECT_EQ(Lookups(), lookups + 1);    // then the master asked, once
}

TEST_P(ClientReadsTest, LocationThatFailedIsNotReusedFromTheCache) {
  store_.AddNode("a");
  auto client = store_.NewClient();
  ASSERT_TRUE(client->Put("k", TestValue(kValueSize, 1), {}, PutMode::kCreate).ok());
  ASSERT_TRUE(Read(*client, "k").ok());
  // The master has not noticed yet: it lists the dead replica again on the retry.
  store_.KillNode("a");
  uint64_t lookups = Lookups();
  EXPECT_EQ(Read(*client, "k").status().code(), StatusCode::kTransferFail);
  EXPECT_EQ(Lookups(), lookups + 1);  // the cached try, then one retry through the master
  lookups = Lookups();
  EXPECT_EQ(Read(*client, "k").status().code(), StatusCode::kTransferFail);
  EXPECT_EQ(Lookups(), lookups + 1);  // no cached location left: straight to the master
}

TEST_P(ClientReadsTest, ReadMovesToTheNextReplicaWhenOneFails) {
  store_.AddNode("a");
  store_.AddNode("b");
  auto client = store_.NewClient();
  const std::vector<uint8_t> value = TestValue(kValueSize, 3);
  ReplicateConfig two;
  two.replica_num = 2;
  ASSERT_TRUE(client->Put("k", value, two, PutMode::kCreate).ok());
  ASSERT_EQ(store_.Lookup("k").value().replicas.size(), 2u);
  store_.KillNode("a");
  // Reads rotate over equal replicas, so within two reads one tries a first.
  for (int i = 0; i < 2; ++i) {
    Result<std::vector<uint8_t>> read = Read(*client, "k");
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(*read, value);
  }
  EXPECT_GT(ReadsOf("a"), 0u);
  EXPECT_EQ(store_.master().calls().report_corrupt, 0u);
}

TEST_P(ClientReadsTest, MemoryReplicaIsReadBeforeTheSsdOne) {
  store_.AddNode("a");
  store_.AddNode("b", Medium::kSsd);
  auto client = store_.NewClient();
  const std::vector<uint8_t> value = TestValue(kValueSize, 6);
  ReplicateConfig on_ssd;
  on_ssd.medium = Medium::kSsd;
  ASSERT_TRUE(client->Put("k", value, on_ssd, PutMode::kCreate).ok());
  // Hot on SSD: the master promotes it into memory on node a (a copy task a runs).
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(store_.Lookup("k").ok());
  store_.master().WithCore([](master::MasterCore& core) { core.Tick(); });
  store_.RunCopyTasks("a");
  ASSERT_EQ(store_.Lookup("k").value().replicas.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const size_t before = store_.fabric().log().size();
    EXPECT_EQ(Read(*client, "k").value(), value);
    const std::vector<std::string> log = store_.fabric().log();
    ASSERT_GT(log.size(), before);
    EXPECT_EQ(log[before].rfind("read a:1 ", 0), 0u) << log[before];
    EXPECT_EQ(ReadsOf("b"), 0u);
  }
  // With the memory replica gone, the SSD one serves.
  store_.KillNode("a");
  EXPECT_EQ(Read(*client, "k").value(), value);
  EXPECT_GT(ReadsOf("b"), 0u);
}

TEST_P(ClientReadsTest, CorruptReplicaIsReportedAndTheReadMovesOn) {
  store_.AddNode("a");
  store_.AddNode("b");
  auto client = store_.NewClient();
  const std::vector<uint8_t> value = TestValue(kValueSize, 4);
  ReplicateConfig two;
  two.replica_num = 2;
  ASSERT_TRUE(client->Put("k", value, two, PutMode::kCreate).ok());
  const master::ObjectView listed = store_.Lookup("k").value();
  ASSERT_EQ(listed.replicas.size(), 2u);
  store_.BytesOf(listed.replicas[0].allocation)[1] ^= 0x5a;
  for (int i = 0; i < 2; ++i) {
    Result<std::vector<uint8_t>> read = Read(*client, "k");
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(*read, value);
  }
  // The object is one checksum block, so both of GetIntoRanges' ranges check (and report) the
  // damaged replica, in one report to the master.
  EXPECT_EQ(client->read_integrity_stats().corrupt_replicas,
            GetParam() == ReadEntry::kGetIntoRanges ? 2u : 1u);
  EXPECT_EQ(store_.master().calls().report_corrupt, 1u);
  // The master dropped the damaged replica.
  const master::ObjectView after = store_.Lookup("k").value();
  ASSERT_EQ(after.replicas.size(), 1u);
  EXPECT_EQ(after.replicas[0].node, listed.replicas[1].node);
}

TEST_P(ClientReadsTest, CorruptLastReplicaFailsWithTheMismatchNotTheRetrysNotFound) {
  store_.AddNode("a");
  auto client = store_.NewClient();
  ASSERT_TRUE(client->Put("k", TestValue(kValueSize, 7), {}, PutMode::kCreate).ok());
  const master::ObjectView listed = store_.Lookup("k").value();
  ASSERT_TRUE(Read(*client, "k").ok());  // caches the location
  store_.BytesOf(listed.replicas[0].allocation)[2] ^= 0x01;
  // The cached read finds the only replica corrupt and reports it; the master erases the
  // object, so the retry through the master finds nothing. The caller learns why.
  EXPECT_EQ(Read(*client, "k").status().code(), StatusCode::kChecksumMismatch);
  EXPECT_EQ(store_.master().calls().report_corrupt, 1u);
  EXPECT_EQ(store_.Lookup("k").status().code(), StatusCode::kObjectNotFound);
}

TEST_P(ClientReadsTest, MissingKeyIsNotFound) {
  store_.AddNode("a");
  auto client = store_.NewClient();
  EXPECT_EQ(Read(*client, "absent").status().code(), StatusCode::kObjectNotFound);
}

INSTANTIATE_TEST_SUITE_P(EveryReadEntry, ClientReadsTest,
                         ::testing::Values(ReadEntry::kGet, ReadEntry::kGetInto,
                                           ReadEntry::kGetIntoRanges),
                         [](const auto& info) { return ReadEntryName(info.param); });

TEST(ClientBatchReadsTest, BatchGetLooksUpEveryKeyInOneRequest) {
  InProcessStore store;
  store.AddNode("a");
  auto client = store.NewClient();
  ASSERT_TRUE(client->Put("x", TestValue(100, 1), {}, PutMode::kCreate).ok());
  ASSERT_TRUE(client->Put("y", TestValue(200, 2), {}, PutMode::kCreate).ok());
  const uint64_t lookups = store.master().calls().get_replica_list;
  auto results = client->BatchGet({"x", "missing", "y"});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].value(), TestValue(100, 1));
  EXPECT_EQ(results[1].status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(results[2].value(), TestValue(200, 2));
  EXPECT_EQ(store.master().calls().get_replica_list, lookups + 1);
}

TEST(ClientBatchReadsTest, ObjectLargerThanStagingIsReadInPieces) {
  InProcessStore store;
  store.AddNode("a");
  auto client = store.NewClient();
  const std::vector<uint8_t> value =
      TestValue(InProcessStore::DefaultOptions().local_buffer_size * 2 + 123, 5);
  ASSERT_TRUE(client->Put("big", value, {}, PutMode::kCreate).ok());
  EXPECT_EQ(client->Get("big").value(), value);
}

}  // namespace
}  // namespace mooncake::store
