// mooncake_master as a process: READY line, flags and config file validation, a busy port,
// SIGTERM, and a restart on the same ports right after kill -9 (SO_REUSEADDR, no REUSEPORT).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "master/client/master_client.h"
#include "testing/binary_path.h"
#include "testing/free_port.h"
#include "testing/process_launcher.h"
#include "testing/temp_dir.h"

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr seconds kStartTimeout{20};

struct Ports {
  uint16_t rpc = 0;
  uint16_t metrics = 0;
};

Ports FreePorts() {
  return {testing::PickFreeTcpPort().value(), testing::PickFreeTcpPort().value()};
}

std::vector<std::string> PortArgs(const Ports& ports) {
  return {"--host=127.0.0.1", "--port=" + std::to_string(ports.rpc),
          "--metrics_port=" + std::to_string(ports.metrics)};
}

std::unique_ptr<testing::ChildProcess> StartMaster(std::vector<std::string> args) {
  testing::ProcessOptions options;
  options.binary = testing::BinaryPath("mooncake_master");
  options.args = std::move(args);
  auto child = testing::ChildProcess::Start(options);
  EXPECT_TRUE(child.ok()) << child.status().ToString();
  return child.ok() ? std::move(*child) : nullptr;
}

std::unique_ptr<MasterClient> ClientFor(uint16_t port) {
  MasterClientOptions options;
  options.master_address = "127.0.0.1:" + std::to_string(port);
  options.rpc_timeout = milliseconds(3000);
  return std::move(MasterClient::Create(options).value());
}

// Runs the master with `args` expecting it to refuse to start; returns its output.
std::string ExpectStartFailure(std::vector<std::string> args) {
  auto master = StartMaster(std::move(args));
  if (master == nullptr) return "";
  auto code = master->Wait(seconds(20));
  EXPECT_TRUE(code.ok());
  if (code.ok()) {
    EXPECT_NE(*code, 0);
  }
  return master->ReadLog();
}

TEST(MasterProcessTest, ServesAfterReadyAndStopsOnSigterm) {
  const Ports ports = FreePorts();
  auto master = StartMaster(PortArgs(ports));
  ASSERT_NE(master, nullptr);
  ASSERT_TRUE(master->WaitForLine("READY", kStartTimeout).ok()) << master->ReadLog();
  EXPECT_THAT(master->ReadLog(), HasSubstr("READY port=" + std::to_string(ports.rpc) +
                                           " metrics_port=" + std::to_string(ports.metrics)));

  auto client = ClientFor(ports.rpc);
  ASSERT_TRUE(client->Ping().ok());
  ASSERT_TRUE(client->MountSegment({"seg", "node", 1, Medium::kDram, 4096, 1 << 20}).ok());
  ASSERT_TRUE(client->PutStart("k", 100, ReplicateConfig{}).ok());
  ASSERT_TRUE(client->PutEnd("k", 1).ok());

  httplib::Client http("127.0.0.1", ports.metrics);
  auto health = http.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  master->Kill(SIGTERM);
  auto code = master->Wait(seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << master->ReadLog();
  EXPECT_THAT(master->ReadLog(), HasSubstr("STOPPED"));
}

TEST(MasterProcessTest, RestartsOnTheSamePortsRightAfterKill9) {
  const Ports ports = FreePorts();
  auto master = StartMaster(PortArgs(ports));
  ASSERT_NE(master, nullptr);
  ASSERT_TRUE(master->WaitForLine("READY", kStartTimeout).ok()) << master->ReadLog();
  // Live connections on both ports, so the kill leaves sockets behind in TIME_WAIT.
  auto client = ClientFor(ports.rpc);
  ASSERT_TRUE(client->Ping().ok());
  httplib::Client http("127.0.0.1", ports.metrics);
  ASSERT_TRUE(http.Get("/metrics"));

  master->Kill(SIGKILL);
  auto again = StartMaster(PortArgs(ports));
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->WaitForLine("READY", kStartTimeout).ok()) << again->ReadLog();
  // A new master: a new incarnation, an empty index (nodes re-announce what they hold).
  bool pinged = false;
  for (int i = 0; i < 50 && !pinged; ++i) {
    pinged = client->Ping().ok();
    if (!pinged) std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(pinged);
  EXPECT_EQ(client->GetClusterInfo().value().segments.size(), 0u);
}

TEST(MasterProcessTest, ASecondMasterOnABusyPortFailsClearly) {
  const Ports ports = FreePorts();
  auto first = StartMaster(PortArgs(ports));
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->WaitForLine("READY", kStartTimeout).ok()) << first->ReadLog();

  const Ports other_metrics{ports.rpc, testing::PickFreeTcpPort().value()};
  const std::string log = ExpectStartFailure(PortArgs(other_metrics));
  EXPECT_THAT(log, HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(ports.rpc)));

  const Ports other_rpc{testing::PickFreeTcpPort().value(), ports.metrics};
  EXPECT_THAT(ExpectStartFailure(PortArgs(other_rpc)),
              HasSubstr("port " + std::to_string(ports.metrics) + " already in use"));
  EXPECT_TRUE(first->Running());
}

TEST(MasterProcessTest, BadFlagsAreRefusedWithTheReason) {
  const Ports ports = FreePorts();
  auto with = [&](std::string flag) {
    std::vector<std::string> args = PortArgs(ports);
    args.push_back(std::move(flag));
    return args;
  };
  EXPECT_THAT(ExpectStartFailure(with("--eviction_ratio=0.99")), HasSubstr("eviction_ratio"));
  EXPECT_THAT(ExpectStartFailure(with("--eviction_high_watermark_ratio=1.5")),
              HasSubstr("eviction_high_watermark"));
  EXPECT_THAT(ExpectStartFailure(with("--client_ttl=0")), HasSubstr("client_ttl"));
  EXPECT_THAT(ExpectStartFailure(with("--default_kv_lease_ttl=-5")), HasSubstr("lease"));
  EXPECT_THAT(ExpectStartFailure(with("--port=70000")), HasSubstr("port"));
  EXPECT_THAT(ExpectStartFailure(with("--no_such_flag=1")), HasSubstr("no_such_flag"));
  EXPECT_THAT(ExpectStartFailure(with("--log_level=loud")), HasSubstr("log_level"));
  EXPECT_THAT(ExpectStartFailure(with("--object_store=ftp://x")), HasSubstr("--object_store"));
  EXPECT_THAT(ExpectStartFailure(with("--object_store_policy=write-through")),
              HasSubstr("needs --object_store"));
  auto both = with("--object_store=s3://bucket");
  both.push_back("--object_store_policy=sometimes");
  EXPECT_THAT(ExpectStartFailure(both), HasSubstr("write-through, write-back, none"));
}

TEST(MasterProcessTest, ConfigFileSetsFlagsAndRejectsUnknownKeys) {
  testing::TempDir dir = testing::TempDir::Create("master-config").value();
  const Ports ports = FreePorts();
  const std::string good = dir.path() + "/good.toml";
  {
    std::ofstream out(good);
    out << "host = \"127.0.0.1\"\nport = " << ports.rpc << "\nmetrics_port = " << ports.metrics
        << "\ndefault_kv_lease_ttl = 1234\n";
  }
  auto master = StartMaster({"--config=" + good});
  ASSERT_NE(master, nullptr);
  ASSERT_TRUE(master->WaitForLine("READY", kStartTimeout).ok()) << master->ReadLog();
  auto client = ClientFor(ports.rpc);
  ASSERT_TRUE(client->MountSegment({"seg", "node", 1, Medium::kDram, 4096, 1 << 20}).ok());
  ASSERT_TRUE(client->PutStart("k", 100, ReplicateConfig{}).ok());
  ASSERT_TRUE(client->PutEnd("k", 1).ok());
  auto got = client->GetReplicaList("k");
  ASSERT_TRUE(got.ok());
  EXPECT_LE(got->lease_ttl.count(), 1234);
  EXPECT_GT(got->lease_ttl.count(), 1000);
  master->Kill(SIGTERM);
  ASSERT_TRUE(master->Wait(seconds(10)).ok());

  const std::string bad = dir.path() + "/bad.toml";
  {
    std::ofstream out(bad);
    out << "port = " << ports.rpc << "\nmystery_knob = 3\n";
  }
  EXPECT_THAT(ExpectStartFailure({"--config=" + bad}), HasSubstr("mystery_knob"));
  EXPECT_THAT(ExpectStartFailure({"--config=" + dir.path() + "/missing.toml"}),
              HasSubstr("missing.toml"));
}

}  // namespace
}  // namespace mooncake::master
