#pragma once

// The fixture of the master service's loopback tests: a MasterServer in the test process on a
// free port, MasterClient calls and raw stubs.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "master/client/master_client.h"
#include "master/service/master_server.h"
#include "mooncake/proto/master.grpc.pb.h"

namespace mooncake::master {

namespace pb = ::mooncake::master::v1;

constexpr uint64_t kSegmentBase = 0x7f0000000000;
constexpr uint64_t kSegmentSize = uint64_t{64} << 20;

class MasterServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MasterServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.metrics_port = 0;
    options.core.client_ttl = std::chrono::hours(1);
    auto server = MasterServer::Create(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    client_ = NewClient();
  }

  std::unique_ptr<MasterClient> NewClient(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    MasterClientOptions options;
    options.master_address = server_->address();
    options.rpc_timeout = timeout;
    options.client_id = "test";
    return std::move(MasterClient::Create(options).value());
  }

  std::unique_ptr<pb::MasterService::Stub> RawStub() {
    return pb::MasterService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  static SegmentSpec Segment(const std::string& name, const std::string& node, Epoch epoch = 1) {
    return SegmentSpec{name, node, epoch, Medium::kDram, kSegmentBase, kSegmentSize};
  }

  void Mount(const std::string& name, const std::string& node, Epoch epoch = 1) {
    auto report = client_->MountSegment(Segment(name, node, epoch));
    ASSERT_TRUE(report.ok()) << report.status().ToString();
  }

  // Puts and seals one object; returns where its replica is.
  ReplicaLocation Put(const std::string& key, uint64_t size) {
    auto start = client_->PutStart(key, size, ReplicateConfig{});
    EXPECT_TRUE(start.ok()) << start.status().ToString();
    if (!start.ok()) return {};
    EXPECT_TRUE(client_->PutEnd(key, 0xabcd).ok());
    return start->replicas.at(0);
  }

  std::unique_ptr<MasterServer> server_;
  std::unique_ptr<MasterClient> client_;
};

}  // namespace mooncake::master
