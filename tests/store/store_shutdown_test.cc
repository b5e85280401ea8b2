// SIGTERM under load with real processes (issue #20): a storage node without drain stops
// within 5 s while clients read from it; a node whose drain cannot finish stops at its
// --drain_timeout (plus the same 5 s); the master stops within 5 s with a node's heartbeat
// parked on it and clients reading.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store_test_cluster.h"
#include "store_test_values.h"

namespace mooncake::store {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

constexpr int kObjects = 16;
constexpr size_t kObjectBytes = 1 << 20;

std::string Key(int i) { return "shutdown/" + std::to_string(i); }

class StoreShutdownTest : public ::testing::Test {
 protected:
  void Start(StoreTestClusterOptions options) {
    auto cluster = StoreTestCluster::Start(std::move(options));
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    auto client = TestClient(cluster_->master_address());
    ASSERT_NE(client, nullptr);
    for (int i = 0; i < kObjects; ++i) {
      Status s = client->Put(Key(i), Pattern(kObjectBytes, i), ReplicateConfig{});
      ASSERT_TRUE(s.ok()) << Key(i) << ": " << s.ToString();
    }
  }

  // Readers, each with its own client, Get-ing the objects in a loop until StopReaders (or
  // 30 s); failures once the process under test is gone are expected and not counted.
  void StartReaders(int n) {
    for (int r = 0; r < n; ++r) {
      auto client = TestClient(cluster_->master_address());
      ASSERT_NE(client, nullptr);
      readers_.emplace_back([this, r, c = std::shared_ptr<Client>(std::move(client))] {
        const auto end = SteadyClock::now() + seconds(30);
        for (int i = r; !stop_.load() && SteadyClock::now() < end; ++i) {
          if (c->Get(Key(i % kObjects)).ok()) ++reads_;
        }
      });
    }
    // Reads are flowing before the signal.
    for (int i = 0; i < 250 && reads_.load() < 20; ++i)
      std::this_thread::sleep_for(milliseconds(20));
    ASSERT_GE(reads_.load(), 20u);
  }

  void StopReaders() {
    stop_ = true;
    for (std::thread& t : readers_) t.join();
    readers_.clear();
  }

  void TearDown() override { StopReaders(); }

  // SIGTERMs `process` and returns how long it took to exit (failing the test if it did not
  // exit 0 within `limit`).
  milliseconds TermAndTime(testing::ChildProcess& process, seconds limit) {
    const auto signalled = SteadyClock::now();
    process.Kill(SIGTERM);
    auto code = process.Wait(limit);
    const auto took = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - signalled);
    EXPECT_TRUE(code.ok()) << code.status().ToString() << "\n" << process.ReadLog();
    if (code.ok()) {
      EXPECT_EQ(*code, 0) << process.ReadLog();
    }
    EXPECT_NE(process.ReadLog().find("STOPPED"), std::string::npos) << process.ReadLog();
    return took;
  }

  std::unique_ptr<StoreTestCluster> cluster_;
  std::vector<std::thread> readers_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> reads_{0};
};

TEST_F(StoreShutdownTest, NodeWithoutDrainStopsWithin5sWhileClientsRead) {
  StoreTestClusterOptions options;
  options.nodes = 1;
  options.node_args = {"--drain_timeout=0"};
  ASSERT_NO_FATAL_FAILURE(Start(options));
  ASSERT_NO_FATAL_FAILURE(StartReaders(2));
  const milliseconds took = TermAndTime(cluster_->node(0), seconds(5));
  StopReaders();
  std::printf("node (no drain) exited %lld ms after SIGTERM, %llu reads served\n",
              static_cast<long long>(took.count()), static_cast<unsigned long long>(reads_.load()));
}

TEST_F(StoreShutdownTest, NodeDrainThatCannotFinishEndsAtItsTimeout) {
  // One node: its objects have nowhere to go, so the drain can only run out of time.
  StoreTestClusterOptions options;
  options.nodes = 1;
  options.node_args = {"--drain_timeout=2"};
  ASSERT_NO_FATAL_FAILURE(Start(options));
  ASSERT_NO_FATAL_FAILURE(StartReaders(2));
  const milliseconds took = TermAndTime(cluster_->node(0), seconds(2 + 5));
  StopReaders();
  EXPECT_GE(took, milliseconds(1900));
  EXPECT_NE(cluster_->node(0).ReadLog().find("DRAINED remaining=" + std::to_string(kObjects)),
            std::string::npos)
      << cluster_->node(0).ReadLog();
  std::printf("node (2 s drain, unfinishable) exited %lld ms after SIGTERM\n",
              static_cast<long long>(took.count()));
}

TEST_F(StoreShutdownTest, MasterStopsWithin5sWithHeartbeatsParkedAndClientsReading) {
  StoreTestClusterOptions options;
  options.nodes = 1;
  ASSERT_NO_FATAL_FAILURE(Start(options));
  ASSERT_NO_FATAL_FAILURE(StartReaders(2));
  const milliseconds took = TermAndTime(cluster_->master(), seconds(5));
  StopReaders();
  std::printf("master exited %lld ms after SIGTERM with a node and readers attached\n",
              static_cast<long long>(took.count()));
}

}  // namespace
}  // namespace mooncake::store
