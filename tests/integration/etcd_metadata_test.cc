// The etcd metadata backend against a real etcd (src/testing/etcd_launcher.h): the client's
// basics, and Transfer Engines — transfer_engine_bench targets in other processes and
// in-process initiators — that find each other through it, including a target killed with
// SIGKILL (its descriptor vanishes with its lease) and restarted (the new descriptor is found),
// etcd down at start (a clear, fast error), and etcd losing its data (the descriptor is put
// back). Lease TTLs are 2 s (etcd's minimum) to keep the test short.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_pattern.h"
#include "mooncake/transfer/transfer_engine.h"
#include "testing/binary_path.h"
#include "testing/etcd_launcher.h"
#include "testing/free_port.h"
#include "testing/process_launcher.h"
#include "transfer/metadata/etcd_client.h"
#include "transfer/metadata/etcd_metadata_store.h"
#include "transfer/segment_descriptor_codec.h"
#include "transfer_test_support.h"

namespace mooncake::integration {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1 << 20;
constexpr seconds kLeaseTtl{2};
// Lease expiry is checked by etcd about every 500 ms; a loaded CI machine gets slack.
constexpr milliseconds kExpirySlack{3000};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Polls `predicate` every 50 ms until it holds or `timeout` passes; returns its last value.
template <typename Predicate>
bool PollUntil(Predicate predicate, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (predicate()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

Result<std::unique_ptr<transfer::EtcdClient>> ClientFor(const std::string& endpoint) {
  transfer::EtcdClientOptions options;
  options.endpoints = {endpoint};
  options.request_timeout = milliseconds(2000);
  return transfer::EtcdClient::Create(options);
}

// A transfer_engine_bench target publishing to etcd.
struct EtcdTarget {
  std::unique_ptr<testing::ChildProcess> process;
  std::string name;
  uint64_t buffer = 0;
};

Result<EtcdTarget> StartEtcdTarget(const std::string& etcd, uint16_t port, seconds ttl,
                                   uint64_t buffer_size = 16 * kMiB) {
  testing::ProcessOptions options;
  options.binary = testing::BinaryPath("transfer_engine_bench");
  options.args = {"--mode=target", "--metadata_server=etcd://" + etcd,
                  "--local_server_name=127.0.0.1:" + std::to_string(port),
                  "--metadata_lease_ttl=" + std::to_string(ttl.count()),
                  "--buffer_size=" + std::to_string(buffer_size)};
  EtcdTarget target;
  target.name = "127.0.0.1:" + std::to_string(port);
  MC_ASSIGN_OR_RETURN(target.process, testing::ChildProcess::Start(std::move(options)));
  MC_RETURN_IF_ERROR(target.process->WaitForLine("READY", seconds(20)));
  const std::string log = target.process->ReadLog();
  size_t at = log.find("buffer=0x");
  if (at == std::string::npos) return InternalError("no buffer= in the READY line:\n" + log);
  target.buffer = std::stoull(log.substr(at + 9), nullptr, 16);
  return target;
}

// Reads `length` bytes at `offset` of the bench target's buffer through `engine` and checks
// them against the bench pattern.
Status ReadAndVerify(transfer::TransferEngine& engine, transfer::SegmentHandle handle,
                     uint64_t buffer, uint64_t offset, uint64_t length) {
  MC_ASSIGN_OR_RETURN(void* local, engine.AllocateBuffer(length));
  transfer::TransferRequest read{transfer::TransferOpcode::kRead, local, handle, buffer + offset,
                                 length};
  Status s = RunBatch(engine, {&read, 1}, seconds(10));
  if (s.ok()) {
    int64_t bad = bench::FirstMismatch(static_cast<char*>(local), length, kTargetSeed, offset);
    if (bad >= 0) s = InternalError("data mismatch at offset " + std::to_string(offset + bad));
  }
  engine.FreeBuffer(local).IgnoreError();
  return s;
}

transfer::TransferEngineOptions EngineOptionsFor(const std::string& etcd) {
  transfer::TransferEngineOptions options;
  options.metadata_server = "etcd://" + etcd;
  options.metadata_lease_ttl = kLeaseTtl;
  options.io_threads = 1;
  return options;
}

// One etcd shared by the tests that do not restart it; keys and segment names are unique per
// test (fresh ports), so the tests do not see each other.
class EtcdMetadataTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto etcd = testing::EtcdServer::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status().ToString();
    etcd_ = std::move(*etcd).release();
  }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(etcd_, nullptr);
    auto client = ClientFor(etcd_->endpoint());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(*client);
  }

  // The descriptor stored for `segment`, or nullopt; fails the test on etcd errors.
  std::optional<transfer::SegmentDescriptor> Stored(const std::string& segment) {
    auto kv = client_->Get(transfer::EtcdMetadataStore::SegmentKey(segment));
    EXPECT_TRUE(kv.ok()) << kv.status().ToString();
    if (!kv.ok() || !kv->has_value()) return std::nullopt;
    auto descriptor = transfer::DecodeSegmentDescriptor((*kv)->value);
    EXPECT_TRUE(descriptor.ok()) << descriptor.status().ToString();
    if (!descriptor.ok()) return std::nullopt;
    return *descriptor;
  }

  static testing::EtcdServer* etcd_;
  std::unique_ptr<transfer::EtcdClient> client_;
};

testing::EtcdServer* EtcdMetadataTest::etcd_ = nullptr;

TEST_F(EtcdMetadataTest, ClientPutGetDeleteAndPrefix) {
  const std::string binary_value("v\0\xff\x01 with bytes", 15);
  MC_ASSERT_OK(client_->Put("basics/a", binary_value));
  MC_ASSERT_OK(client_->Put("basics/b", "2"));
  MC_ASSERT_OK(client_->Put("basicsX", "outside the prefix"));

  auto a = client_->Get("basics/a");
  MC_ASSERT_OK(a);
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->key, "basics/a");
  EXPECT_EQ((*a)->value, binary_value);
  EXPECT_EQ((*a)->lease, 0);
  EXPECT_GT((*a)->mod_revision, 0);

  auto listed = client_->GetPrefix("basics/");
  MC_ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key, "basics/a");
  EXPECT_EQ((*listed)[1].key, "basics/b");

  MC_ASSERT_OK(client_->Put("basics/empty", ""));
  auto empty = client_->Get("basics/empty");
  MC_ASSERT_OK(empty);
  ASSERT_TRUE(empty->has_value());
  EXPECT_EQ((*empty)->value, "");

  auto deleted = client_->Delete("basics/a");
  MC_ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 1);
  auto again = client_->Delete("basics/a");
  MC_ASSERT_OK(again);
  EXPECT_EQ(*again, 0);
  auto missing = client_->Get("basics/a");
  MC_ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST_F(EtcdMetadataTest, ClientLeaseKeepsKeyAliveAndItsExpiryDeletesIt) {
  auto lease = client_->GrantLease(seconds(1));  // etcd raises it to its minimum
  MC_ASSERT_OK(lease);
  EXPECT_GE(lease->ttl, seconds(1));
  MC_ASSERT_OK(client_->Put("lease/key", "v", lease->id));
  auto stored = client_->Get("lease/key");
  MC_ASSERT_OK(stored);
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->lease, lease->id);

  // Kept alive past its TTL, the key stays.
  const auto granted_at = Clock::now();
  while (Clock::now() - granted_at < lease->ttl + milliseconds(500)) {
    auto ttl = client_->KeepAlive(lease->id);
    MC_ASSERT_OK(ttl);
    EXPECT_GT(ttl->count(), 0);
    std::this_thread::sleep_for(milliseconds(300));
  }
  stored = client_->Get("lease/key");
  MC_ASSERT_OK(stored);
  EXPECT_TRUE(stored->has_value());

  // Left alone, the lease expires and takes the key with it.
  const auto last_renewal = Clock::now();
  EXPECT_TRUE(PollUntil(
      [&] {
        auto kv = client_->Get("lease/key");
        return kv.ok() && !kv->has_value();
      },
      lease->ttl + kExpirySlack))
      << "key still present " << SecondsSince(last_renewal) << " s after the last keep-alive";
  auto ttl = client_->KeepAlive(lease->id);
  MC_ASSERT_OK(ttl);
  EXPECT_EQ(ttl->count(), 0);  // etcd no longer knows it
  EXPECT_EQ(client_->Put("lease/key", "v", lease->id).code(), StatusCode::kLeaseExpired);
  EXPECT_EQ(client_->RevokeLease(lease->id).code(), StatusCode::kLeaseExpired);

  // Revoking a live lease deletes its keys at once.
  auto second = client_->GrantLease(seconds(30));
  MC_ASSERT_OK(second);
  MC_ASSERT_OK(client_->Put("lease/key2", "v", second->id));
  MC_ASSERT_OK(client_->RevokeLease(second->id));
  auto gone = client_->Get("lease/key2");
  MC_ASSERT_OK(gone);
  EXPECT_FALSE(gone->has_value());
}

TEST_F(EtcdMetadataTest, ClientFailsOverToALiveEndpointAndNamesEveryDeadOne) {
  const std::string dead1 = "127.0.0.1:" + std::to_string(testing::PickFreeTcpPort().value());
  const std::string dead2 = "127.0.0.1:" + std::to_string(testing::PickFreeTcpPort().value());
  transfer::EtcdClientOptions options;
  options.endpoints = {dead1, etcd_->endpoint()};
  options.request_timeout = milliseconds(2000);
  auto client = transfer::EtcdClient::Create(options);
  MC_ASSERT_OK(client);
  MC_ASSERT_OK((*client)->Put("failover/k", "v"));
  auto got = (*client)->Get("failover/k");
  MC_ASSERT_OK(got);
  EXPECT_TRUE(got->has_value());

  options.endpoints = {dead1, dead2};
  auto dead = transfer::EtcdClient::Create(options);
  MC_ASSERT_OK(dead);
  auto start = Clock::now();
  Status s = (*dead)->Put("failover/k", "v");
  EXPECT_LT(SecondsSince(start), 3.0);
  EXPECT_EQ(s.code(), StatusCode::kEtcdOperationError);
  EXPECT_THAT(s.message(), HasSubstr(dead1));
  EXPECT_THAT(s.message(), HasSubstr(dead2));
  EXPECT_THAT(s.message(), HasSubstr("put"));
}

TEST_F(EtcdMetadataTest, StorePublishesLooksUpAndUnpublishes) {
  transfer::MetadataStoreOptions options;
  options.connection_string = "etcd://" + etcd_->endpoint();
  options.lease_ttl = kLeaseTtl;
  auto store = transfer::CreateMetadataStore(options);
  MC_ASSERT_OK(store);

  transfer::SegmentDescriptor d;
  d.name = "store-test:1";
  d.protocol_version = 1;
  d.incarnation = 42;
  d.endpoints = {{"127.0.0.1", 1}};
  d.buffers = {{0x1000, 4096, "cpu", ""}};
  MC_ASSERT_OK((*store)->Publish(d));
  auto found = (*store)->Lookup(d.name);
  MC_ASSERT_OK(found);
  EXPECT_EQ(found->incarnation, 42u);
  ASSERT_EQ(found->buffers.size(), 1u);

  // The key is where the documented layout says, attached to a lease.
  auto kv = client_->Get("mooncake/transfer/v1/segments/store-test:1");
  MC_ASSERT_OK(kv);
  ASSERT_TRUE(kv->has_value());
  EXPECT_NE((*kv)->lease, 0);

  d.buffers.push_back({0x9000, 4096, "cpu", ""});
  MC_ASSERT_OK((*store)->Publish(d));
  found = (*store)->Lookup(d.name);
  MC_ASSERT_OK(found);
  EXPECT_EQ(found->buffers.size(), 2u);

  auto unknown = (*store)->Lookup("nobody:1");
  EXPECT_EQ(unknown.status().code(), StatusCode::kSegmentNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("nobody:1"));
  EXPECT_THAT(unknown.status().message(), HasSubstr("mooncake/transfer/v1/segments/nobody:1"));

  d.name = "another:2";
  EXPECT_EQ((*store)->Publish(d).code(), StatusCode::kInvalidParams);

  MC_ASSERT_OK((*store)->Unpublish("store-test:1"));
  EXPECT_EQ((*store)->Lookup("store-test:1").status().code(), StatusCode::kSegmentNotFound);
}

TEST_F(EtcdMetadataTest, StorePublishesAgainUnderANewLeaseWhenItsLeaseIsRevoked) {
  transfer::MetadataStoreOptions options;
  options.lease_ttl = kLeaseTtl;
  auto store = transfer::EtcdMetadataStore::Create(options, {etcd_->endpoint()});
  MC_ASSERT_OK(store);
  transfer::SegmentDescriptor d;
  d.name = "revoked:1";
  MC_ASSERT_OK((*store)->Publish(d));
  const transfer::EtcdLeaseId first = (*store)->lease_id();
  ASSERT_NE(first, 0);

  // Someone (an operator, or etcd losing the lease) ends it: the key goes with it.
  MC_ASSERT_OK(client_->RevokeLease(first));
  ASSERT_FALSE(Stored(d.name).has_value());

  // The next keep-alive (every TTL/3) notices and publishes the latest descriptor again.
  auto start = Clock::now();
  EXPECT_TRUE(PollUntil([&] { return Stored(d.name).has_value(); }, kLeaseTtl + kExpirySlack));
  std::printf("re-published %.2f s after the lease was revoked\n", SecondsSince(start));
  auto kv = client_->Get(transfer::EtcdMetadataStore::SegmentKey(d.name));
  MC_ASSERT_OK(kv);
  ASSERT_TRUE(kv->has_value());
  EXPECT_NE((*kv)->lease, first);
  EXPECT_EQ((*kv)->lease, (*store)->lease_id());
}

TEST_F(EtcdMetadataTest, TargetIsFoundByNameVanishesOnKillAndIsFoundAgainAfterRestart) {
  const uint16_t port = testing::PickFreeTcpPort().value();
  auto target = StartEtcdTarget(etcd_->endpoint(), port, kLeaseTtl);
  MC_ASSERT_OK(target);
  auto first = Stored(target->name);
  ASSERT_TRUE(first.has_value()) << "the target did not publish its descriptor";
  ASSERT_EQ(first->buffers.size(), 1u);
  EXPECT_EQ(first->buffers[0].address, target->buffer);

  // An engine that knows only the target's name and etcd finds it and reads its data.
  auto engine = StartInitiator(EngineOptionsFor(etcd_->endpoint()));
  MC_ASSERT_OK(engine);
  auto handle = (*engine)->OpenSegment(target->name);
  MC_ASSERT_OK(handle);
  MC_ASSERT_OK(ReadAndVerify(**engine, *handle, target->buffer, 4096 + 3, 3 * kMiB));

  // kill -9: nobody unpublishes, the lease runs out and takes the descriptor with it.
  target->process->Kill(SIGKILL);
  auto killed_at = Clock::now();
  EXPECT_TRUE(
      PollUntil([&] { return !Stored(target->name).has_value(); }, kLeaseTtl + kExpirySlack));
  std::printf("descriptor gone %.2f s after SIGKILL (lease TTL %lld s)\n", SecondsSince(killed_at),
              static_cast<long long>(kLeaseTtl.count()));
  auto missing =
      (*engine)->OpenSegment("127.0.0.1:" + std::to_string(testing::PickFreeTcpPort().value()));
  EXPECT_EQ(missing.status().code(), StatusCode::kSegmentNotFound);

  // Restarted on the same name: a new incarnation is published and served.
  auto restarted = StartEtcdTarget(etcd_->endpoint(), port, kLeaseTtl);
  MC_ASSERT_OK(restarted);
  auto second = Stored(restarted->name);
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(second->incarnation, first->incarnation);
  EXPECT_EQ(second->buffers[0].address, restarted->buffer);

  // The old handle still names the segment: the engine re-reads the descriptor when the
  // cached one does not cover the request (the new buffer may sit elsewhere) and reconnects.
  Status read = ReadAndVerify(**engine, *handle, restarted->buffer, 77, 2 * kMiB);
  if (!read.ok()) {
    // The first submit may still meet a connection to the dead incarnation; the next one
    // reconnects (docs/transfer_engine.md, "Failures").
    std::printf("first read after restart failed (retrying once): %s\n", read.ToString().c_str());
    read = ReadAndVerify(**engine, *handle, restarted->buffer, 77, 2 * kMiB);
  }
  MC_ASSERT_OK(read);
  auto refreshed = (*engine)->GetSegmentDescriptor(*handle);
  MC_ASSERT_OK(refreshed);
  EXPECT_EQ(refreshed->incarnation, second->incarnation);

  // Another engine finds the restarted target by name too.
  auto other = StartInitiator(EngineOptionsFor(etcd_->endpoint()));
  MC_ASSERT_OK(other);
  auto other_handle = (*other)->OpenSegment(restarted->name);
  MC_ASSERT_OK(other_handle);
  MC_ASSERT_OK(ReadAndVerify(**other, *other_handle, restarted->buffer, 0, 1 * kMiB));
  DestroyWithin(std::move(*other), seconds(10));
  DestroyWithin(std::move(*engine), seconds(10));
}

TEST_F(EtcdMetadataTest, CleanShutdownUnpublishesAtOnce) {
  // A long TTL: if the key goes, it is Unpublish, not expiry.
  auto target = StartEtcdTarget(etcd_->endpoint(), testing::PickFreeTcpPort().value(), seconds(30));
  MC_ASSERT_OK(target);
  ASSERT_TRUE(Stored(target->name).has_value());
  target->process->Kill(SIGTERM);
  auto exited = target->process->Wait(seconds(10));
  MC_ASSERT_OK(exited);
  EXPECT_EQ(*exited, 0);
  EXPECT_FALSE(Stored(target->name).has_value());
}

TEST_F(EtcdMetadataTest, MemoryRegisteredLaterIsFoundThroughEtcd) {
  auto target_engine = StartInitiator(EngineOptionsFor(etcd_->endpoint()));
  MC_ASSERT_OK(target_engine);
  auto first = (*target_engine)->AllocateBuffer(1 * kMiB);
  MC_ASSERT_OK(first);

  auto engine = StartInitiator(EngineOptionsFor(etcd_->endpoint()));
  MC_ASSERT_OK(engine);
  auto handle = (*engine)->OpenSegment((*target_engine)->local_server_name());
  MC_ASSERT_OK(handle);

  // Registered after the peer cached the descriptor: re-published, and re-read by the peer.
  auto second = (*target_engine)->AllocateBuffer(1 * kMiB);
  MC_ASSERT_OK(second);
  bench::FillPattern(static_cast<char*>(*second), 1 * kMiB, kTargetSeed);
  MC_ASSERT_OK(ReadAndVerify(**engine, *handle, reinterpret_cast<uint64_t>(*second), 0, kMiB));
  DestroyWithin(std::move(*engine), seconds(10));
  DestroyWithin(std::move(*target_engine), seconds(10));
}

TEST_F(EtcdMetadataTest, UcxKeysStayOutOfEtcdUnlessPublishedAndPeersFetchThemOverHello) {
  if (Status s = ProtocolAvailable("ucx"); !s.ok()) GTEST_SKIP() << s.ToString();
  for (bool publish : {false, true}) {
    SCOPED_TRACE(publish ? "publish_ucx_keys" : "keys kept out of etcd");
    transfer::TransferEngineOptions options = EngineOptionsFor(etcd_->endpoint());
    options.protocol = "ucx";
    options.publish_ucx_keys = publish;
    auto target = StartInitiator(options);
    MC_ASSERT_OK(target);
    auto buffer = (*target)->AllocateBuffer(kMiB);
    MC_ASSERT_OK(buffer);
    bench::FillPattern(static_cast<char*>(*buffer), kMiB, kTargetSeed);
    const std::string name = (*target)->local_server_name();

    // What any reader of etcd sees: the worker address always, the keys only when published.
    auto stored = Stored(name);
    ASSERT_TRUE(stored.has_value());
    EXPECT_FALSE(stored->ucx_address.empty());
    ASSERT_EQ(stored->buffers.size(), 1u);
    EXPECT_EQ(stored->buffers[0].ucx_rkey.empty(), !publish);

    // A ucx peer finds the segment through etcd and takes the keys from the segment itself.
    transfer::TransferEngineOptions initiator_options = EngineOptionsFor(etcd_->endpoint());
    initiator_options.protocol = "ucx";
    auto engine = StartInitiator(initiator_options);
    MC_ASSERT_OK(engine);
    auto handle = (*engine)->OpenSegment(name);
    MC_ASSERT_OK(handle);
    auto seen = (*engine)->GetSegmentDescriptor(*handle);
    MC_ASSERT_OK(seen);
    ASSERT_EQ(seen->buffers.size(), 1u);
    EXPECT_FALSE(seen->buffers[0].ucx_rkey.empty());
    MC_ASSERT_OK(
        ReadAndVerify(**engine, *handle, reinterpret_cast<uint64_t>(*buffer), 4096, kMiB - 4096));
    DestroyWithin(std::move(*engine), seconds(10));
    DestroyWithin(std::move(*target), seconds(10));
  }
}

// Needs no etcd at all: nothing listens on the port.
TEST(EtcdMetadataDownTest, EngineCreateFailsFastNamingTheEndpoint) {
  const std::string endpoint = "127.0.0.1:" + std::to_string(testing::PickFreeTcpPort().value());
  transfer::TransferEngineOptions options;
  options.metadata_server = "etcd://" + endpoint;
  auto start = Clock::now();
  auto engine = transfer::TransferEngine::Create(options);
  EXPECT_LT(SecondsSince(start), 5.0);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kEtcdOperationError);
  EXPECT_THAT(engine.status().message(), HasSubstr(endpoint));

  // The bench reports it and exits non-zero, just as fast.
  testing::ProcessOptions bench;
  bench.binary = testing::BinaryPath("transfer_engine_bench");
  bench.args = {"--mode=target", "--metadata_server=" + endpoint, "--buffer_size=1MiB"};
  auto process = testing::ChildProcess::Start(std::move(bench));
  MC_ASSERT_OK(process);
  auto exited = (*process)->Wait(seconds(5));
  MC_ASSERT_OK(exited);
  EXPECT_EQ(*exited, 1);
  EXPECT_THAT((*process)->ReadLog(), HasSubstr(endpoint));
}

// Restarts etcd, so it has its own.
TEST(EtcdMetadataRestartTest, DescriptorSurvivesEtcdRestartAndIsPutBackAfterDataLoss) {
  auto etcd = testing::EtcdServer::Start();
  MC_ASSERT_OK(etcd);
  auto client = ClientFor((*etcd)->endpoint());
  MC_ASSERT_OK(client);
  auto engine = StartInitiator(EngineOptionsFor((*etcd)->endpoint()));
  MC_ASSERT_OK(engine);
  const std::string key = transfer::EtcdMetadataStore::SegmentKey((*engine)->local_server_name());
  auto present = [&] {
    auto kv = (*client)->Get(key);
    return kv.ok() && kv->has_value();
  };
  ASSERT_TRUE(present());

  // Down (stopped cleanly) for longer than the lease TTL, restarted on its data: etcd renews
  // the leases it recovers, and the keep-alives (retrying with backoff meanwhile) resume.
  MC_ASSERT_OK((*etcd)->Stop());
  std::this_thread::sleep_for(kLeaseTtl + milliseconds(500));
  MC_ASSERT_OK((*etcd)->Restart(testing::EtcdData::kKeep));
  EXPECT_TRUE(PollUntil(present, seconds(5)));
  std::this_thread::sleep_for(kLeaseTtl + milliseconds(1000));  // past one TTL: kept alive
  EXPECT_TRUE(present()) << "the lease was not kept alive after the restart";

  // Restarted empty: the lease is unknown, so the engine grants a new one and puts the
  // latest descriptor back.
  (*etcd)->Kill();
  MC_ASSERT_OK((*etcd)->Restart(testing::EtcdData::kWipe));
  auto restarted_at = Clock::now();
  EXPECT_TRUE(PollUntil(present, kLeaseTtl + kExpirySlack));
  std::printf("descriptor put back %.2f s after etcd restarted empty\n",
              SecondsSince(restarted_at));
  DestroyWithin(std::move(*engine), seconds(10));
  EXPECT_FALSE(present());  // unpublished on destruction
}

}  // namespace
}  // namespace mooncake::integration
