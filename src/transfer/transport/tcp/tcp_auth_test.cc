// The TCP HELLO with a cluster secret, seen from raw sockets: a target that serves registered
// memory, and clients that do not hold the secret (garbage proofs, reflected proofs, requests
// pipelined behind HELLO) get a challenge, then "authentication failed" and a closed
// connection — never a descriptor, a byte of memory, or a write into it. And the initiator
// side (ConnectAndHandshake) against fake targets: it sends nothing but HELLO to a target that
// does not prove the secret.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "transfer/peer_auth.h"
#include "transfer/segment_descriptor_codec.h"
#include "transfer/transport/tcp/handshake.h"
#include "transfer/transport/tcp/socket_util.h"
#include "transfer/transport/tcp/tcp_transport.h"
#include "transfer/transport/tcp/wire_format.h"

namespace mooncake::transfer::tcp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

constexpr char kDescriptorMarker[] = "descriptor-of-the-secret-segment";
constexpr size_t kMemory = 64 << 10;

std::shared_ptr<const auth::ClusterSecret> Secret(const std::string& text) {
  return std::make_shared<const auth::ClusterSecret>(auth::ClusterSecret::FromText(text).value());
}

std::string Frame(FrameType type, std::string_view payload, int32_t status = 0,
                  uint64_t address = 0, uint64_t length_override = ~0ull) {
  FrameHeader h;
  h.type = type;
  h.status = status;
  h.address = address;
  h.length = length_override == ~0ull ? payload.size() : length_override;
  EncodedHeader raw = EncodeHeader(h);
  return std::string(reinterpret_cast<const char*>(raw.data()), raw.size()) + std::string(payload);
}

// Everything the server sends until it closes the connection (bounded: 5 s).
std::string ReadUntilClosed(int fd) {
  std::string got;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  char buf[4096];
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return got;
    got.append(buf, static_cast<size_t>(n));
  }
  ADD_FAILURE() << "the server kept the connection open";
  return got;
}

// Splits a byte stream into frames (header, payload).
std::vector<std::pair<FrameHeader, std::string>> Frames(const std::string& bytes) {
  std::vector<std::pair<FrameHeader, std::string>> out;
  size_t at = 0;
  while (bytes.size() - at >= kFrameHeaderSize) {
    auto h = DecodeHeader(reinterpret_cast<const uint8_t*>(bytes.data() + at));
    if (!h.ok() || bytes.size() - at - kFrameHeaderSize < h->PayloadBytes()) break;
    out.emplace_back(*h, bytes.substr(at + kFrameHeaderSize, h->PayloadBytes()));
    at += kFrameHeaderSize + h->PayloadBytes();
  }
  EXPECT_EQ(at, bytes.size()) << "trailing bytes that are no frame";
  return out;
}

class TcpAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    memory_.assign(kMemory, 'M');
    ASSERT_TRUE(registry_.Register(Address(), memory_.size(), "cpu").ok());
    TcpTransportOptions options;
    options.listen = HostPort{"127.0.0.1", 0};
    options.io_threads = 1;
    options.auth_secret = Secret("the-right-secret-0123456789");
    options.auth_refusals = &refusals_;
    SegmentDescriptor d;
    d.name = kDescriptorMarker;
    d.protocol_version = kProtocolVersion;
    server_ = TcpTransport::Create(
                  options, &registry_, [d] { return EncodeSegmentDescriptor(d); },
                  [](const SegmentDescriptor&) {})
                  .value();
  }

  uint64_t Address() const { return reinterpret_cast<uint64_t>(memory_.data()); }

  UniqueFd Connect() {
    auto fd = ConnectWithDeadline(HostPort{"127.0.0.1", server_->port()},
                                  Clock::now() + std::chrono::seconds(2));
    EXPECT_TRUE(fd.ok()) << fd.status().ToString();
    return fd.ok() ? std::move(*fd) : UniqueFd();
  }

  // Checks what an unauthenticated client got: at most the challenge and one HELLO_ACK
  // "authentication failed"; no descriptor and no byte of memory. Memory is unchanged.
  void ExpectNothingServed(const std::string& received) {
    EXPECT_THAT(received, Not(HasSubstr(kDescriptorMarker)));
    EXPECT_THAT(received, Not(HasSubstr("MMMMMMMM")));  // memory's contents
    auto frames = Frames(received);
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0].first.type, FrameType::kAuthChallenge);
    EXPECT_EQ(frames[1].first.type, FrameType::kHelloAck);
    EXPECT_EQ(frames[1].first.status, static_cast<int32_t>(StatusCode::kUnauthenticated));
    EXPECT_EQ(frames[1].second, "authentication failed");
    EXPECT_EQ(std::string(memory_.begin(), memory_.end()), std::string(kMemory, 'M'));
  }

  std::string memory_;
  MemoryRegistry registry_;
  AuthRefusals refusals_;
  std::unique_ptr<TcpTransport> server_;
};

TEST_F(TcpAuthTest, GarbageProofGetsNoDescriptor) {
  UniqueFd fd = Connect();
  const std::string hello = Frame(FrameType::kHello, EncodeHello({auth::RandomNonce(), "raw"}));
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  ASSERT_TRUE(SendAll(fd.get(), hello.data(), hello.size(), deadline).ok());
  // The challenge comes first and alone: wait for it before answering, as a real client does.
  EncodedHeader raw;
  ASSERT_TRUE(RecvAll(fd.get(), raw.data(), raw.size(), deadline).ok());
  auto header = DecodeHeader(raw.data());
  ASSERT_TRUE(header.ok());
  ASSERT_EQ(header->type, FrameType::kAuthChallenge);
  std::string challenge(header->length, '\0');
  ASSERT_TRUE(RecvAll(fd.get(), challenge.data(), challenge.size(), deadline).ok());
  EXPECT_THAT(challenge, Not(HasSubstr(kDescriptorMarker)));
  const std::string proof = Frame(FrameType::kAuthProof, std::string(32, '\x5a'));
  ASSERT_TRUE(SendAll(fd.get(), proof.data(), proof.size(), deadline).ok());
  std::string rest = ReadUntilClosed(fd.get());
  ExpectNothingServed(std::string(reinterpret_cast<const char*>(raw.data()), raw.size()) +
                      challenge + rest);
  EXPECT_EQ(refusals_.count(), 1u);
}

TEST_F(TcpAuthTest, TargetsOwnProofReflectedBackIsRefused) {
  UniqueFd fd = Connect();
  const std::string hello = Frame(FrameType::kHello, EncodeHello({auth::RandomNonce(), "raw"}));
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  ASSERT_TRUE(SendAll(fd.get(), hello.data(), hello.size(), deadline).ok());
  EncodedHeader raw;
  ASSERT_TRUE(RecvAll(fd.get(), raw.data(), raw.size(), deadline).ok());
  auto header = DecodeHeader(raw.data());
  ASSERT_TRUE(header.ok() && header->type == FrameType::kAuthChallenge);
  std::string payload(header->length, '\0');
  ASSERT_TRUE(RecvAll(fd.get(), payload.data(), payload.size(), deadline).ok());
  auto challenge = DecodeChallenge(payload);
  ASSERT_TRUE(challenge.ok());
  // The target's proof is a valid MAC under the secret, but for the other direction.
  const std::string proof = Frame(FrameType::kAuthProof, auth::AsBytes(challenge->proof));
  ASSERT_TRUE(SendAll(fd.get(), proof.data(), proof.size(), deadline).ok());
  ExpectNothingServed(std::string(reinterpret_cast<const char*>(raw.data()), raw.size()) + payload +
                      ReadUntilClosed(fd.get()));
}

TEST_F(TcpAuthTest, RequestsPipelinedBehindHelloAreNeitherServedNorApplied) {
  for (FrameType type : {FrameType::kWriteRequest, FrameType::kReadRequest, FrameType::kHello}) {
    SCOPED_TRACE(FrameTypeName(type));
    UniqueFd fd = Connect();
    std::string bytes = Frame(FrameType::kHello, EncodeHello({auth::RandomNonce(), "raw"}));
    if (type == FrameType::kWriteRequest) {
      bytes += Frame(type, std::string(4096, 'X'), 0, Address(), 4096);
    } else if (type == FrameType::kReadRequest) {
      bytes += Frame(type, "", 0, Address(), 4096);
    } else {
      bytes += Frame(type, EncodeHello({auth::RandomNonce(), "again"}));
    }
    ASSERT_TRUE(
        SendAll(fd.get(), bytes.data(), bytes.size(), Clock::now() + std::chrono::seconds(5)).ok());
    ExpectNothingServed(ReadUntilClosed(fd.get()));
  }
  EXPECT_EQ(refusals_.count(), 3u);
}

TEST_F(TcpAuthTest, InitiatorWithTheSecretIsServed) {
  auto hs = ConnectAndHandshake(HostPort{"127.0.0.1", server_->port()}, "good",
                                Secret("the-right-secret-0123456789").get(),
                                Clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(hs.ok()) << hs.status().ToString();
  EXPECT_EQ(hs->descriptor.name, kDescriptorMarker);
  EXPECT_EQ(refusals_.count(), 0u);
}

// A fake target on a raw socket: answers HELLO with `reply` and records what it receives.
class FakeTarget {
 public:
  explicit FakeTarget(std::string reply) : reply_(std::move(reply)) {
    listen_ = Listen(HostPort{"127.0.0.1", 0}).value();
    port_ = LocalPort(listen_.get()).value();
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeTarget() {
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return port_; }
  // Waits for the connection to end; the bytes received on it.
  std::string Join() {
    if (thread_.joinable()) thread_.join();
    return received_;
  }

 private:
  void Serve() {
    pollfd p{listen_.get(), POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return;
    UniqueFd c(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c.valid()) return;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    EncodedHeader raw;
    if (!RecvAll(c.get(), raw.data(), raw.size(), deadline).ok()) return;
    auto h = DecodeHeader(raw.data());
    if (!h.ok()) return;
    std::string payload(h->length, '\0');
    if (!RecvAll(c.get(), payload.data(), payload.size(), deadline).ok()) return;
    received_ = std::string(reinterpret_cast<const char*>(raw.data()), raw.size()) + payload;
    SendAll(c.get(), reply_.data(), reply_.size(), deadline).IgnoreError();
    received_ += ReadUntilClosed(c.get());
  }

  std::string reply_;
  UniqueFd listen_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::string received_;
};

size_t HelloBytes(const std::string& name) { return kFrameHeaderSize + 32 + name.size(); }

TEST(TcpAuthInitiatorTest, TargetAnsweringWithoutChallengeGetsNothingButHello) {
  SegmentDescriptor d;
  d.name = "impostor";
  d.protocol_version = kProtocolVersion;
  FakeTarget fake(Frame(FrameType::kHelloAck, EncodeSegmentDescriptor(d)));
  auto hs = ConnectAndHandshake(HostPort{"127.0.0.1", fake.port()}, "initiator",
                                Secret("the-right-secret-0123456789").get(),
                                Clock::now() + std::chrono::seconds(5));
  ASSERT_FALSE(hs.ok());
  EXPECT_EQ(hs.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(hs.status().message(), HasSubstr("does not prove the cluster secret"));
  EXPECT_EQ(fake.Join().size(), HelloBytes("initiator"));
}

TEST(TcpAuthInitiatorTest, TargetWithAForgedProofGetsNothingButHello) {
  ChallengePayload forged{auth::RandomNonce(), {}, "impostor"};
  forged.proof.fill(0x42);
  FakeTarget fake(Frame(FrameType::kAuthChallenge, EncodeChallenge(forged)));
  auto hs = ConnectAndHandshake(HostPort{"127.0.0.1", fake.port()}, "initiator",
                                Secret("the-right-secret-0123456789").get(),
                                Clock::now() + std::chrono::seconds(5));
  ASSERT_FALSE(hs.ok());
  EXPECT_EQ(hs.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(hs.status().message(), HasSubstr("authentication failed"));
  EXPECT_EQ(fake.Join().size(), HelloBytes("initiator"));  // no proof of ours for it to relay
}

TEST(TcpAuthInitiatorTest, InitiatorWithoutSecretSaysSoAndFails) {
  ChallengePayload challenge{auth::RandomNonce(), {}, "target"};
  FakeTarget fake(Frame(FrameType::kAuthChallenge, EncodeChallenge(challenge)));
  auto hs = ConnectAndHandshake(HostPort{"127.0.0.1", fake.port()}, "initiator", nullptr,
                                Clock::now() + std::chrono::seconds(5));
  ASSERT_FALSE(hs.ok());
  EXPECT_EQ(hs.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(hs.status().message(), HasSubstr("requires the cluster secret"));
  auto frames = Frames(fake.Join());
  ASSERT_EQ(frames.size(), 2u);  // HELLO, then AUTH_PROOF saying it has no secret
  EXPECT_EQ(frames[1].first.type, FrameType::kAuthProof);
  EXPECT_EQ(frames[1].first.status, static_cast<int32_t>(StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace mooncake::transfer::tcp
