// What the etcd backend does without any etcd: fail fast and clearly. Its behaviour against a
// real etcd is in tests/integration/etcd_metadata_test.cc.

#include "transfer/metadata/etcd_metadata_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "testing/free_port.h"
#include "transfer/metadata/etcd_client.h"

namespace mooncake::transfer {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

std::string DeadEndpoint() {
  return "127.0.0.1:" + std::to_string(testing::PickFreeTcpPort().value());
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(EtcdMetadataStoreTest, SegmentKeyFollowsTheDocumentedLayout) {
  EXPECT_EQ(EtcdMetadataStore::SegmentKey("10.0.0.2:12345"),
            "mooncake/transfer/v1/segments/10.0.0.2:12345");
}

TEST(EtcdMetadataStoreTest, PublishWithEtcdDownFailsFastNamingEveryEndpoint) {
  const std::string a = DeadEndpoint(), b = DeadEndpoint();
  MetadataStoreOptions options;
  options.timeout = std::chrono::milliseconds(1000);
  auto store = EtcdMetadataStore::Create(options, {a, b});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SegmentDescriptor d;
  d.name = "127.0.0.1:1";
  auto start = Clock::now();
  Status s = (*store)->Publish(d);
  EXPECT_LT(SecondsSince(start), 3.0);
  EXPECT_EQ(s.code(), StatusCode::kEtcdOperationError);
  EXPECT_THAT(s.message(), HasSubstr(a));
  EXPECT_THAT(s.message(), HasSubstr(b));
  EXPECT_THAT(s.message(), HasSubstr("127.0.0.1:1"));
  EXPECT_EQ((*store)->lease_id(), 0);
  // The store is destroyed with its retry thread running: that must not hang (the test would
  // time out).
}

TEST(EtcdMetadataStoreTest, LookupWithEtcdDownIsAnEtcdErrorNamingSegmentAndEndpoint) {
  const std::string endpoint = DeadEndpoint();
  auto store = EtcdMetadataStore::Create(MetadataStoreOptions{}, {endpoint});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto found = (*store)->Lookup("peer:7");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kEtcdOperationError);
  EXPECT_THAT(found.status().message(), HasSubstr(endpoint));
  EXPECT_THAT(found.status().message(), HasSubstr("peer:7"));
}

TEST(EtcdMetadataStoreTest, UnpublishOfNothingPublishedIsOk) {
  auto store = EtcdMetadataStore::Create(MetadataStoreOptions{}, {DeadEndpoint()});
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->Unpublish("never:1").ok());
}

TEST(EtcdMetadataStoreTest, DestructorStopsTheRetryThreadPromptly) {
  MetadataStoreOptions options;
  options.lease_ttl = std::chrono::seconds(60);  // keep-alive every 20 s: must not be waited for
  auto store = EtcdMetadataStore::Create(options, {DeadEndpoint()});
  ASSERT_TRUE(store.ok());
  SegmentDescriptor d;
  d.name = "127.0.0.1:2";
  (*store)->Publish(d).IgnoreError();
  auto start = Clock::now();
  store->reset();
  EXPECT_LT(SecondsSince(start), 1.0);
}

TEST(EtcdClientTest, OptionsAreValidated) {
  EtcdClientOptions options;
  EXPECT_EQ(EtcdClient::Create(options).status().code(), StatusCode::kInvalidParams);
  options.endpoints = {"no-port"};
  EXPECT_EQ(EtcdClient::Create(options).status().code(), StatusCode::kInvalidParams);
  options.endpoints = {"127.0.0.1:2379"};
  options.request_timeout = std::chrono::milliseconds(0);
  EXPECT_EQ(EtcdClient::Create(options).status().code(), StatusCode::kInvalidParams);
  options.request_timeout = std::chrono::milliseconds(100);
  EXPECT_TRUE(EtcdClient::Create(options).ok());
}

TEST(EtcdClientTest, LeaseTtlBelowOneSecondIsRefusedWithoutARequest) {
  EtcdClientOptions options;
  options.endpoints = {DeadEndpoint()};
  auto client = EtcdClient::Create(options);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->GrantLease(std::chrono::seconds(0)).status().code(),
            StatusCode::kInvalidParams);
  EXPECT_EQ((*client)->GetPrefix("").status().code(), StatusCode::kInvalidParams);
}

}  // namespace
}  // namespace mooncake::transfer
