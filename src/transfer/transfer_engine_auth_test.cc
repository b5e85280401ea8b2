// Two real engines in one process on 127.0.0.1 with and without the cluster secret
// (TransferEngineOptions::auth_secret): matching secrets transfer over tcp, shm and auto;
// every mismatch fails with kUnauthenticated naming authentication, before a byte moves; a
// rotated secret interoperates where each verifier accepts the other's signing key; a peer
// that takes over a segment's port without the secret receives no write and serves no read.
// The raw wire is checked in transport/tcp/tcp_auth_test.cc and transport/shm/shm_auth_test.cc.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "mooncake/transfer/transfer_engine.h"
#include "transfer/transfer_engine_impl.h"

namespace mooncake::transfer {
namespace {

using ::testing::HasSubstr;
constexpr uint64_t kSize = 1 << 20;
constexpr char kOld[] = "old-secret-0123456789abcdef";
constexpr char kNew[] = "new-secret-fedcba9876543210";

std::shared_ptr<const auth::ClusterSecret> Secret(const std::string& text) {
  auto secret = auth::ClusterSecret::FromText(text);
  EXPECT_TRUE(secret.ok()) << secret.status().ToString();
  return std::make_shared<const auth::ClusterSecret>(std::move(secret).value());
}

std::unique_ptr<TransferEngine> Engine(const std::string& protocol,
                                       std::shared_ptr<const auth::ClusterSecret> secret,
                                       const std::string& name = "127.0.0.1:0") {
  TransferEngineOptions options;
  options.local_server_name = name;
  options.protocol = protocol;
  options.prefault_buffers = false;
  options.connect_timeout = std::chrono::milliseconds(2000);
  options.auth_secret = std::move(secret);
  auto engine = TransferEngine::Create(options);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? std::move(*engine) : nullptr;
}

uint64_t Refusals(TransferEngine& engine) {
  return dynamic_cast<TransferEngineImpl&>(engine).auth_refusals();
}

// The target counts a refusal on its own thread, possibly after the initiator gave up: waits
// (bounded) until it has counted at least `n`.
uint64_t RefusalsAtLeast(TransferEngine& engine, uint64_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Refusals(engine) < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Refusals(engine);
}

// One request, waited for (bounded); the final status.
TransferStatus RunOne(TransferEngine& engine, const TransferRequest& request) {
  auto batch = engine.AllocateBatchId(1);
  EXPECT_TRUE(batch.ok());
  Status s = engine.SubmitTransfer(*batch, {&request, 1});
  if (!s.ok()) return TransferStatus{TransferState::kFailed, 0, s};
  engine.WaitBatch(*batch, std::chrono::steady_clock::now() + std::chrono::seconds(15))
      .IgnoreError();
  TransferStatus st = engine.GetTransferStatus(*batch, 0).value();
  EXPECT_TRUE(engine.FreeBatchId(*batch).ok());
  return st;
}

void Fill(char* data, size_t n, int seed) {
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>(i * 31 + seed);
}

bool Holds(const char* data, size_t n, int seed) {
  for (size_t i = 0; i < n; ++i) {
    if (data[i] != static_cast<char>(i * 31 + seed)) return false;
  }
  return true;
}

struct Pair {
  std::unique_ptr<TransferEngine> target, initiator;
  char* remote = nullptr;
  char* local = nullptr;
};

Pair MakePair(const std::string& protocol, std::shared_ptr<const auth::ClusterSecret> target_secret,
              std::shared_ptr<const auth::ClusterSecret> initiator_secret) {
  Pair p;
  p.target = Engine(protocol, std::move(target_secret));
  p.initiator = Engine(protocol, std::move(initiator_secret));
  if (!p.target || !p.initiator) return p;
  p.remote = static_cast<char*>(p.target->AllocateBuffer(kSize).value());
  p.local = static_cast<char*>(p.initiator->AllocateBuffer(kSize).value());
  Fill(p.remote, kSize, 1);
  Fill(p.local, kSize, 2);
  return p;
}

// Writes the local buffer over the remote one and reads it back into a cleared local buffer.
void ExpectReadAndWriteWork(Pair& p) {
  auto handle = p.initiator->OpenSegment(p.target->local_server_name());
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  TransferRequest w{TransferOpcode::kWrite, p.local, *handle, reinterpret_cast<uint64_t>(p.remote),
                    kSize};
  TransferStatus st = RunOne(*p.initiator, w);
  ASSERT_EQ(st.state, TransferState::kCompleted) << st.error.ToString();
  EXPECT_TRUE(Holds(p.remote, kSize, 2));
  std::memset(p.local, 0, kSize);
  Fill(p.remote, kSize, 3);
  TransferRequest r{TransferOpcode::kRead, p.local, *handle, reinterpret_cast<uint64_t>(p.remote),
                    kSize};
  st = RunOne(*p.initiator, r);
  ASSERT_EQ(st.state, TransferState::kCompleted) << st.error.ToString();
  EXPECT_TRUE(Holds(p.local, kSize, 3));
}

// The initiator cannot open the target: kUnauthenticated naming authentication, and neither
// side's buffer changed.
void ExpectRefused(Pair& p, const std::string& detail) {
  auto handle = p.initiator->OpenSegment(p.target->local_server_name());
  ASSERT_FALSE(handle.ok());
  EXPECT_EQ(handle.status().code(), StatusCode::kUnauthenticated) << handle.status().ToString();
  EXPECT_THAT(handle.status().message(), HasSubstr("authentication failed"));
  EXPECT_THAT(handle.status().message(), HasSubstr(detail));
  EXPECT_TRUE(Holds(p.remote, kSize, 1));
  EXPECT_TRUE(Holds(p.local, kSize, 2));
}

class TransferEngineAuthTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TransferEngineAuthTest, SameSecretReadsAndWrites) {
  Pair p = MakePair(GetParam(), Secret(kOld), Secret(kOld));
  ASSERT_TRUE(p.target && p.initiator);
  ExpectReadAndWriteWork(p);
  if (GetParam() != "tcp") {  // the bytes went through the authenticated shm control socket
    EXPECT_EQ(dynamic_cast<TransferEngineImpl&>(*p.initiator).shm_stats().memcpy_bytes, 2 * kSize);
  }
  EXPECT_EQ(Refusals(*p.target), 0u);
}

TEST_P(TransferEngineAuthTest, WrongSecretIsRefusedBothWays) {
  Pair p = MakePair(GetParam(), Secret(kOld), Secret(kNew));
  ASSERT_TRUE(p.target && p.initiator);
  // The initiator checks the target's proof first: it gives up before proving anything.
  ExpectRefused(p, "does not prove the cluster secret");
}

TEST_P(TransferEngineAuthTest, InitiatorWithoutSecretIsRefused) {
  Pair p = MakePair(GetParam(), Secret(kOld), nullptr);
  ASSERT_TRUE(p.target && p.initiator);
  ExpectRefused(p, "requires the cluster secret");
  EXPECT_GE(RefusalsAtLeast(*p.target, 1), 1u);  // it told the target it has none
}

TEST_P(TransferEngineAuthTest, TargetWithoutSecretIsRefusedByTheInitiator) {
  Pair p = MakePair(GetParam(), nullptr, Secret(kOld));
  ASSERT_TRUE(p.target && p.initiator);
  ExpectRefused(p, "does not prove the cluster secret");
}

INSTANTIATE_TEST_SUITE_P(Protocols, TransferEngineAuthTest, ::testing::Values("tcp", "shm", "auto"),
                         [](const auto& info) { return info.param; });

TEST(TransferEngineAuthRotationTest, InteroperatesWhereEachVerifierAcceptsTheOthersKey) {
  const std::string rolled = std::string(kNew) + "\n" + kOld;   // signs new, accepts both
  const std::string rolling = std::string(kOld) + "\n" + kNew;  // signs old, accepts both
  for (const auto& [target, initiator] : std::vector<std::pair<std::string, std::string>>{
           {rolled, rolling}, {rolling, rolled}, {rolling, kOld}, {kOld, rolling}}) {
    SCOPED_TRACE(target + " | " + initiator);
    Pair p = MakePair("tcp", Secret(target), Secret(initiator));
    ASSERT_TRUE(p.target && p.initiator);
    ExpectReadAndWriteWork(p);
  }
  // "new\nold" signs with new, which a side holding only "old" cannot verify: mutual
  // authentication fails whichever side holds which.
  {
    Pair p = MakePair("tcp", Secret(rolled), Secret(kOld));  // the initiator rejects the target
    ASSERT_TRUE(p.target && p.initiator);
    ExpectRefused(p, "does not prove the cluster secret");
  }
  {
    Pair p = MakePair("tcp", Secret(kOld), Secret(rolled));  // the target rejects the initiator
    ASSERT_TRUE(p.target && p.initiator);
    ExpectRefused(p, "refused our proof");
    EXPECT_GE(Refusals(*p.target), 1u);
  }
}

TEST(TransferEngineAuthTest, PublishingUcxKeysWithASecretIsRefused) {
  TransferEngineOptions options;
  options.auth_secret = Secret(kOld);
  options.publish_ucx_keys = true;
  Status s = options.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(s.message(), HasSubstr("publish_ucx_keys"));
  EXPECT_THAT(s.message(), HasSubstr("not authenticated"));
}

// A process that takes over a segment's port after it exited, without the secret, gets none
// of the initiator's writes and serves none of its reads: the reconnect fails authentication.
TEST(TransferEngineAuthTest, ImpostorOnTheSegmentsPortGetsNoWriteAndServesNoRead) {
  for (bool impostor_has_other_secret : {false, true}) {
    SCOPED_TRACE(impostor_has_other_secret ? "impostor with another secret" : "impostor open");
    auto target = Engine("tcp", Secret(kOld));
    auto initiator = Engine("tcp", Secret(kOld));
    ASSERT_TRUE(target && initiator);
    const std::string name = target->local_server_name();
    char* remote = static_cast<char*>(target->AllocateBuffer(kSize).value());
    char* local = static_cast<char*>(initiator->AllocateBuffer(kSize).value());
    const uint64_t address = reinterpret_cast<uint64_t>(remote);
    auto handle = initiator->OpenSegment(name);
    ASSERT_TRUE(handle.ok()) << handle.status().ToString();
    TransferRequest r{TransferOpcode::kRead, local, *handle, address, kSize};
    ASSERT_EQ(RunOne(*initiator, r).state, TransferState::kCompleted);

    target.reset();  // the real segment exits; the impostor listens on its port
    auto impostor = Engine("tcp", impostor_has_other_secret ? Secret(kNew) : nullptr, name);
    ASSERT_TRUE(impostor);
    char* bait = static_cast<char*>(impostor->AllocateBuffer(kSize).value());
    Fill(bait, kSize, 7);
    Fill(local, kSize, 8);

    TransferRequest w{TransferOpcode::kWrite, local, *handle, address, kSize};
    TransferStatus st = RunOne(*initiator, w);
    ASSERT_EQ(st.state, TransferState::kFailed);
    EXPECT_EQ(st.error.code(), StatusCode::kUnauthenticated) << st.error.ToString();
    EXPECT_THAT(st.error.message(), HasSubstr("authentication failed"));
    st = RunOne(*initiator, r);
    ASSERT_EQ(st.state, TransferState::kFailed);
    EXPECT_EQ(st.error.code(), StatusCode::kUnauthenticated) << st.error.ToString();
    EXPECT_TRUE(Holds(bait, kSize, 7)) << "the impostor's memory changed";
    EXPECT_TRUE(Holds(local, kSize, 8)) << "the refused read wrote the destination";
    EXPECT_TRUE(initiator->CloseSegment(*handle).ok());
  }
}

}  // namespace
}  // namespace mooncake::transfer
