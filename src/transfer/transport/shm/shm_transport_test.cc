// The shm transport in one process: an exporter (the target's side) and a transport (the
// initiator's side) talking over a real abstract socket. Mapping cache, invalidation on
// unregister and on owner exit (the use-after-unmap cases), range checks, process_vm fallback.

#include "transfer/transport/shm/shm_transport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "transfer/buffer_allocator.h"
#include "transfer/transport/shm/shm_exporter.h"

namespace mooncake::transfer::shm {
namespace {

using ::testing::HasSubstr;
constexpr uint64_t kSize = 4 << 20;

class ShmTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    incarnation_ = 0x5e000000ull + static_cast<uint64_t>(getpid()) * 16 + (++counter_);
    StartOwner();
    auto buffer = AllocateSharedBuffer(kSize, Prefault::kYes);
    ASSERT_TRUE(buffer.ok()) << buffer.status().ToString();
    shared_ = *buffer;
    owner_->Export(Address(), kSize, shared_.fd, 0);
    auto transport = ShmTransport::Create(ShmTransportOptions{"initiator"});
    ASSERT_TRUE(transport.ok()) << transport.status().ToString();
    transport_ = std::move(*transport);
    local_.assign(2 * kSize, 0);
  }
  void TearDown() override {
    transport_.reset();
    owner_.reset();
    FreeSharedBuffer(shared_);
  }

  void StartOwner() {
    ShmExporterOptions options;
    options.segment_name = "owner:1";
    options.incarnation = incarnation_;
    auto exporter = ShmExporter::Create(options);
    ASSERT_TRUE(exporter.ok()) << exporter.status().ToString();
    owner_ = std::move(*exporter);
  }

  uint64_t Address() const { return reinterpret_cast<uint64_t>(shared_.address); }
  char* Owned() const { return static_cast<char*>(shared_.address); }

  SegmentDescriptor Target() const {
    SegmentDescriptor d;
    d.name = "owner:1";
    d.incarnation = incarnation_;
    d.host_id = "this-host";
    d.shm_endpoint = owner_ ? owner_->endpoint() : last_endpoint_;
    d.buffers = {BufferDescriptor{Address(), kSize, "cpu", ""}};
    return d;
  }

  struct Run {
    std::vector<TransferStatus> statuses;
    std::vector<Slice> fallback;
    MoveOutcome outcome;
  };
  // Submits one slice per request, synchronously settled (or handed back in `fallback`).
  Run Submit(const SegmentDescriptor& target,
             const std::vector<std::tuple<TransferOpcode, char*, uint64_t, uint64_t>>& requests) {
    auto batch = std::make_shared<Batch>(requests.size());
    std::vector<Slice> slices;
    for (size_t i = 0; i < requests.size(); ++i) {
      auto [op, local, remote, length] = requests[i];
      batch->task(i).Start(1);
      Slice s;
      s.opcode = op;
      s.local = local;
      s.remote_address = remote;
      s.length = length;
      s.batch = batch;
      s.task = &batch->task(i);
      slices.push_back(std::move(s));
    }
    Run run;
    run.outcome = transport_->Move(target, slices, &run.fallback);
    EXPECT_TRUE(slices.empty());
    for (size_t i = 0; i < requests.size(); ++i) run.statuses.push_back(batch->task(i).Snapshot());
    return run;
  }

  // Waits (bounded) until the watcher thread has dropped or kept mappings as expected.
  bool WaitForMappings(uint64_t expected) {
    for (int i = 0; i < 2000; ++i) {
      if (transport_->stats().mappings == expected) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  static inline int counter_ = 0;
  uint64_t incarnation_ = 0;
  std::string last_endpoint_;
  std::unique_ptr<ShmExporter> owner_;
  SharedBuffer shared_;
  std::vector<char> local_;
  std::unique_ptr<ShmTransport> transport_;
};

TEST_F(ShmTransportTest, WritesAndReadsGoThroughOneCachedMapping) {
  for (size_t i = 0; i < kSize; ++i) local_[i] = static_cast<char>(i * 7 + 1);
  Run w = Submit(Target(), {{TransferOpcode::kWrite, local_.data(), Address() + 5, kSize - 5}});
  ASSERT_EQ(w.statuses[0].state, TransferState::kCompleted) << w.statuses[0].error.ToString();
  EXPECT_EQ(std::memcmp(Owned() + 5, local_.data(), kSize - 5), 0);
  Run r = Submit(Target(),
                 {{TransferOpcode::kRead, local_.data() + kSize, Address(), 1},
                  {TransferOpcode::kRead, local_.data() + kSize + 1, Address() + 1, kSize - 1}});
  for (const auto& st : r.statuses) ASSERT_EQ(st.state, TransferState::kCompleted);
  EXPECT_EQ(std::memcmp(local_.data() + kSize, Owned(), kSize), 0);
  const ShmStats stats = transport_->stats();
  EXPECT_EQ(stats.fetches, 1u);  // the second and third slices hit the cache
  EXPECT_EQ(stats.mappings, 1u);
  EXPECT_EQ(stats.memcpy_bytes, 2 * kSize - 5);
  EXPECT_EQ(stats.process_vm_bytes, 0u);
  EXPECT_EQ(owner_->watchers(), 1u);
}

TEST_F(ShmTransportTest, UnregisteredBufferIsNeverWrittenAndItsMappingIsDropped) {
  Run warm = Submit(Target(), {{TransferOpcode::kRead, local_.data(), Address(), 4096}});
  ASSERT_EQ(warm.statuses[0].state, TransferState::kCompleted);
  ASSERT_EQ(transport_->stats().mappings, 1u);

  std::memset(Owned(), 0x11, kSize);
  owner_->Unexport(Address());
  // The RELEASED notice lets the watcher drop the mapping without any transfer.
  EXPECT_TRUE(WaitForMappings(0)) << transport_->stats().mappings;

  // The initiator's descriptor still lists the buffer; the owner says no.
  std::memset(local_.data(), 0x22, kSize);
  Run w = Submit(Target(), {{TransferOpcode::kWrite, local_.data(), Address(), kSize}});
  ASSERT_EQ(w.statuses[0].state, TransferState::kFailed);
  EXPECT_THAT(w.statuses[0].error.message(), HasSubstr("outside the registered buffers"));
  EXPECT_THAT(w.statuses[0].error.message(), HasSubstr("owner:1"));
  EXPECT_TRUE(w.outcome.refresh_descriptor);
  for (size_t i = 0; i < kSize; ++i) ASSERT_EQ(Owned()[i], 0x11) << "byte " << i << " written";
}

TEST_F(ShmTransportTest, StaleSlotIsCaughtEvenWithoutTheNotice) {
  // A mapping still cached when the slot is cleared (the notice not yet read) is not used.
  Run warm = Submit(Target(), {{TransferOpcode::kRead, local_.data(), Address(), 4096}});
  ASSERT_EQ(warm.statuses[0].state, TransferState::kCompleted);
  std::memset(Owned(), 0x33, kSize);
  owner_->Unexport(Address());  // slot cleared before this returns
  Run w = Submit(Target(), {{TransferOpcode::kWrite, local_.data(), Address() + 100, 100}});
  EXPECT_EQ(w.statuses[0].state, TransferState::kFailed);
  for (size_t i = 0; i < kSize; ++i) ASSERT_EQ(Owned()[i], 0x33) << "byte " << i << " written";
}

TEST_F(ShmTransportTest, BufferRegisteredAgainAtTheSameAddressIsFetchedAgain) {
  Run first = Submit(Target(), {{TransferOpcode::kRead, local_.data(), Address(), 64}});
  ASSERT_EQ(first.statuses[0].state, TransferState::kCompleted);
  owner_->Unexport(Address());
  owner_->Export(Address(), kSize, shared_.fd, 0);  // new id, maybe the same slot
  std::memcpy(local_.data(), "fresh", 5);
  Run w = Submit(Target(), {{TransferOpcode::kWrite, local_.data(), Address() + 9, 5}});
  ASSERT_EQ(w.statuses[0].state, TransferState::kCompleted) << w.statuses[0].error.ToString();
  EXPECT_EQ(std::memcmp(Owned() + 9, "fresh", 5), 0);
  EXPECT_EQ(transport_->stats().fetches, 2u);
}

TEST_F(ShmTransportTest, OwnerExitFailsTransfersAndDropsMappings) {
  Run warm = Submit(Target(), {{TransferOpcode::kRead, local_.data(), Address(), 4096}});
  ASSERT_EQ(warm.statuses[0].state, TransferState::kCompleted);
  const SegmentDescriptor stale = Target();
  std::memset(Owned(), 0x44, kSize);
  last_endpoint_ = owner_->endpoint();
  owner_.reset();  // the owner exits: its watch connection hangs up
  EXPECT_TRUE(WaitForMappings(0));

  Run w = Submit(stale, {{TransferOpcode::kWrite, local_.data(), Address(), kSize}});
  ASSERT_EQ(w.statuses[0].state, TransferState::kFailed);
  EXPECT_THAT(w.statuses[0].error.message(), HasSubstr("owner:1"));
  EXPECT_THAT(w.statuses[0].error.message(), HasSubstr("exited"));
  EXPECT_TRUE(w.outcome.refresh_descriptor);
  EXPECT_TRUE(w.fallback.empty());
  for (size_t i = 0; i < kSize; ++i) ASSERT_EQ(Owned()[i], 0x44) << "byte " << i << " written";

  // A new incarnation under the same name is reached through its own endpoint.
  ++incarnation_;
  StartOwner();
  owner_->Export(Address(), kSize, shared_.fd, 0);
  Run again = Submit(Target(), {{TransferOpcode::kRead, local_.data(), Address(), 4096}});
  EXPECT_EQ(again.statuses[0].state, TransferState::kCompleted)
      << again.statuses[0].error.ToString();
}

TEST_F(ShmTransportTest, RangesOutsideTheExportedBufferAreNeverCopied) {
  // Export only the first half: the second half plays "memory next to a registered buffer".
  owner_->Unexport(Address());
  owner_->Export(Address(), kSize / 2, shared_.fd, 0);
  std::memset(Owned(), 0x55, kSize);
  std::memset(local_.data(), 0x66, kSize);
  Run w = Submit(Target(), {{TransferOpcode::kWrite, local_.data(), Address() + kSize / 2 - 10, 20},
                            {TransferOpcode::kWrite, local_.data(), Address() + kSize / 2, 1},
                            {TransferOpcode::kWrite, local_.data(), ~0ull - 5, 10}});
  for (const auto& st : w.statuses) {
    EXPECT_EQ(st.state, TransferState::kFailed);
    EXPECT_THAT(st.error.message(), HasSubstr("outside the registered buffers"));
  }
  for (size_t i = 0; i < kSize; ++i) ASSERT_EQ(Owned()[i], 0x55) << "byte " << i << " written";
}

TEST_F(ShmTransportTest, PrivateMemoryMovesWithProcessVm) {
  std::vector<char> private_memory(1 << 20, 'p');
  const uint64_t address = reinterpret_cast<uint64_t>(private_memory.data());
  owner_->Export(address, private_memory.size(), -1, 0);
  std::memset(local_.data(), 'w', 1000);
  Run w = Submit(Target(), {{TransferOpcode::kWrite, local_.data(), address + 10, 1000},
                            {TransferOpcode::kRead, local_.data() + kSize, address, 2000}});
  for (const auto& st : w.statuses) {
    ASSERT_EQ(st.state, TransferState::kCompleted) << st.error.ToString();
  }
  EXPECT_EQ(private_memory[9], 'p');
  EXPECT_EQ(private_memory[10], 'w');
  EXPECT_EQ(private_memory[1009], 'w');
  EXPECT_EQ(private_memory[1010], 'p');
  EXPECT_EQ(local_[kSize + 10], 'w');
  const ShmStats stats = transport_->stats();
  EXPECT_EQ(stats.process_vm_bytes, 3000u);
  EXPECT_EQ(stats.memcpy_bytes, 0u);
  EXPECT_EQ(stats.mappings, 0u);
  owner_->Unexport(address);
}

TEST_F(ShmTransportTest, OwnerRefusingTheHandshakeHandsSlicesBack) {
  // An owner of another incarnation at that endpoint (a forged descriptor) refuses HELLO: the
  // slices go back to the caller, for TCP, whose own incarnation check then decides.
  SegmentDescriptor forged = Target();
  forged.incarnation += 1;
  Run r = Submit(forged, {{TransferOpcode::kRead, local_.data(), Address(), 64}});
  EXPECT_EQ(r.fallback.size(), 1u);
  EXPECT_THAT(r.outcome.fallback_reason.message(), HasSubstr("incarnation"));
  EXPECT_EQ(r.statuses[0].state, TransferState::kWaiting);
}

TEST(ShmTransportReachableTest, OnlySameHostPeersWithAnEndpoint) {
  SegmentDescriptor d;
  d.host_id = "boot/1";
  d.shm_endpoint = "@x";
  EXPECT_TRUE(ShmTransport::Reachable(d, "boot/1"));
  EXPECT_FALSE(ShmTransport::Reachable(d, "boot/2"));  // another network namespace
  d.shm_endpoint.clear();
  EXPECT_FALSE(ShmTransport::Reachable(d, "boot/1"));  // a tcp-only engine
  d.shm_endpoint = "@x";
  d.host_id.clear();
  EXPECT_FALSE(ShmTransport::Reachable(d, ""));
}

}  // namespace
}  // namespace mooncake::transfer::shm
