// The store across hosts: mooncake_master, two mooncake_node and the `mooncake` CLI as a
// client, each in its own network namespace (an emulated host, tests/netns) on its own
// 10.250.x.2 address, joined through a router namespace; Transfer Engine over --protocol=tcp.
// Nothing can fall back to loopback or shared memory: every byte crosses the veth links.
// Needs root (skips visibly otherwise); every namespace and process goes with the fixture.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "netns/netns_topology.h"
#include "store_test_cluster.h"
#include "testing/binary_path.h"
#include "testing/temp_dir.h"

namespace mooncake::store {
namespace {

using ::testing::HasSubstr;

constexpr std::chrono::seconds kCliTimeout{30};

// One emulated host: its namespace's short name, its address, and the router's address on
// the same /24 (its default gateway).
struct Host {
  const char* name;
  const char* address;
  const char* gateway;
};
constexpr Host kMaster{"master", "10.250.61.2", "10.250.61.1"};
constexpr Host kNode0{"node0", "10.250.62.2", "10.250.62.1"};
constexpr Host kNode1{"node1", "10.250.63.2", "10.250.63.1"};
constexpr Host kClient{"client", "10.250.64.2", "10.250.64.1"};
constexpr char kRouter[] = "router";

// Fails the test (and returns) when `expr`, a Status, is not OK.
#define MC_ASSERT_STATUS_OK(expr)                                           \
  do {                                                                      \
    const ::mooncake::Status mc_status_ = (expr);                           \
    ASSERT_TRUE(mc_status_.ok()) << #expr << ": " << mc_status_.ToString(); \
  } while (0)

struct CliRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class StoreCrossHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string reason = netns::NetnsTopology::SkipReason(); !reason.empty()) {
      GTEST_SKIP() << "needs network namespaces: " << reason;
    }
    auto topo = netns::NetnsTopology::Create();
    ASSERT_TRUE(topo.ok()) << topo.status().ToString();
    topo_ = std::move(*topo);
    ASSERT_TRUE(topo_->AddHost(kRouter).ok());
    MC_ASSERT_STATUS_OK(topo_->Run(kRouter, {"sysctl", "-qw", "net.ipv4.ip_forward=1"}));
    for (const Host& host : {kMaster, kNode0, kNode1, kClient}) {
      ASSERT_TRUE(topo_->AddHost(host.name).ok()) << host.name;
      MC_ASSERT_STATUS_OK(topo_->Link(host.name, std::string(host.address) + "/24", kRouter,
                                      std::string(host.gateway) + "/24"));
      MC_ASSERT_STATUS_OK(
          topo_->Run(host.name, {"ip", "route", "add", "default", "via", host.gateway}));
    }
    StoreTestClusterOptions options;
    options.segment_size = "32MiB";
    options.master_host = kMaster.address;
    options.node_hosts = {kNode0.address, kNode1.address};
    options.node_protocol = "tcp";
    options.launcher = [this](const std::string& role, testing::ProcessOptions process) {
      return topo_->InHost(role, std::move(process));
    };
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    auto dir = testing::TempDir::Create("store_cross_host_test");
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
  }

  // `mooncake --master=… --protocol=tcp ARGS` run inside the client's namespace.
  CliRun Cli(const std::vector<std::string>& args) {
    testing::ProcessOptions process;
    process.binary = testing::BinaryPath("mooncake");
    process.args = {"--master=" + cluster_->master_address(), "--protocol=tcp",
                    "--local_hostname=" + std::string(kClient.address) + ":0", "--timeout_ms=5000"};
    process.args.insert(process.args.end(), args.begin(), args.end());
    CliRun run;
    auto in_client = topo_->InHost(kClient.name, process);
    if (!in_client.ok()) {
      run.output = in_client.status().ToString();
      return run;
    }
    auto child = testing::ChildProcess::Start(*in_client);
    if (!child.ok()) {
      run.output = child.status().ToString();
      return run;
    }
    auto code = (*child)->Wait(kCliTimeout);
    run.exit_code = code.ok() ? *code : -1;
    run.output = (*child)->ReadLog();
    return run;
  }

  // Bytes received so far by `host`'s end of its link.
  uint64_t RxBytes(const Host& host) {
    auto counters = topo_->Counters(host.name, host.address);
    EXPECT_TRUE(counters.ok()) << counters.status().ToString();
    return counters.ok() ? counters->rx_bytes : 0;
  }

  std::string File(const std::string& name) const { return dir_->File(name); }

  // Declared first so it is destroyed last: the cluster's processes go before their namespaces
  // (which the topology would also kill them with).
  std::unique_ptr<netns::NetnsTopology> topo_;
  std::unique_ptr<StoreTestCluster> cluster_;
  std::unique_ptr<testing::TempDir> dir_;
};

TEST_F(StoreCrossHostTest, ClientPutsAndGetsAcrossHostsOverTcp) {
  // A replicated object first, into the empty pool: one copy must cross each node's link.
  const std::string big = RandomBytes(3 << 20, 1);
  WriteFile(File("big.in"), big);
  const uint64_t rx0 = RxBytes(kNode0);
  const uint64_t rx1 = RxBytes(kNode1);
  CliRun put = Cli({"put", "cross/big", File("big.in"), "--replica_num=2"});
  ASSERT_EQ(put.exit_code, 0) << put.output;
  EXPECT_GE(RxBytes(kNode0) - rx0, big.size()) << "node0's copy did not cross its link";
  EXPECT_GE(RxBytes(kNode1) - rx1, big.size()) << "node1's copy did not cross its link";

  const std::string small = RandomBytes(4096, 2);
  const std::string tiny = RandomBytes(1, 3);
  WriteFile(File("small.in"), small);
  WriteFile(File("tiny.in"), tiny);
  ASSERT_EQ(Cli({"put", "cross/small", File("small.in")}).exit_code, 0);
  ASSERT_EQ(Cli({"put", "cross/tiny", File("tiny.in")}).exit_code, 0);

  for (const auto& [key, bytes] : std::vector<std::pair<std::string, const std::string*>>{
           {"cross/big", &big}, {"cross/small", &small}, {"cross/tiny", &tiny}}) {
    const std::string out = File(key.substr(6) + ".out");
    CliRun get = Cli({"get", key, out});
    ASSERT_EQ(get.exit_code, 0) << key << ": " << get.output;
    EXPECT_TRUE(ReadFile(out) == *bytes) << key << " came back different";
  }

  // The master sees both nodes at their own addresses, each holding a copy of the big object.
  CliRun stat = Cli({"stat"});
  ASSERT_EQ(stat.exit_code, 0) << stat.output;
  EXPECT_THAT(stat.output, HasSubstr("nodes: 2  segments: 2  objects: 3"));
  EXPECT_THAT(stat.output, HasSubstr(cluster_->node_name(0)));
  EXPECT_THAT(stat.output, HasSubstr(cluster_->node_name(1)));
  CliRun ls = Cli({"ls", "cross/"});
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_THAT(ls.output, HasSubstr("cross/big\ncross/small\ncross/tiny\n"));

  // The copy on node1 alone serves the object once node0 is gone.
  cluster_->node(0).Kill(SIGKILL);
  CliRun survivor = Cli({"get", "cross/big", File("survivor.out")});
  ASSERT_EQ(survivor.exit_code, 0) << survivor.output;
  EXPECT_TRUE(ReadFile(File("survivor.out")) == big) << "node1's replica has other bytes";

  // And the CLI's errors are the same across hosts.
  CliRun missing = Cli({"get", "cross/never-put", File("missing.out")});
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("key not found: cross/never-put"));
  CliRun rm = Cli({"rm", "cross/small", "--force"});
  EXPECT_EQ(rm.exit_code, 0) << rm.output;
  EXPECT_EQ(Cli({"exists", "cross/small"}).exit_code, 1);
}

TEST_F(StoreCrossHostTest, EachNodeHoldsOneReplicaOfEveryReplicatedObject) {
  // Four 2 MiB objects with two replicas each in an empty pool: each node's segment must then
  // hold exactly 8 MiB (one copy of each), as `mooncake stat` reports per node.
  for (int i = 0; i < 4; ++i) {
    WriteFile(File("v"), RandomBytes(2 << 20, 10 + i));
    CliRun put = Cli({"put", "rep-" + std::to_string(i), File("v"), "--replica_num=2"});
    ASSERT_EQ(put.exit_code, 0) << put.output;
  }
  CliRun stat = Cli({"stat"});
  ASSERT_EQ(stat.exit_code, 0) << stat.output;
  for (int node = 0; node < 2; ++node) {
    SCOPED_TRACE(cluster_->node_name(node));
    // The per-segment row: "<segment> <node> DRAM <used> <capacity> <use>".
    const std::string name = cluster_->node_name(node);
    const size_t row = stat.output.rfind("\n  " + name);
    ASSERT_NE(row, std::string::npos) << stat.output;
    const std::string line = stat.output.substr(row + 1, stat.output.find('\n', row + 1) - row - 1);
    EXPECT_THAT(line, HasSubstr(" 8 MiB ")) << stat.output;   // used
    EXPECT_THAT(line, HasSubstr(" 32 MiB ")) << stat.output;  // capacity
  }
}

}  // namespace
}  // namespace mooncake::store
