#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "mooncake/transfer/transfer_engine.h"
#include "testing/free_port.h"
#include "transfer/metadata/etcd_metadata_store.h"
#include "transfer/metadata/handshake_metadata_store.h"
#include "transfer/metadata/metadata_store.h"
#include "transfer/transport/tcp/wire_format.h"

namespace mooncake::transfer {
namespace {

using ::testing::HasSubstr;

MetadataStoreOptions WithConnectionString(std::string s) {
  MetadataStoreOptions options;
  options.connection_string = std::move(s);
  return options;
}

TEST(MetadataStoreFactoryTest, P2pHandshakeGivesAStore) {
  auto store = CreateMetadataStore(WithConnectionString("P2PHANDSHAKE"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_NE(store->get(), nullptr);
  EXPECT_NE(dynamic_cast<HandshakeMetadataStore*>(store->get()), nullptr);
}

TEST(MetadataStoreFactoryTest, DefaultOptionsGiveAHandshakeStore) {
  auto store = CreateMetadataStore(MetadataStoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
}

TEST(MetadataStoreFactoryTest, EtcdUrlGivesAnEtcdStoreWithoutContactingEtcd) {
  // Nothing listens there: creating the store must not need etcd yet.
  const std::string url = "etcd://127.0.0.1:" + std::to_string(testing::PickFreeTcpPort().value());
  auto store = CreateMetadataStore(WithConnectionString(url));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_NE(dynamic_cast<EtcdMetadataStore*>(store->get()), nullptr);

  auto several = CreateMetadataStore(WithConnectionString("etcd://10.0.0.1:2379,10.0.0.2:2379/"));
  ASSERT_TRUE(several.ok()) << several.status().ToString();
  EXPECT_NE(dynamic_cast<EtcdMetadataStore*>(several->get()), nullptr);
}

TEST(MetadataStoreFactoryTest, MalformedEtcdUrlIsInvalidParams) {
  for (const char* s : {"etcd://", "etcd://host-without-port", "etcd://10.0.0.1:2379,,10.0.0.2:1",
                        "etcd://10.0.0.1:notaport"}) {
    auto store = CreateMetadataStore(WithConnectionString(s));
    ASSERT_FALSE(store.ok()) << s;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidParams) << s;
    EXPECT_THAT(store.status().message(), HasSubstr(s));
  }
}

TEST(MetadataStoreFactoryTest, EtcdLeaseTtlBelowOneSecondIsInvalidParams) {
  MetadataStoreOptions options = WithConnectionString("etcd://127.0.0.1:2379");
  options.lease_ttl = std::chrono::seconds(0);
  auto store = CreateMetadataStore(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(store.status().message(), HasSubstr("lease_ttl"));
}

TEST(MetadataStoreFactoryTest, HttpIsNotSupportedYet) {
  auto store = CreateMetadataStore(WithConnectionString("http://x/metadata"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kNotSupported);
  EXPECT_THAT(store.status().message(), HasSubstr("http://x/metadata"));
}

TEST(MetadataStoreFactoryTest, BareHostPortListIsTakenAsEtcd) {
  for (const char* s : {"10.0.0.1:2379", "10.0.0.1:2379,10.0.0.2:2379"}) {
    auto store = CreateMetadataStore(WithConnectionString(s));
    ASSERT_TRUE(store.ok()) << s << ": " << store.status().ToString();
    EXPECT_NE(dynamic_cast<EtcdMetadataStore*>(store->get()), nullptr) << s;
  }
}

TEST(MetadataStoreFactoryTest, GarbageIsInvalidParams) {
  for (const char* s : {"garbage string", "", "p2phandshake"}) {
    auto store = CreateMetadataStore(WithConnectionString(s));
    ASSERT_FALSE(store.ok()) << s;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidParams) << s;
    EXPECT_THAT(store.status().message(), HasSubstr("expected P2PHANDSHAKE"));
  }
}

TEST(HandshakeMetadataStoreTest, PublishAndUnpublishAreNoOps) {
  HandshakeMetadataStore store(MetadataStoreOptions{});
  SegmentDescriptor d;
  d.name = "127.0.0.1:1";
  EXPECT_TRUE(store.Publish(d).ok());
  EXPECT_TRUE(store.Unpublish(d.name).ok());
}

TEST(HandshakeMetadataStoreTest, LookupOfUnreachableSegmentFailsQuicklyNamingIt) {
  MetadataStoreOptions options;
  options.timeout = std::chrono::milliseconds(500);
  HandshakeMetadataStore store(options);
  uint16_t port = testing::PickFreeTcpPort().value();  // nobody listens there
  const std::string name = "127.0.0.1:" + std::to_string(port);

  auto start = std::chrono::steady_clock::now();
  auto found = store.Lookup(name);
  auto elapsed = std::chrono::steady_clock::now() - start;

  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kSegmentNotFound);
  EXPECT_THAT(found.status().message(), HasSubstr(name));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(HandshakeMetadataStoreTest, LookupOfNameThatIsNotHostPortIsSegmentNotFound) {
  HandshakeMetadataStore store(MetadataStoreOptions{});
  auto found = store.Lookup("my-segment");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kSegmentNotFound);
  EXPECT_THAT(found.status().message(), HasSubstr("my-segment"));
  EXPECT_THAT(found.status().message(), HasSubstr("P2PHANDSHAKE"));
}

TEST(HandshakeMetadataStoreTest, LookupFetchesTheDescriptorFromTheSegmentItself) {
  std::vector<char> buffer(4096);  // declared first: outlives the engine serving it
  TransferEngineOptions engine_options;
  engine_options.local_server_name = "127.0.0.1:0";
  engine_options.io_threads = 1;
  auto engine = TransferEngine::Create(engine_options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  ASSERT_TRUE((*engine)->RegisterLocalMemory(buffer.data(), buffer.size()).ok());

  MetadataStoreOptions options;
  options.local_name = "tester";
  HandshakeMetadataStore store(options);
  auto found = store.Lookup((*engine)->local_server_name());
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->name, (*engine)->local_server_name());
  EXPECT_EQ(found->protocol_version, tcp::kProtocolVersion);
  ASSERT_EQ(found->endpoints.size(), 1u);
  EXPECT_EQ(found->endpoints[0].host, "127.0.0.1");
  ASSERT_EQ(found->buffers.size(), 1u);
  EXPECT_EQ(found->buffers[0].address, reinterpret_cast<uint64_t>(buffer.data()));
  EXPECT_EQ(found->buffers[0].length, buffer.size());
}

}  // namespace
}  // namespace mooncake::transfer
