// mooncake_node --metrics_port: /metrics reports the node's manifest (objects and bytes it
// holds, kept in step with puts and removes through the master's journal), its heartbeats and
// capacity; /health answers. Real processes: master, node and a client.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mooncake/store/client.h"
#include "store_test_cluster.h"
#include "store_test_values.h"
#include "testing/binary_path.h"
#include "testing/free_port.h"
#include "testing/net_probe.h"
#include "testing/process_launcher.h"
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

// Secure by default: a node without a cluster secret serves its metrics and its Transfer Engine
// on loopback unless told otherwise, and then warns once, naming every exposed address.
TEST(NodeSecureDefaultsTest, WithoutSecretServesOnLoopbackAndWarnsOnceWhenExposed) {
  StoreTestClusterOptions cluster_options;
  cluster_options.nodes = 0;
  auto cluster = StoreTestCluster::Start(cluster_options);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto start_node = [&](const std::string& listen, std::vector<std::string> extra) {
    testing::ProcessOptions node;
    node.binary = testing::BinaryPath("mooncake_node");
    node.args = {"--master=" + (*cluster)->master_address(), "--listen=" + listen,
                 "--segment_size=16MiB", "--drain_timeout=0"};
    node.args.insert(node.args.end(), extra.begin(), extra.end());
    auto child = testing::ChildProcess::Start(node);
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    if (!child.ok()) return std::unique_ptr<testing::ChildProcess>();
    const Status ready = (*child)->WaitForLine("READY", std::chrono::seconds(30));
    EXPECT_TRUE(ready.ok()) << ready.ToString();
    return ready.ok() ? std::move(*child) : nullptr;
  };
  constexpr char kOpenWarning[] = "open to anyone";

  const uint16_t metrics = testing::PickFreeTcpPort().value();
  const uint16_t engine = testing::PickFreeTcpPort().value();
  auto local = start_node("127.0.0.1:" + std::to_string(engine),
                          {"--metrics_port=" + std::to_string(metrics)});
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(testing::ListeningAddresses(metrics), std::set<std::string>{"127.0.0.1"});
  EXPECT_EQ(testing::ListeningAddresses(engine), std::set<std::string>{"127.0.0.1"});
  EXPECT_EQ(local->ReadLog().find(kOpenWarning), std::string::npos) << local->ReadLog();

  // Exposed: the metrics on every interface, the engine on the host's address when it has one.
  const std::optional<std::string> address = testing::NonLoopbackAddress();
  const uint16_t exposed_metrics = testing::PickFreeTcpPort().value();
  const std::string listen = address.value_or("127.0.0.1") + ":0";
  auto exposed = start_node(
      listen, {"--metrics_port=" + std::to_string(exposed_metrics), "--metrics_host=0.0.0.0"});
  ASSERT_NE(exposed, nullptr);
  const std::string log = exposed->ReadLog();
  const size_t first = log.find(kOpenWarning);
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find(kOpenWarning, first + 1), std::string::npos) << "one warning only: " << log;
  EXPECT_NE(log.find("0.0.0.0:" + std::to_string(exposed_metrics)), std::string::npos) << log;
  if (address) EXPECT_NE(log.find("listens on " + *address + ":"), std::string::npos) << log;
}

}  // namespace
}  // namespace mooncake::store
