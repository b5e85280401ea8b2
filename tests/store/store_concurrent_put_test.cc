// Racing writers of one key, with real processes: a master and two nodes on loopback, and
// several store Clients in the test process (each with its own Transfer Engine, as separate
// processes would have) released at the same instant.
//   - Puts (create) of one key: exactly one wins, every other gets OBJECT_ALREADY_EXISTS, and
//     the stored bytes are the winner's, on every replica.
//   - The same through BatchPut of one key set: one winner per key.
//   - Upserts of one key, read all the while: every read and the final value is exactly one
//     writer's value (never a mix of two), and the stored checksum matches it.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <latch>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "store_test_cluster.h"
#include "store_test_values.h"

namespace mooncake::store {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class StoreConcurrentPutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = StoreTestCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
  }

  // `n` clients, each its own Transfer Engine and master channel.
  std::vector<std::unique_ptr<Client>> Clients(int n, const TestClientOptions& options = {}) {
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < n; ++i) {
      clients.push_back(TestClient(cluster_->master_address(), options));
      if (clients.back() == nullptr) return {};
    }
    return clients;
  }

  std::unique_ptr<StoreTestCluster> cluster_;
};

TEST_F(StoreConcurrentPutTest, ConcurrentPutsOfOneKeyExactlyOneWins) {
  constexpr int kWriters = 6;
  constexpr int kRounds = 8;
  constexpr size_t kSize = 512 << 10;  // long enough that the racers' puts overlap
  auto clients = Clients(kWriters, {.staging = 1 << 20});
  ASSERT_EQ(clients.size(), size_t{kWriters});
  ReplicateConfig two;
  two.replica_num = 2;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string key = "race-" + std::to_string(round);
    std::vector<std::vector<uint8_t>> values;
    for (int w = 0; w < kWriters; ++w) values.push_back(Pattern(kSize, round * 100 + w));
    std::vector<Status> results(kWriters);
    {
      std::latch start(kWriters);
      std::vector<std::jthread> writers;
      for (int w = 0; w < kWriters; ++w) {
        writers.emplace_back([&, w] {
          start.arrive_and_wait();
          results[w] = clients[w]->Put(key, values[w], two);
        });
      }
    }
    int winner = -1;
    for (int w = 0; w < kWriters; ++w) {
      if (results[w].ok()) {
        EXPECT_EQ(winner, -1) << "writers " << winner << " and " << w << " both won";
        winner = w;
        continue;
      }
      EXPECT_EQ(results[w].code(), StatusCode::kObjectAlreadyExists) << results[w].ToString();
      EXPECT_NE(results[w].message().find(key), std::string::npos) << results[w].ToString();
    }
    ASSERT_NE(winner, -1) << "no writer won";
    // Consecutive reads rotate over the replicas: both hold the winner's bytes.
    for (int read = 0; read < 2; ++read) {
      auto got = clients[(winner + 1 + read) % kWriters]->Get(key);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_TRUE(*got == values[winner])
          << "read " << read << " is not writer " << winner << "'s value";
    }
  }
  // Losers left nothing behind: one object per round.
  auto info = TestAdmin(cluster_->master_address())->GetClusterInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->objects, uint64_t{kRounds});
}

// The same race through BatchPut: every key of the batch has its own single winner, whose
// bytes are stored, whatever the other keys' outcomes.
TEST_F(StoreConcurrentPutTest, ConcurrentBatchPutsOfOneKeySetOneWinnerPerKey) {
  constexpr int kWriters = 4;
  constexpr int kKeys = 32;
  constexpr size_t kSize = 16 << 10;
  auto clients = Clients(kWriters, {.staging = 1 << 20});
  ASSERT_EQ(clients.size(), size_t{kWriters});
  std::vector<std::string> keys;
  for (int k = 0; k < kKeys; ++k) keys.push_back("batch-race-" + std::to_string(k));
  std::vector<std::vector<std::vector<uint8_t>>> values(kWriters);  // [writer][key]
  for (int w = 0; w < kWriters; ++w) {
    for (int k = 0; k < kKeys; ++k) values[w].push_back(Pattern(kSize, w * 1000 + k));
  }
  std::vector<std::vector<Status>> results(kWriters);
  {
    std::latch start(kWriters);
    std::vector<std::jthread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        std::vector<std::span<const uint8_t>> spans(values[w].begin(), values[w].end());
        start.arrive_and_wait();
        results[w] = clients[w]->BatchPut(keys, spans);
      });
    }
  }
  auto stored = clients[0]->BatchGet(keys);
  ASSERT_EQ(stored.size(), size_t{kKeys});
  for (int k = 0; k < kKeys; ++k) {
    SCOPED_TRACE(keys[k]);
    int winner = -1;
    for (int w = 0; w < kWriters; ++w) {
      ASSERT_EQ(results[w].size(), size_t{kKeys});
      if (results[w][k].ok()) {
        EXPECT_EQ(winner, -1) << "writers " << winner << " and " << w << " both won";
        winner = w;
      } else {
        EXPECT_EQ(results[w][k].code(), StatusCode::kObjectAlreadyExists)
            << results[w][k].ToString();
      }
    }
    ASSERT_NE(winner, -1) << "no writer won";
    ASSERT_TRUE(stored[k].ok()) << stored[k].status().ToString();
    EXPECT_TRUE(*stored[k] == values[winner][k]) << "not writer " << winner << "'s value";
  }
}

// A value that says who wrote it: bytes 0..3 the writer, 4..7 the attempt, then a pattern
// seeded by both.
std::vector<uint8_t> Tagged(size_t size, uint32_t writer, uint32_t attempt) {
  std::vector<uint8_t> v = Pattern(size, writer * 1000 + attempt + 1);
  std::memcpy(v.data(), &writer, 4);
  std::memcpy(v.data() + 4, &attempt, 4);
  return v;
}

TEST_F(StoreConcurrentPutTest, ConcurrentUpsertsLeaveOneWritersValueIntact) {
  constexpr uint32_t kWriters = 4;
  constexpr uint32_t kAttempts = 12;       // upserts per writer
  constexpr uint32_t kInitial = kWriters;  // the "writer" of the value put before the race
  constexpr size_t kSize = 256 << 10;
  constexpr auto kReadDeadline = std::chrono::seconds(10);
  constexpr int kMaxReads = 400;  // per reader
  const std::string key = "upserted";

  std::vector<std::vector<std::vector<uint8_t>>> values(kWriters + 1);
  for (uint32_t w = 0; w <= kWriters; ++w) {
    for (uint32_t a = 0; a < kAttempts; ++a) values[w].push_back(Tagged(kSize, w, a));
  }
  auto writers = Clients(kWriters, {.staging = 1 << 20});
  ASSERT_EQ(writers.size(), size_t{kWriters});
  // One reader compares raw bytes; the other also has the client check the stored CRC32C, so
  // a checksum that belongs to another version than the bytes shows up as CHECKSUM_MISMATCH.
  auto raw_reader = TestClient(cluster_->master_address(), {.staging = 1 << 20});
  auto crc_reader =
      TestClient(cluster_->master_address(), {.verify_checksum = true, .staging = 1 << 20});
  ASSERT_TRUE(raw_reader && crc_reader);

  ReplicateConfig two;
  two.replica_num = 2;
  ASSERT_TRUE(raw_reader->Put(key, values[kInitial][0], two).ok());

  // Which (writer, attempt) values were reported stored; the initial one was.
  std::vector<std::vector<char>> stored(kWriters + 1, std::vector<char>(kAttempts, 0));
  stored[kInitial][0] = 1;
  std::vector<std::vector<Status>> outcomes(kWriters, std::vector<Status>(kAttempts));
  std::atomic<bool> writing{true};
  std::atomic<int> reads{0};
  std::vector<std::string> read_errors[2];

  // A read must be exactly one of the values ever written (checked after the race, against
  // what was reported stored).
  auto identify = [&](const std::vector<uint8_t>& got, uint32_t* w, uint32_t* a) {
    if (got.size() != kSize) return false;
    std::memcpy(w, got.data(), 4);
    std::memcpy(a, got.data() + 4, 4);
    return *w <= kWriters && *a < kAttempts && got == values[*w][*a];
  };
  {
    std::latch start(kWriters + 2);
    std::vector<std::jthread> threads;
    for (uint32_t w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        start.arrive_and_wait();
        for (uint32_t a = 0; a < kAttempts; ++a) {
          outcomes[w][a] = writers[w]->Put(key, values[w][a], two, PutMode::kUpsert);
          stored[w][a] = outcomes[w][a].ok();
        }
      });
    }
    Client* readers[2] = {raw_reader.get(), crc_reader.get()};
    for (int r = 0; r < 2; ++r) {
      threads.emplace_back([&, r] {
        start.arrive_and_wait();
        const auto deadline = Clock::now() + kReadDeadline;
        for (int i = 0; i < kMaxReads && writing.load() && Clock::now() < deadline; ++i) {
          auto got = readers[r]->Get(key);
          reads.fetch_add(1);
          uint32_t w = 0, a = 0;
          if (!got.ok()) {
            read_errors[r].push_back(got.status().ToString());
          } else if (!identify(*got, &w, &a)) {
            read_errors[r].push_back("read " + std::to_string(i) +
                                     " is no writer's value (a mix or corrupt bytes)");
          }
        }
      });
    }
    for (uint32_t w = 0; w < kWriters; ++w) threads[w].join();
    writing = false;
  }

  int ok = 0;
  for (uint32_t w = 0; w < kWriters; ++w) {
    for (uint32_t a = 0; a < kAttempts; ++a) {
      const Status& s = outcomes[w][a];
      if (s.ok()) {
        ++ok;
      } else {
        // The one transient refusal: another upsert of the key is in flight.
        EXPECT_EQ(s.code(), StatusCode::kReplicaIsNotReady) << s.ToString();
      }
    }
  }
  EXPECT_GT(ok, 0) << "no upsert succeeded";
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(read_errors[r].empty())
        << (r == 0 ? "raw" : "crc") << " reader: " << read_errors[r].size() << " bad reads of "
        << reads.load() << ", first: " << read_errors[r].front();
  }
  // The final value, on both replicas, is one a writer was told was stored.
  for (Client* reader : {raw_reader.get(), crc_reader.get(), raw_reader.get()}) {
    auto got = reader->Get(key);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    uint32_t w = 0, a = 0;
    ASSERT_TRUE(identify(*got, &w, &a)) << "final value is no writer's value";
    EXPECT_TRUE(stored[w][a]) << "final value is writer " << w << " attempt " << a
                              << "'s, whose upsert failed: "
                              << (w < kWriters ? outcomes[w][a].ToString() : "");
  }
  RecordProperty("successful_upserts", ok);
  RecordProperty("concurrent_reads", reads.load());
}

}  // namespace
}  // namespace mooncake::store
