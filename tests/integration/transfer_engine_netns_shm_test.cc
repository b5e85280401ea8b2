// Same-host detection with emulated hosts: a target and an initiator in two network
// namespaces are two hosts (their host ids differ in the namespace inode), so `auto` moves the
// bytes over the veth link and `shm` is refused; in the target's own namespace `shm` works.
// Needs root (skips visibly otherwise).

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "netns/netns_topology.h"
#include "testing/binary_path.h"
#include "testing/free_port.h"
#include "testing/process_launcher.h"

namespace mooncake::integration {
namespace {

constexpr char kA[] = "10.250.7.1";
constexpr char kB[] = "10.250.7.2";

class NetnsShmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason = netns::NetnsTopology::SkipReason();
    if (!reason.empty()) GTEST_SKIP() << "needs network namespaces: " << reason;
    auto topo = netns::NetnsTopology::Create();
    ASSERT_TRUE(topo.ok()) << topo.status().ToString();
    topo_ = std::move(*topo);
    ASSERT_TRUE(topo_->AddHost("a").ok());
    ASSERT_TRUE(topo_->AddHost("b").ok());
    Status s = topo_->Link("a", std::string(kA) + "/24", "b", std::string(kB) + "/24");
    ASSERT_TRUE(s.ok()) << s.ToString();
    segment_ = std::string(kB) + ":" + std::to_string(testing::PickFreeTcpPort().value());
    testing::ProcessOptions target;
    target.binary = testing::BinaryPath("transfer_engine_bench");
    target.args = {"--mode=target", "--local_server_name=" + segment_, "--buffer_size=64MiB"};
    auto started = testing::ChildProcess::Start(topo_->InHost("b", target).value());
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    target_ = std::move(*started);
    Status ready = target_->WaitForLine("READY", std::chrono::seconds(15));
    ASSERT_TRUE(ready.ok()) << ready.ToString();
  }

  // Runs a 0.5 s read initiator in `host`; returns its exit code and log.
  std::pair<int, std::string> RunInitiator(const char* host, const std::string& protocol) {
    testing::ProcessOptions initiator;
    initiator.binary = testing::BinaryPath("transfer_engine_bench");
    initiator.args = {"--mode=initiator",       "--segment_id=" + segment_,
                      "--protocol=" + protocol, "--operation=read",
                      "--buffer_size=64MiB",    "--block_size=1048576",
                      "--batch_size=16",        "--duration=0.5"};
    auto started = testing::ChildProcess::Start(topo_->InHost(host, initiator).value());
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    if (!started.ok()) return {-1, ""};
    auto code = (*started)->Wait(std::chrono::seconds(60));
    EXPECT_TRUE(code.ok()) << code.status().ToString();
    return {code.ok() ? *code : -1, (*started)->ReadLog()};
  }

  std::unique_ptr<netns::NetnsTopology> topo_;
  std::string segment_;
  std::unique_ptr<testing::ChildProcess> target_;
};

TEST_F(NetnsShmTest, AutoAcrossNamespacesMovesBytesOverTheLink) {
  const uint64_t before = topo_->Counters("a", kA)->rx_bytes;
  auto [code, log] = RunInitiator("a", "auto");
  ASSERT_EQ(code, 0) << log;
  EXPECT_NE(log.find("verified=yes"), std::string::npos) << log;
  // Every byte read crossed the veth: far more than the 64 MiB buffer in 0.5 s.
  EXPECT_GT(topo_->Counters("a", kA)->rx_bytes - before, 64u << 20) << log;
}

TEST_F(NetnsShmTest, ShmAcrossNamespacesIsRefusedClearly) {
  auto [code, log] = RunInitiator("a", "shm");
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(log.find("another host"), std::string::npos) << log;
  EXPECT_NE(log.find(segment_), std::string::npos) << log;
}

TEST_F(NetnsShmTest, ShmInTheTargetsOwnNamespaceWorks) {
  const uint64_t before = topo_->Counters("b", kB)->tx_bytes;
  auto [code, log] = RunInitiator("b", "shm");
  ASSERT_EQ(code, 0) << log;
  EXPECT_NE(log.find("verified=yes"), std::string::npos) << log;
  EXPECT_LT(topo_->Counters("b", kB)->tx_bytes - before, 1u << 20) << log;  // not the link
}

}  // namespace
}  // namespace mooncake::integration
