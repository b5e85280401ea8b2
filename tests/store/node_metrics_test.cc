// mooncake_node --metrics_port: /metrics reports the node's manifest (objects and bytes it
// holds, kept in step with puts and removes through the master's journal), its heartbeats and
// capacity; /health answers. Real processes: master, node and a client.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "mooncake/store/client.h"
#include "store_test_cluster.h"
#include "store_test_values.h"
#include "testing/temp_dir.h"

namespace mooncake::store {
namespace {

using std::chrono::milliseconds;

// The value of the first sample of `family` whose labels contain `label` ("" = any).
std::optional<double> Sample(const std::string& text, const std::string& family,
                             const std::string& label) {
  const std::regex line("^" + family + "(\\{[^}]*\\})? ([0-9.e+-]+)$", std::regex::multiline);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator();
       ++it) {
    if (label.empty() || (*it)[1].str().find(label) != std::string::npos) {
      return std::stod((*it)[2].str());
    }
  }
  return std::nullopt;
}

class NodeMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreTestClusterOptions options;
    options.nodes = 1;
    options.node_metrics = true;
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
  }

  std::string Scrape() {
    httplib::Client http("127.0.0.1", cluster_->node_metrics_port(0));
    auto response = http.Get("/metrics");
    EXPECT_TRUE(response) << "no answer from the node's metrics port";
    return response ? response->body : "";
  }

  // Waits (bounded) until the node reports `objects` objects; returns the last scrape.
  std::string WaitForObjects(double objects) {
    std::string text;
    for (int i = 0; i < 300; ++i) {
      text = Scrape();
      if (Sample(text, "mooncake_node_objects", "") == objects) return text;
      std::this_thread::sleep_for(milliseconds(10));
    }
    ADD_FAILURE() << "the node never reported " << objects << " objects:\n" << text;
    return text;
  }

  std::unique_ptr<StoreTestCluster> cluster_;
};

TEST_F(NodeMetricsTest, ReportsTheObjectsItHoldsAndItsHeartbeats) {
  httplib::Client http("127.0.0.1", cluster_->node_metrics_port(0));
  auto health = http.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  std::string text = Scrape();
  EXPECT_EQ(Sample(text, "mooncake_node_objects", ""), 0.0);
  EXPECT_EQ(Sample(text, "mooncake_node_bytes", "kind=\"capacity\""), 96.0 * (1 << 20));

  ClientOptions options;
  options.master_address = cluster_->master_address();
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE((*client)->Put("m/" + std::to_string(i), Pattern(4096, i)).ok());
  }
  text = WaitForObjects(10);
  EXPECT_EQ(Sample(text, "mooncake_node_bytes", "kind=\"objects\""), 10.0 * 4096);
  EXPECT_GE(Sample(text, "mooncake_node_events_total", "manifest_change").value_or(0), 10.0);
  EXPECT_GT(Sample(text, "mooncake_node_events_total", "heartbeat_ok").value_or(0), 0.0);
  EXPECT_EQ(Sample(text, "mooncake_node_events_total", "remount"), 0.0);

  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*client)->Remove("m/" + std::to_string(i)).ok());
  text = WaitForObjects(6);
  EXPECT_EQ(Sample(text, "mooncake_node_bytes", "kind=\"objects\""), 6.0 * 4096);
}

TEST_F(NodeMetricsTest, CountsBytesServedToEachPeerOverTcp) {
  ClientOptions options;
  options.master_address = cluster_->master_address();
  options.protocol = "tcp";  // shared memory would bypass the node entirely
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*client)->Put("p/" + std::to_string(i), Pattern(4096, i)).ok());
  }
  for (int i = 0; i < 2; ++i) {
    auto value = (*client)->Get("p/" + std::to_string(i));
    ASSERT_TRUE(value.ok()) << value.status().ToString();
  }
  const std::string text = Scrape();
  EXPECT_EQ(Sample(text, "mooncake_node_peer_bytes_total", "direction=\"served_write\""),
            3.0 * 4096)
      << text;
  EXPECT_EQ(Sample(text, "mooncake_node_peer_bytes_total", "direction=\"served_read\""), 2.0 * 4096)
      << text;
}

// --ssd_sync (default on): every applied batch of SSD header writes is made durable with an
// fdatasync before the master hears of it; off, none is.
TEST(NodeSsdSyncTest, AppliedSsdHeadersAreSyncedUnlessTurnedOff) {
  for (const bool sync : {true, false}) {
    SCOPED_TRACE(sync ? "--ssd_sync=true" : "--ssd_sync=false");
    auto dir = testing::TempDir::Create("mc_ssd_sync");
    ASSERT_TRUE(dir.ok());
    StoreTestClusterOptions options;
    options.nodes = 1;
    options.segment_size = "1MiB";  // puts past it land on SSD
    options.ssd_dir = dir->path();
    options.ssd_size = "16MiB";
    options.node_metrics = true;
    options.node_args = {sync ? "--ssd_sync=true" : "--ssd_sync=false"};
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    ClientOptions client_options;
    client_options.master_address = (*cluster)->master_address();
    auto client = Client::Create(client_options);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE((*client)->Put("s/" + std::to_string(i), Pattern(400000, i)).ok()) << i;
    }
    // Wait (bounded) until the node applied the SSD objects' headers.
    httplib::Client http("127.0.0.1", (*cluster)->node_metrics_port(0));
    std::string text;
    std::optional<double> on_ssd;
    for (int i = 0; i < 300 && on_ssd.value_or(0) < 4; ++i) {
      auto response = http.Get("/metrics");
      ASSERT_TRUE(response);
      text = response->body;
      on_ssd = Sample(text, "mooncake_node_objects", "/ssd");
      std::this_thread::sleep_for(milliseconds(10));
    }
    ASSERT_GE(on_ssd.value_or(0), 4) << text;
    const std::optional<double> syncs = Sample(text, "mooncake_node_ssd", "what=\"syncs\"");
    ASSERT_TRUE(syncs.has_value()) << text;
    if (sync) {
      EXPECT_GE(*syncs, 1);
    } else {
      EXPECT_EQ(*syncs, 0);
    }
  }
}

}  // namespace
}  // namespace mooncake::store
