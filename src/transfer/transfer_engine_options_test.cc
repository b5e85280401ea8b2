#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mooncake/transfer/transfer_engine.h"
#include "transfer/transport/ucx/ucx_transport.h"

namespace mooncake::transfer {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(TransferEngineOptionsTest, DefaultsAreValid) {
  TransferEngineOptions options;
  EXPECT_TRUE(options.Validate().ok()) << options.Validate().ToString();
}

TEST(TransferEngineOptionsTest, LoopbackWithPortZeroIsValid) {
  TransferEngineOptions options;
  options.local_server_name = "127.0.0.1:0";
  EXPECT_TRUE(options.Validate().ok()) << options.Validate().ToString();
}

TEST(TransferEngineOptionsTest, HostWithoutPortAndBracketedIpv6AreValid) {
  TransferEngineOptions options;
  for (const char* name : {"node-1", "10.0.0.2:12345", "[::1]:0", "[::1]"}) {
    options.local_server_name = name;
    EXPECT_TRUE(options.Validate().ok()) << name << ": " << options.Validate().ToString();
  }
}

TEST(TransferEngineOptionsTest, AutoTcpShmAndUcxWithItsAliasRdmaAreTheSupportedProtocols) {
  TransferEngineOptions options;
  EXPECT_EQ(options.protocol, "auto");
  for (const char* protocol : {"auto", "tcp", "shm"}) {
    options.protocol = protocol;
    EXPECT_TRUE(options.Validate().ok()) << protocol << ": " << options.Validate().ToString();
  }
  for (const char* protocol : {"ucx", "rdma"}) {
    options.protocol = protocol;
    Status s = options.Validate();
    if (ucx::UcxTransport::Compiled()) {
      EXPECT_TRUE(s.ok()) << protocol << ": " << s.ToString();
    } else {  // a build without libucx-dev says so
      EXPECT_EQ(s.code(), StatusCode::kNotSupported) << protocol;
      EXPECT_THAT(s.message(), HasSubstr("no UCX")) << s.ToString();
    }
  }
  for (const char* protocol : {"infiniband", "UCX", "TCP", "SHM", ""}) {
    options.protocol = protocol;
    Status s = options.Validate();
    EXPECT_EQ(s.code(), StatusCode::kNotSupported) << protocol;
    EXPECT_THAT(s.message(), HasSubstr("auto, tcp, shm, ucx, rdma"));
  }
}

TEST(TransferEngineOptionsTest, ZeroIoThreadsIsRejected) {
  TransferEngineOptions options;
  options.io_threads = 0;
  Status s = options.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("io_threads"));
  options.io_threads = -3;
  EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidParams);
}

TEST(TransferEngineOptionsTest, ZeroConnectionsPerPeerIsRejected) {
  TransferEngineOptions options;
  options.connections_per_peer = 0;
  Status s = options.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("connections_per_peer"));
}

TEST(TransferEngineOptionsTest, SliceSizeBelowFourKibIsRejected) {
  TransferEngineOptions options;
  options.slice_size = 4095;
  Status s = options.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("slice_size"));
  options.slice_size = 0;
  EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidParams);
  options.slice_size = 4096;
  EXPECT_TRUE(options.Validate().ok());
}

TEST(TransferEngineOptionsTest, NonPositiveTimeoutsAreRejected) {
  for (milliseconds bad : {milliseconds(0), milliseconds(-1)}) {
    TransferEngineOptions options;
    options.transfer_timeout = bad;
    EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidParams) << bad.count();
    EXPECT_THAT(options.Validate().message(), HasSubstr("transfer_timeout"));

    options = TransferEngineOptions();
    options.connect_timeout = bad;
    EXPECT_EQ(options.Validate().code(), StatusCode::kInvalidParams) << bad.count();
    EXPECT_THAT(options.Validate().message(), HasSubstr("connect_timeout"));
  }
}

TEST(TransferEngineOptionsTest, MalformedLocalServerNameIsRejected) {
  TransferEngineOptions options;
  for (const char* name : {"host:notaport", ":80", "a:1:2", "host:70000", "host:", "[::1"}) {
    options.local_server_name = name;
    Status s = options.Validate();
    EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << name;
    EXPECT_THAT(s.message(), HasSubstr("local_server_name")) << name;
    EXPECT_THAT(s.message(), HasSubstr(name));
  }
}

TEST(TransferEngineOptionsTest, CreateRefusesInvalidOptions) {
  TransferEngineOptions options;
  options.protocol = "infiniband";
  auto engine = TransferEngine::Create(options);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kNotSupported);
}

}  // namespace
}  // namespace mooncake::transfer
