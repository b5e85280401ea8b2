// Two engines in one process (one host): transport choice by `protocol`, shared vs private
// buffers, and buffers freed under a peer's cached mapping.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "mooncake/transfer/transfer_engine.h"
#include "transfer/transfer_engine_impl.h"

namespace mooncake::transfer {
namespace {

using ::testing::HasSubstr;
constexpr uint64_t kSize = 4 << 20;

std::unique_ptr<TransferEngine> Engine(const std::string& protocol, bool shareable = true) {
  TransferEngineOptions options;
  options.local_server_name = "127.0.0.1:0";
  options.protocol = protocol;
  options.shareable_buffers = shareable;
  options.prefault_buffers = false;
  auto engine = TransferEngine::Create(options);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? std::move(*engine) : nullptr;
}

shm::ShmStats Stats(TransferEngine& engine) {
  return dynamic_cast<TransferEngineImpl&>(engine).shm_stats();
}

// One request, waited for (bounded); returns the final status.
TransferStatus RunOne(TransferEngine& engine, const TransferRequest& request) {
  auto batch = engine.AllocateBatchId(1);
  EXPECT_TRUE(batch.ok());
  Status s = engine.SubmitTransfer(*batch, {&request, 1});
  if (!s.ok()) return TransferStatus{TransferState::kFailed, 0, s};
  TransferStatus st;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    st = engine.GetTransferStatus(*batch, 0).value();
  } while ((st.state == TransferState::kWaiting || st.state == TransferState::kPending) &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(engine.FreeBatchId(*batch).ok());
  return st;
}

struct Pair {
  std::unique_ptr<TransferEngine> target, initiator;
  char* remote = nullptr;
  char* local = nullptr;
  SegmentHandle handle = 0;
};

Pair Connect(const std::string& target_protocol, const std::string& initiator_protocol,
             bool target_shareable = true) {
  Pair p;
  p.target = Engine(target_protocol, target_shareable);
  p.initiator = Engine(initiator_protocol);
  if (!p.target || !p.initiator) return p;
  p.remote = static_cast<char*>(p.target->AllocateBuffer(kSize).value());
  p.local = static_cast<char*>(p.initiator->AllocateBuffer(kSize).value());
  auto handle = p.initiator->OpenSegment(p.target->local_server_name());
  EXPECT_TRUE(handle.ok()) << handle.status().ToString();
  p.handle = handle.ok() ? *handle : 0;
  return p;
}

void ExpectRoundTrip(Pair& p) {
  for (size_t i = 0; i < kSize; ++i) p.local[i] = static_cast<char>(i * 13);
  TransferRequest w{TransferOpcode::kWrite, p.local, p.handle, reinterpret_cast<uint64_t>(p.remote),
                    kSize};
  TransferStatus st = RunOne(*p.initiator, w);
  ASSERT_EQ(st.state, TransferState::kCompleted) << st.error.ToString();
  ASSERT_EQ(std::memcmp(p.remote, p.local, kSize), 0);
  std::memset(p.local, 0, kSize);
  TransferRequest r{TransferOpcode::kRead, p.local, p.handle, reinterpret_cast<uint64_t>(p.remote),
                    kSize};
  st = RunOne(*p.initiator, r);
  ASSERT_EQ(st.state, TransferState::kCompleted) << st.error.ToString();
  ASSERT_EQ(std::memcmp(p.remote, p.local, kSize), 0);
}

TEST(TransferEngineShmTest, AutoMovesSameHostTransfersByMemcpy) {
  Pair p = Connect("auto", "auto");
  ASSERT_NE(p.handle, 0u);
  ExpectRoundTrip(p);
  EXPECT_EQ(Stats(*p.initiator).memcpy_bytes, 2 * kSize);
  EXPECT_EQ(Stats(*p.initiator).mappings, 1u);
  auto d = p.initiator->GetSegmentDescriptor(p.handle);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->shm_endpoint.rfind("@mooncake-te/", 0), 0u) << d->shm_endpoint;
}

TEST(TransferEngineShmTest, TcpOnEitherSideMeansTcp) {
  {  // The initiator forces TCP.
    Pair p = Connect("auto", "tcp");
    ASSERT_NE(p.handle, 0u);
    ExpectRoundTrip(p);
    EXPECT_EQ(Stats(*p.initiator).memcpy_bytes, 0u);
  }
  {  // The target serves TCP only: no shm endpoint in its descriptor.
    Pair p = Connect("tcp", "auto");
    ASSERT_NE(p.handle, 0u);
    EXPECT_TRUE(p.initiator->GetSegmentDescriptor(p.handle)->shm_endpoint.empty());
    ExpectRoundTrip(p);
    EXPECT_EQ(Stats(*p.initiator).memcpy_bytes, 0u);
    EXPECT_EQ(Stats(*p.initiator).process_vm_bytes, 0u);
  }
}

TEST(TransferEngineShmTest, ShmProtocolRefusesASegmentWithoutSharedMemory) {
  auto target = Engine("tcp");
  auto initiator = Engine("shm");
  ASSERT_TRUE(target && initiator);
  auto handle = initiator->OpenSegment(target->local_server_name());
  ASSERT_FALSE(handle.ok());
  EXPECT_EQ(handle.status().code(), StatusCode::kNotSupported) << handle.status().ToString();
  EXPECT_THAT(handle.status().message(), HasSubstr(target->local_server_name()));
  EXPECT_THAT(handle.status().message(), HasSubstr("protocol shm"));
}

TEST(TransferEngineShmTest, UserRegisteredAndPrivateMemoryMoveWithProcessVm) {
  {  // Memory the user registered is never shared memory.
    Pair p = Connect("auto", "shm");
    ASSERT_NE(p.handle, 0u);
    std::vector<char> user(kSize, 'u');
    ASSERT_TRUE(p.target->RegisterLocalMemory(user.data(), user.size()).ok());
    std::memset(p.local, 'x', 100);
    TransferRequest w{TransferOpcode::kWrite, p.local, p.handle,
                      reinterpret_cast<uint64_t>(user.data()) + 1, 100};
    TransferStatus st = RunOne(*p.initiator, w);
    ASSERT_EQ(st.state, TransferState::kCompleted) << st.error.ToString();
    EXPECT_EQ(user[0], 'u');
    EXPECT_EQ(user[1], 'x');
    EXPECT_EQ(user[101], 'u');
    EXPECT_EQ(Stats(*p.initiator).process_vm_bytes, 100u);
    ASSERT_TRUE(p.target->UnregisterLocalMemory(user.data()).ok());
  }
  {  // shareable_buffers=false: AllocateBuffer memory is private.
    Pair p = Connect("auto", "auto", /*target_shareable=*/false);
    ASSERT_NE(p.handle, 0u);
    ExpectRoundTrip(p);
    EXPECT_EQ(Stats(*p.initiator).process_vm_bytes, 2 * kSize);
    EXPECT_EQ(Stats(*p.initiator).memcpy_bytes, 0u);
  }
}

TEST(TransferEngineShmTest, FreedBufferIsNeverWrittenThroughACachedMapping) {
  Pair p = Connect("auto", "shm");
  ASSERT_NE(p.handle, 0u);
  ExpectRoundTrip(p);  // maps the buffer
  const uint64_t old_address = reinterpret_cast<uint64_t>(p.remote);
  ASSERT_TRUE(p.target->FreeBuffer(p.remote).ok());
  // The owner's notice makes the initiator drop the mapping (and so the memory) promptly.
  for (int i = 0; i < 2000 && Stats(*p.initiator).mappings != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(Stats(*p.initiator).mappings, 0u);
  // The initiator's descriptor is stale (P2PHANDSHAKE pushes nothing): the owner refuses.
  TransferRequest w{TransferOpcode::kWrite, p.local, p.handle, old_address, 4096};
  TransferStatus st = RunOne(*p.initiator, w);
  ASSERT_EQ(st.state, TransferState::kFailed);
  EXPECT_THAT(st.error.message(), HasSubstr("outside the registered buffers"));
  // New memory registered later is reached through the refreshed descriptor.
  p.remote = static_cast<char*>(p.target->AllocateBuffer(kSize).value());
  auto d = p.initiator->GetSegmentDescriptor(p.handle);
  ASSERT_TRUE(d.ok());
  ExpectRoundTrip(p);
}

}  // namespace
}  // namespace mooncake::transfer
