// The master service refusing what a well-behaved client never sends, over loopback: bad
// keys and sizes, a wrong protocol version, unknown enum values, oversized batches, garbage
// bytes; a dead master is a bounded error; a busy port or bad options never start a second
// master.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "master/client/master_client.h"
#include "master/codec/master_protocol.h"
#include "master/service/master_server.h"
#include "master/service/master_service_test_fixture.h"
#include "mooncake/proto/master.grpc.pb.h"
#include "testing/free_port.h"

namespace mooncake::master {
namespace {

using ::testing::HasSubstr;
namespace pb = ::mooncake::master::v1;

TEST_F(MasterServiceTest, BadInputGetsDefinedStatuses) {
  Mount("seg-a", "node-a");
  const std::string huge_key(1 << 20, 'k');
  EXPECT_EQ(client_->PutStart(huge_key, 10, ReplicateConfig{}).status().code(),
            StatusCode::kInvalidKey);
  EXPECT_EQ(client_->GetReplicaList(huge_key).status().code(), StatusCode::kInvalidKey);
  EXPECT_EQ(client_->PutStart("", 10, ReplicateConfig{}).status().code(), StatusCode::kInvalidKey);
  EXPECT_EQ(client_->PutStart("big", uint64_t{1} << 63, ReplicateConfig{}).status().code(),
            StatusCode::kInvalidParams);
  ReplicateConfig too_many;
  too_many.replica_num = 17;
  EXPECT_EQ(client_->PutStart("k", 10, too_many).status().code(), StatusCode::kInvalidParams);
  ReplicateConfig preferred;
  preferred.preferred_segments = {"no-such-segment"};
  EXPECT_TRUE(client_->PutStart("pref", 10, preferred).ok());  // a preference, not a demand

  // Double PutEnd, PutEnd after revoke.
  Put("sealed", 10);
  EXPECT_EQ(client_->PutEnd("sealed", 1).code(), StatusCode::kInvalidParams);
  ASSERT_TRUE(client_->PutStart("revoked", 10, ReplicateConfig{}).ok());
  ASSERT_TRUE(client_->PutRevoke("revoked").ok());
  EXPECT_EQ(client_->PutEnd("revoked", 1).code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(client_->PutRevoke("revoked").code(), StatusCode::kObjectNotFound);

  // Segments: unknown, stale epoch, wrong owner, a duplicate name.
  EXPECT_EQ(client_->UnmountSegment("nope", "node-a", 1).code(), StatusCode::kSegmentNotFound);
  Mount("seg-b", "node-b", 5);
  EXPECT_EQ(client_->MountSegment(Segment("seg-b2", "node-b", 4)).status().code(),
            StatusCode::kInvalidVersion);
  EXPECT_EQ(client_->UnmountSegment("seg-b", "node-x", 5).code(), StatusCode::kInvalidParams);
  EXPECT_EQ(client_->MountSegment(Segment("seg-a", "node-c")).status().code(),
            StatusCode::kSegmentAlreadyExists);
  EXPECT_EQ(
      client_->MountSegment(SegmentSpec{"zero", "node-z", 1, Medium::kDram, 0, 0}).status().code(),
      StatusCode::kInvalidParams);

  // Liveness: unknown node, stale epoch.
  EXPECT_EQ(client_->Heartbeat("node-unknown", 1).code(), StatusCode::kClientNotFound);
  EXPECT_EQ(client_->Heartbeat("node-b", 4).code(), StatusCode::kInvalidVersion);
  EXPECT_TRUE(client_->Heartbeat("node-b", 5).ok());

  EXPECT_EQ(client_->RemoveByRegex("([", RemoveMode::kNormal).status().code(),
            StatusCode::kInvalidParams);
}

TEST_F(MasterServiceTest, WrongProtocolVersionIsRefusedAndNothingHappens) {
  Mount("seg-a", "node-a");
  auto stub = RawStub();
  pb::BatchPutStartRequest req;
  req.mutable_header()->set_protocol_version(kMasterProtocolVersion + 1);
  req.mutable_header()->set_client_id("future-client");
  pb::PutStartItem* item = req.add_items();
  item->set_key("k");
  item->set_size(10);
  pb::BatchPutStartResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->BatchPutStart(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status().code(), static_cast<int>(StatusCode::kInvalidVersion));
  EXPECT_THAT(resp.status().message(), HasSubstr("future-client"));
  EXPECT_EQ(resp.results_size(), 0);
  EXPECT_FALSE(client_->ExistKey("k").value());

  pb::PingRequest ping;  // version 0: still answers with the master's version
  pb::PingResponse pong;
  grpc::ClientContext ping_ctx;
  ASSERT_TRUE(stub->Ping(&ping_ctx, ping, &pong).ok());
  EXPECT_EQ(pong.status().code(), static_cast<int>(StatusCode::kInvalidVersion));
  EXPECT_EQ(pong.protocol_version(), kMasterProtocolVersion);
}

TEST_F(MasterServiceTest, UnknownEnumValuesAreInvalidParams) {
  auto stub = RawStub();
  pb::MountSegmentRequest req;
  req.mutable_header()->set_protocol_version(kMasterProtocolVersion);
  pb::SegmentSpec* spec = req.mutable_segment();
  spec->set_name("s");
  spec->set_node_id("n");
  spec->set_epoch(1);
  spec->set_size(1 << 20);
  spec->set_medium(static_cast<pb::Medium>(42));
  pb::MountSegmentResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->MountSegment(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status().code(), static_cast<int>(StatusCode::kInvalidParams));
  EXPECT_THAT(resp.status().message(), HasSubstr("medium 42"));
}

TEST_F(MasterServiceTest, OversizedBatchIsRefusedAsAWhole) {
  Mount("seg-a", "node-a");
  std::vector<PutStartItem> items;
  for (size_t i = 0; i <= kMaxBatchItems; ++i) items.push_back({"k" + std::to_string(i), 64});
  auto starts = client_->BatchPutStart(items, ReplicateConfig{});
  EXPECT_EQ(starts.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(starts.status().message(), HasSubstr("exceeds the limit"));
  EXPECT_EQ(client_->GetClusterInfo().value().objects, 0u);
}

TEST_F(MasterServiceTest, GarbageBytesDoNotHurtTheMaster) {
  // A well-formed gRPC call whose payload is not a valid protobuf message.
  auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  const std::string garbage = "\xff\xff\xff\xff\x0f garbage that is not protobuf";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(&ctx, "/mooncake.master.v1.MasterService/BatchPutStart", {}, &request,
                    &response, [&](grpc::Status s) {
                      std::lock_guard lock(mu);
                      status = s;
                      done = true;
                      cv.notify_all();
                    });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; }));
  }
  EXPECT_FALSE(status.ok());

  // Raw bytes on the port (not even HTTP/2).
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_GT(write(fd, garbage.data(), garbage.size()), 0);
  close(fd);

  EXPECT_TRUE(client_->Ping().ok());
}

TEST_F(MasterServiceTest, DeadMasterIsAClearBoundedError) {
  auto port = testing::PickFreeTcpPort();
  ASSERT_TRUE(port.ok());
  MasterClientOptions options;
  options.master_address = "127.0.0.1:" + std::to_string(*port);
  options.rpc_timeout = std::chrono::milliseconds(500);
  auto client = MasterClient::Create(options).value();
  const auto start = std::chrono::steady_clock::now();
  auto ping = client->Ping();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  ASSERT_FALSE(ping.ok());
  EXPECT_TRUE(ping.status().code() == StatusCode::kRpcFail ||
              ping.status().code() == StatusCode::kRpcTimeout)
      << ping.status().ToString();
  EXPECT_THAT(ping.status().message(), HasSubstr(options.master_address));
}

TEST(MasterServerTest, BusyPortsAreErrorsNotSecondMasters) {
  MasterServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.metrics_port = -1;
  auto first = MasterServer::Create(options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();

  options.port = (*first)->port();
  auto second = MasterServer::Create(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(second.status().message(), HasSubstr(std::to_string(options.port)));

  // A busy metrics port fails the start too, naming it.
  MasterServerOptions metrics_clash;
  metrics_clash.host = "127.0.0.1";
  metrics_clash.port = 0;
  metrics_clash.metrics_port = (*first)->port();  // taken by the first master's gRPC
  auto third = MasterServer::Create(metrics_clash);
  ASSERT_FALSE(third.ok());
  EXPECT_THAT(third.status().message(), HasSubstr("metrics port"));
}

TEST(MasterServerTest, InvalidOptionsAreRejected) {
  MasterServerOptions options;
  options.port = 0;
  options.metrics_port = -1;
  options.core.eviction_ratio = 2;
  auto server = MasterServer::Create(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(server.status().message(), HasSubstr("eviction_ratio"));
}

}  // namespace
}  // namespace mooncake::master
