// Multi-NIC aggregation on emulated hosts: two network namespaces joined by two 1 Gbit veth
// links, a target and an initiator (transfer_engine_bench processes) each given both NICs.
// Not a timing test: it checks, from the links' own byte counters, that both links carried a
// substantial share, and that cutting one mid-transfer moves its slices to the other.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "netns/netns_topology.h"
#include "testing/binary_path.h"
#include "testing/free_port.h"
#include "testing/process_launcher.h"

namespace mooncake::integration {
namespace {

constexpr char kA1[] = "10.250.1.1";
constexpr char kA2[] = "10.250.2.1";
constexpr char kB1[] = "10.250.1.2";
constexpr char kB2[] = "10.250.2.2";

class MultiNicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason = netns::NetnsTopology::SkipReason();
    if (!reason.empty()) GTEST_SKIP() << "needs network namespaces: " << reason;
    auto topo = netns::NetnsTopology::Create();
    ASSERT_TRUE(topo.ok()) << topo.status().ToString();
    topo_ = std::move(*topo);
    ASSERT_TRUE(topo_->AddHost("a").ok());
    ASSERT_TRUE(topo_->AddHost("b").ok());
    Status s = topo_->Link("a", std::string(kA1) + "/24", "b", std::string(kB1) + "/24",
                           netns::OneGbitLink());
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = topo_->Link("a", std::string(kA2) + "/24", "b", std::string(kB2) + "/24",
                    netns::OneGbitLink());
    ASSERT_TRUE(s.ok()) << s.ToString();

    port_ = testing::PickFreeTcpPort().value();
    segment_ = std::string(kB1) + ":" + std::to_string(port_);
    testing::ProcessOptions target;
    target.binary = testing::BinaryPath("transfer_engine_bench");
    target.args = {"--mode=target", "--local_server_name=" + segment_,
                   std::string("--nics=") + kB1 + "," + kB2, "--buffer_size=64MiB"};
    auto in_b = topo_->InHost("b", target);
    ASSERT_TRUE(in_b.ok()) << in_b.status().ToString();
    auto started = testing::ChildProcess::Start(*in_b);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    target_ = std::move(*started);
    Status ready = target_->WaitForLine("READY", std::chrono::seconds(15));
    ASSERT_TRUE(ready.ok()) << ready.ToString();
  }

  std::unique_ptr<testing::ChildProcess> StartInitiator(std::vector<std::string> extra) {
    testing::ProcessOptions initiator;
    initiator.binary = testing::BinaryPath("transfer_engine_bench");
    initiator.args = {
        "--mode=initiator",    "--segment_id=" + segment_, std::string("--nics=") + kA1 + "," + kA2,
        "--buffer_size=64MiB", "--block_size=1048576",     "--batch_size=16"};
    initiator.args.insert(initiator.args.end(), extra.begin(), extra.end());
    auto in_a = topo_->InHost("a", initiator);
    EXPECT_TRUE(in_a.ok()) << in_a.status().ToString();
    if (!in_a.ok()) return nullptr;
    auto started = testing::ChildProcess::Start(*in_a);
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    return started.ok() ? std::move(*started) : nullptr;
  }

  // Bytes received by host a on the link with local address `address`.
  uint64_t RxBytes(const char* address) {
    auto c = topo_->Counters("a", address);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c->rx_bytes : 0;
  }

  std::unique_ptr<netns::NetnsTopology> topo_;
  uint16_t port_ = 0;
  std::string segment_;
  std::unique_ptr<testing::ChildProcess> target_;
};

TEST_F(MultiNicTest, ReadsAreSpreadOverBothLinks) {
  const uint64_t before1 = RxBytes(kA1), before2 = RxBytes(kA2);
  auto initiator = StartInitiator({"--operation=read", "--duration=1.5"});
  ASSERT_NE(initiator, nullptr);
  auto code = initiator->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  std::string log = initiator->ReadLog();
  ASSERT_EQ(*code, 0) << log;
  EXPECT_NE(log.find("verified=yes"), std::string::npos) << log;

  const double link1 = static_cast<double>(RxBytes(kA1) - before1);
  const double link2 = static_cast<double>(RxBytes(kA2) - before2);
  ASSERT_GT(link1 + link2, 50e6) << log;  // 1.5 s over 2 Gbit/s moves far more
  EXPECT_GT(link1 / (link1 + link2), 0.3) << "link1=" << link1 << " link2=" << link2;
  EXPECT_GT(link2 / (link1 + link2), 0.3) << "link1=" << link1 << " link2=" << link2;
}

TEST_F(MultiNicTest, LinkCutMidTransferMovesSlicesToTheOtherLink) {
  // The far end goes down: no reset, no route change on our side, only silence. The progress
  // timeout (1 s) must notice, retry the slices on link 1, and the run must still complete.
  auto initiator =
      StartInitiator({"--operation=write", "--duration=4", "--transfer_timeout_ms=1000"});
  ASSERT_NE(initiator, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  Status cut = topo_->SetLinkState("b", kB2, netns::LinkState::kDown);
  ASSERT_TRUE(cut.ok()) << cut.ToString();
  const uint64_t link1_at_cut = topo_->Counters("a", kA1)->tx_bytes;

  auto code = initiator->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  std::string log = initiator->ReadLog();
  ASSERT_EQ(*code, 0) << log;
  EXPECT_NE(log.find("verified=yes"), std::string::npos) << log;
  // The cut was noticed while slices were in flight on link 2, and they were retried.
  EXPECT_NE(log.find("retrying"), std::string::npos) << log;
  // After the cut, link 1 carried on (well over a second at up to 1 Gbit/s).
  EXPECT_GT(topo_->Counters("a", kA1)->tx_bytes - link1_at_cut, 20e6) << log;
}

}  // namespace
}  // namespace mooncake::integration
