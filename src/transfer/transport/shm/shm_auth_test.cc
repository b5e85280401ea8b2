// The shm control socket with a cluster secret: an exporter and a transport in one process
// over a real abstract socket, and raw clients. Only an initiator that proves the secret gets
// the control table fd or a buffer's memfd; every mismatch is kUnauthenticated, and nothing is
// mapped, read or written.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "transfer/buffer_allocator.h"
#include "transfer/peer_auth.h"
#include "transfer/transport/shm/shm_exporter.h"
#include "transfer/transport/shm/shm_transport.h"

namespace mooncake::transfer::shm {
namespace {

using ::testing::HasSubstr;
constexpr uint64_t kSize = 1 << 20;
constexpr char kRight[] = "the-right-secret-0123456789";
constexpr char kWrong[] = "a-wrong-secret-0123456789";
constexpr std::chrono::milliseconds kIo{2000};

std::shared_ptr<const auth::ClusterSecret> Secret(const std::string& text) {
  return std::make_shared<const auth::ClusterSecret>(auth::ClusterSecret::FromText(text).value());
}

class ShmAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    incarnation_ = 0xa0000000ull + static_cast<uint64_t>(getpid()) * 16 + (++counter_);
    auto buffer = AllocateSharedBuffer(kSize, Prefault::kYes);
    ASSERT_TRUE(buffer.ok()) << buffer.status().ToString();
    shared_ = *buffer;
    std::memset(shared_.address, 'M', kSize);
  }
  void TearDown() override {
    owner_.reset();
    FreeSharedBuffer(shared_);
  }

  void StartOwner(std::shared_ptr<const auth::ClusterSecret> secret) {
    ShmExporterOptions options;
    options.segment_name = "owner:1";
    options.incarnation = incarnation_;
    options.io_timeout = kIo;
    options.auth_secret = std::move(secret);
    options.auth_refusals = &refusals_;
    owner_ = ShmExporter::Create(options).value();
    owner_->Export(Address(), kSize, shared_.fd, 0);
  }

  std::unique_ptr<ShmTransport> Initiator(std::shared_ptr<const auth::ClusterSecret> secret) {
    ShmTransportOptions options;
    options.local_name = "initiator:2";
    options.io_timeout = kIo;
    options.auth_secret = std::move(secret);
    return ShmTransport::Create(options).value();
  }

  uint64_t Address() const { return reinterpret_cast<uint64_t>(shared_.address); }
  bool OwnerUntouched() const {
    const char* p = static_cast<const char*>(shared_.address);
    for (uint64_t i = 0; i < kSize; ++i) {
      if (p[i] != 'M') return false;
    }
    return true;
  }

  SegmentDescriptor Target() const {
    SegmentDescriptor d;
    d.name = "owner:1";
    d.incarnation = incarnation_;
    d.host_id = "this-host";
    d.shm_endpoint = owner_->endpoint();
    d.buffers = {BufferDescriptor{Address(), kSize, "cpu", ""}};
    return d;
  }

  // One slice through `transport`; its task's final state (or kWaiting when handed back).
  TransferStatus MoveOne(ShmTransport& transport, TransferOpcode op, char* local,
                         std::vector<Slice>* fallback) {
    auto batch = std::make_shared<Batch>(1);
    batch->task(0).Start(1);
    Slice s;
    s.opcode = op;
    s.local = local;
    s.remote_address = Address();
    s.length = 4096;
    s.batch = batch;
    s.task = &batch->task(0);
    std::vector<Slice> slices;
    slices.push_back(std::move(s));
    transport.Move(Target(), slices, fallback);
    return batch->task(0).Snapshot();
  }

  // Asserts that `transport` is refused: kUnauthenticated naming `detail`, slices handed back
  // untouched, nothing mapped, the owner's memory unchanged.
  void ExpectRefused(ShmTransport& transport, const std::string& detail) {
    Status connected = transport.Connect(Target());
    EXPECT_EQ(connected.code(), StatusCode::kUnauthenticated) << connected.ToString();
    EXPECT_THAT(connected.message(), HasSubstr("authentication failed"));
    EXPECT_THAT(connected.message(), HasSubstr(detail));
    std::vector<char> local(4096, 'L');
    for (TransferOpcode op : {TransferOpcode::kWrite, TransferOpcode::kRead}) {
      std::vector<Slice> fallback;
      MoveOne(transport, op, local.data(), &fallback);
      EXPECT_EQ(fallback.size(), 1u);  // handed back for TCP, whose HELLO refuses it too
    }
    EXPECT_EQ(local, std::vector<char>(4096, 'L'));
    EXPECT_EQ(transport.stats().mappings, 0u);
    EXPECT_EQ(transport.stats().memcpy_bytes + transport.stats().process_vm_bytes, 0u);
    EXPECT_TRUE(OwnerUntouched());
  }

  static inline int counter_ = 0;
  uint64_t incarnation_ = 0;
  SharedBuffer shared_;
  AuthRefusals refusals_;
  std::unique_ptr<ShmExporter> owner_;
};

TEST_F(ShmAuthTest, SameSecretMapsAndMoves) {
  StartOwner(Secret(kRight));
  auto transport = Initiator(Secret(kRight));
  ASSERT_TRUE(transport->Connect(Target()).ok());
  std::vector<char> local(4096, 'w');
  std::vector<Slice> fallback;
  TransferStatus st = MoveOne(*transport, TransferOpcode::kWrite, local.data(), &fallback);
  EXPECT_EQ(st.state, TransferState::kCompleted) << st.error.ToString();
  EXPECT_EQ(static_cast<char*>(shared_.address)[4095], 'w');
  EXPECT_EQ(transport->stats().mappings, 1u);  // the FETCH authenticated too
  EXPECT_EQ(refusals_.count(), 0u);
}

TEST_F(ShmAuthTest, WrongSecretIsRefused) {
  StartOwner(Secret(kRight));
  auto transport = Initiator(Secret(kWrong));
  ExpectRefused(*transport, "does not prove the cluster secret");
}

TEST_F(ShmAuthTest, InitiatorWithoutSecretIsRefused) {
  StartOwner(Secret(kRight));
  auto transport = Initiator(nullptr);
  ExpectRefused(*transport, "requires the cluster secret");
}

TEST_F(ShmAuthTest, OwnerWithoutSecretIsRefusedByTheInitiator) {
  StartOwner(nullptr);
  auto transport = Initiator(Secret(kRight));
  ExpectRefused(*transport, "does not prove the cluster secret");
}

// A raw client that answers the challenge with garbage, or with another request: no fd.
TEST_F(ShmAuthTest, RawClientWithoutProofGetsNoFd) {
  StartOwner(Secret(kRight));
  for (MessageType type : {MessageType::kHello, MessageType::kFetch}) {
    for (bool garbage_proof : {true, false}) {
      SCOPED_TRACE(std::to_string(static_cast<int>(type)) + (garbage_proof ? " garbage" : " none"));
      auto c = ConnectAbstract(owner_->endpoint());
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      Request request;
      request.type = type;
      request.incarnation = incarnation_;
      request.address = Address();
      request.length = 4096;
      request.nonce = auth::RandomNonce();
      CopyText(request.name, "raw");
      ASSERT_TRUE(SendMessage(c->get(), &request, sizeof(request), -1, kIo).ok());
      Reply reply;
      UniqueFd fd;
      ASSERT_TRUE(ReceiveMessage(c->get(), &reply, sizeof(reply), &fd, kIo).ok());
      EXPECT_EQ(reply.type, MessageType::kChallenge);
      EXPECT_FALSE(fd.valid());
      EXPECT_EQ(reply.slots, 0u);
      EXPECT_EQ(reply.base, 0u);
      Request answer = request;  // a second request instead of a proof
      if (garbage_proof) {
        answer.type = MessageType::kProof;
        answer.proof.fill(0x17);
      }
      ASSERT_TRUE(SendMessage(c->get(), &answer, sizeof(answer), -1, kIo).ok());
      ASSERT_TRUE(ReceiveMessage(c->get(), &reply, sizeof(reply), &fd, kIo).ok());
      EXPECT_EQ(reply.status, static_cast<int32_t>(StatusCode::kUnauthenticated));
      EXPECT_EQ(TextOf(reply.message), "authentication failed");
      EXPECT_FALSE(fd.valid());
      EXPECT_EQ(reply.base, 0u);
      EXPECT_EQ(reply.length, 0u);
      UniqueFd more;
      EXPECT_FALSE(ReceiveMessage(c->get(), &reply, sizeof(reply), &more, kIo).ok());
      EXPECT_FALSE(more.valid());
    }
  }
  EXPECT_EQ(refusals_.count(), 4u);
  EXPECT_EQ(owner_->watchers(), 0u);
}

}  // namespace
}  // namespace mooncake::transfer::shm
