// Master RPC authentication end to end over loopback: a MasterServer with a cluster secret in
// this process, MasterClients with no, a wrong and the right secret, and raw gRPC calls
// carrying hand-made credentials (stale, replayed for another method, malformed).

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "master/client/master_client.h"
#include "master/codec/master_protocol.h"
#include "master/codec/rpc_credentials.h"
#include "master/service/master_server.h"
#include "mooncake/proto/master.grpc.pb.h"

namespace mooncake::master {
namespace {

using std::chrono::minutes;
using ::testing::HasSubstr;
namespace pb = ::mooncake::master::v1;

constexpr char kKey[] = "precious";
constexpr char kServiceName[] = "mooncake.master.v1.MasterService";

std::shared_ptr<const auth::ClusterSecret> Secret(const char* text) {
  return std::make_shared<const auth::ClusterSecret>(auth::ClusterSecret::FromText(text).value());
}

const auto kRight = Secret("right-secret-0123456789abcdef");
const auto kWrong = Secret("wrong-secret-0123456789abcdef");

class MasterAuthTest : public ::testing::Test {
 protected:
  void StartServer(std::shared_ptr<const auth::ClusterSecret> secret) {
    MasterServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.metrics_port = -1;
    options.core.client_ttl = std::chrono::hours(1);
    options.auth_secret = std::move(secret);
    auto server = MasterServer::Create(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  std::unique_ptr<MasterClient> NewClient(std::shared_ptr<const auth::ClusterSecret> secret) {
    MasterClientOptions options;
    options.master_address = server_->address();
    options.rpc_timeout = std::chrono::milliseconds(5000);
    options.client_id = "auth-test";
    options.auth_secret = std::move(secret);
    return std::move(MasterClient::Create(options).value());
  }

  // Mounts a segment and puts kKey through `client`.
  static void PutObject(MasterClient& client) {
    ASSERT_TRUE(
        client.MountSegment({"seg", "node", 1, Medium::kDram, 0x7f0000000000, 64 << 20}).ok());
    auto start = client.PutStart(kKey, 4096, ReplicateConfig{});
    ASSERT_TRUE(start.ok()) << start.status().ToString();
    ASSERT_TRUE(client.PutEnd(kKey, 0x1234).ok());
  }

  // Every kind of call a stranger might make, each expected to be refused as unauthenticated
  // with a message that says so and what to check.
  static void ExpectEveryCallRefused(MasterClient& stranger) {
    std::vector<Status> refusals = {
        stranger.Ping().status(),
        stranger.Remove(kKey, RemoveMode::kForce),
        stranger.RemoveAll(RemoveMode::kForce).status(),
        stranger.RemoveByRegex(".*", RemoveMode::kForce).status(),
        stranger.PutStart("intruder", 4096, ReplicateConfig{}).status(),
        stranger.ExistKey(kKey).status(),
        stranger.GetReplicaList(kKey).status(),
        stranger.ListKeys("", 0).status(),
        stranger.GetClusterInfo().status(),
    };
    for (const Status& status : refusals) {
      EXPECT_EQ(status.code(), StatusCode::kUnauthenticated) << status.ToString();
      EXPECT_THAT(status.message(), HasSubstr("authentication failed"));
      EXPECT_THAT(status.message(), HasSubstr("MC_AUTH_SECRET_FILE"));
    }
  }

  // The object put by PutObject is still there, untouched, and nothing else was added.
  void ExpectObjectIntact() {
    auto owner = NewClient(kRight);
    auto replicas = owner->GetReplicaList(kKey);
    ASSERT_TRUE(replicas.ok()) << replicas.status().ToString();
    EXPECT_EQ(replicas->checksum, 0x1234u);
    EXPECT_FALSE(owner->ExistKey("intruder").value());
    EXPECT_EQ(owner->GetClusterInfo().value().objects, 1u);
  }

  // A raw BatchRemove of kKey carrying `credential` ("" = none); its gRPC status.
  grpc::Status RawRemove(const std::string& credential) {
    auto stub = pb::MasterService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
    pb::BatchRemoveRequest req;
    req.mutable_header()->set_protocol_version(kMasterProtocolVersion);
    req.mutable_header()->set_auth(credential);
    req.add_keys(kKey);
    req.set_force(true);
    pb::BatchStatusResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return stub->BatchRemove(&ctx, req, &resp);
  }

  std::unique_ptr<MasterServer> server_;
};

TEST_F(MasterAuthTest, ClientWithoutSecretIsRefusedAndChangesNothing) {
  StartServer(kRight);
  auto owner = NewClient(kRight);
  PutObject(*owner);
  auto stranger = NewClient(nullptr);
  ExpectEveryCallRefused(*stranger);
  EXPECT_THAT(stranger->Ping().status().message(), HasSubstr("no cluster secret"));
  ExpectObjectIntact();
}

TEST_F(MasterAuthTest, ClientWithWrongSecretIsRefusedAndChangesNothing) {
  StartServer(kRight);
  PutObject(*NewClient(kRight));
  auto stranger = NewClient(kWrong);
  ExpectEveryCallRefused(*stranger);
  // The message names this process's key id, to compare with the master's log line.
  EXPECT_THAT(stranger->Ping().status().message(), HasSubstr(kWrong->KeyId()));
  EXPECT_THAT(stranger->Ping().status().message(), HasSubstr("does not match"));
  ExpectObjectIntact();
}

TEST_F(MasterAuthTest, RightSecretWorksForEveryCall) {
  StartServer(kRight);
  auto owner = NewClient(kRight);
  PutObject(*owner);
  EXPECT_TRUE(owner->Ping().ok());
  EXPECT_TRUE(owner->ExistKey(kKey).value());
  EXPECT_EQ(owner->ListKeys("", 0).value().keys.size(), 1u);
  EXPECT_TRUE(owner->Remove(kKey, RemoveMode::kForce).ok());
  EXPECT_FALSE(owner->ExistKey(kKey).value());
}

TEST_F(MasterAuthTest, RotatedSecretAcceptsTheOldKeyAndTheNew) {
  // The master has rolled to "new\nold"; clients still on "old" and those on "new" both work.
  StartServer(Secret("new-secret-0123456789abcdef\nright-secret-0123456789abcdef"));
  EXPECT_TRUE(NewClient(kRight)->Ping().ok());
  EXPECT_TRUE(NewClient(Secret("new-secret-0123456789abcdef"))->Ping().ok());
  EXPECT_EQ(NewClient(kWrong)->Ping().status().code(), StatusCode::kUnauthenticated);
}

TEST_F(MasterAuthTest, StaleReplayedOrMalformedCredentialsAreRefused) {
  StartServer(kRight);
  PutObject(*NewClient(kRight));
  const auto now = std::chrono::system_clock::now();
  const grpc::Status stale = RawRemove(MakeRpcCredential(*kRight, "BatchRemove", now - minutes(6)));
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(stale.error_message(), HasSubstr("stale"));
  const grpc::Status future =
      RawRemove(MakeRpcCredential(*kRight, "BatchRemove", now + minutes(6)));
  EXPECT_EQ(future.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A credential made for Ping does not pass for BatchRemove.
  const grpc::Status replayed = RawRemove(MakeRpcCredential(*kRight, "Ping", now));
  EXPECT_EQ(replayed.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  for (const std::string& garbage : {std::string("v1"), std::string("v1.1.2.3"),
                                     std::string(300, 'x'), std::string("v1.abc.def.ghi")}) {
    EXPECT_EQ(RawRemove(garbage).error_code(), grpc::StatusCode::UNAUTHENTICATED) << garbage;
  }
  const grpc::Status missing = RawRemove("");
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(missing.error_message(), HasSubstr("no credential"));
  ExpectObjectIntact();
  // The same call with a fresh credential goes through: the refusals were about the credential.
  EXPECT_TRUE(RawRemove(MakeRpcCredential(*kRight, "BatchRemove", now)).ok());
  EXPECT_FALSE(NewClient(kRight)->ExistKey(kKey).value());
}

TEST_F(MasterAuthTest, MasterWithoutSecretAcceptsEveryClient) {
  StartServer(nullptr);
  auto open_client = NewClient(nullptr);
  PutObject(*open_client);
  EXPECT_TRUE(open_client->ExistKey(kKey).value());
  // A client with a secret talks to an open master too (its credential is ignored).
  EXPECT_TRUE(NewClient(kRight)->ExistKey(kKey).value());
  EXPECT_TRUE(open_client->Remove(kKey, RemoveMode::kForce).ok());
}

// Every method of the service, called through a generic stub: refused without a credential,
// and past the check with one signed for its proto name. A method added to the proto without
// going through Serve, or named differently in MasterRpcMethod, fails here.
TEST_F(MasterAuthTest, EveryMethodOfTheServiceIsChecked) {
  StartServer(kRight);
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(kServiceName);
  ASSERT_NE(service, nullptr);
  ASSERT_GE(service->method_count(), 17);
  auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  // Every request message has its RequestHeader as field 1, so a PingRequest's bytes are a valid
  // request of every method: a header with the credential only (protocol version 0, refused
  // after the check), every other field at its default.
  auto call = [&](const std::string& method, const std::string& credential) {
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    pb::PingRequest header_only;
    header_only.mutable_header()->set_auth(credential);
    grpc::Slice bytes(header_only.SerializeAsString());
    request = grpc::ByteBuffer(&bytes, 1);
    generic.UnaryCall(&ctx, "/" + std::string(kServiceName) + "/" + method, {}, &request, &response,
                      [&](grpc::Status s) {
                        std::lock_guard lock(mu);
                        status = s;
                        done = true;
                        cv.notify_all();
                      });
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; })) {
      ADD_FAILURE() << method << " did not answer within 10 s";
      ctx.TryCancel();  // the callback must run before ctx and the buffers go
      cv.wait(lock, [&] { return done; });
    }
    return status;
  };
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string method = service->method(i)->name();
    EXPECT_EQ(call(method, "").error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    const grpc::Status signed_call =
        call(method, MakeRpcCredential(*kRight, method, std::chrono::system_clock::now()));
    EXPECT_TRUE(signed_call.ok()) << method << ": " << signed_call.error_message();
  }
}

}  // namespace
}  // namespace mooncake::master
