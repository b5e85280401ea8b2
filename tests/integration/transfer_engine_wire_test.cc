// A target's TCP port seen from a raw socket: malformed, truncated, out-of-range and
// wrong-version frames must cost only the offending connection, and running out of file
// descriptors must neither spin nor flood the log. Headers are encoded here by hand from the
// layout documented in src/transfer/transport/tcp/wire_format.h, independently of its encoder.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_pattern.h"
#include "testing/temp_dir.h"
#include "transfer_test_support.h"

namespace mooncake::integration {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1 << 20;

class TransferEngineWireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto engine = StartInitiator();
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
  }
  void TearDown() override { DestroyWithin(std::move(engine_), seconds(15)); }

  std::unique_ptr<transfer::TransferEngine> engine_;
};

constexpr uint32_t kMagic = 0x4554434D;  // "MCTE"
constexpr size_t kHeaderSize = 40;
enum : uint8_t {
  kHello = 1,
  kHelloAck = 2,
  kReadRequest = 3,
  kReadResponse = 4,
  kWriteRequest = 5,
  kWriteResponse = 6
};

std::string Header(uint8_t type, uint64_t id, uint64_t address, uint64_t length,
                   uint16_t version = 2, uint32_t magic = kMagic) {
  std::string h(kHeaderSize, '\0');
  const int32_t status = 0;
  const uint8_t flags = 0;
  std::memcpy(&h[0], &magic, 4);
  std::memcpy(&h[4], &version, 2);
  std::memcpy(&h[6], &type, 1);
  std::memcpy(&h[7], &flags, 1);
  std::memcpy(&h[8], &status, 4);
  std::memcpy(&h[16], &id, 8);
  std::memcpy(&h[24], &address, 8);
  std::memcpy(&h[32], &length, 8);
  return h;
}

struct Frame {
  uint32_t magic = 0;
  uint16_t version = 0;
  uint8_t type = 0;
  int32_t status = 0;
  uint64_t id = 0, address = 0, length = 0;
  std::string payload;
};

// A blocking client socket with deadlines on every read.
class RawClient {
 public:
  static std::optional<RawClient> Connect(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return std::nullopt;
    }
    return RawClient(fd);
  }
  RawClient(RawClient&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool Send(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads exactly `length` bytes; false on close, error or deadline.
  bool Recv(char* out, size_t length, Clock::time_point deadline) {
    size_t done = 0;
    while (done < length) {
      int left = static_cast<int>(
          std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count());
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, left) <= 0) return false;
      ssize_t n = ::recv(fd_, out + done, length - done, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // The next frame; READ_REQUESTs never come back, so every frame's payload is `length` bytes.
  std::optional<Frame> ReadFrame(milliseconds timeout = milliseconds(5000)) {
    const auto deadline = Clock::now() + timeout;
    char h[kHeaderSize];
    if (!Recv(h, kHeaderSize, deadline)) return std::nullopt;
    Frame f;
    std::memcpy(&f.magic, h, 4);
    std::memcpy(&f.version, h + 4, 2);
    std::memcpy(&f.type, h + 6, 1);
    std::memcpy(&f.status, h + 8, 4);
    std::memcpy(&f.id, h + 16, 8);
    std::memcpy(&f.address, h + 24, 8);
    std::memcpy(&f.length, h + 32, 8);
    if (f.length > 64 * kMiB) return std::nullopt;
    f.payload.resize(f.length);
    if (!Recv(f.payload.data(), f.length, deadline)) return std::nullopt;
    return f;
  }

  // True when the peer closes (EOF or reset) within `timeout`; frames sent before the close
  // are collected into `before_close`.
  bool ClosedByPeer(milliseconds timeout, std::string* before_close = nullptr) {
    const auto deadline = Clock::now() + timeout;
    char buf[4096];
    for (;;) {
      int left = static_cast<int>(
          std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count());
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, left) <= 0) return false;
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) return true;
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno == ECONNRESET;
      }
      if (before_close != nullptr) before_close->append(buf, static_cast<size_t>(n));
    }
  }

  void Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

 private:
  explicit RawClient(int fd) : fd_(fd) {}
  int fd_;
};

// Connects and completes the HELLO exchange; the ACK carries the target's descriptor.
std::optional<RawClient> ConnectAndHello(uint16_t port) {
  auto c = RawClient::Connect(port);
  EXPECT_TRUE(c.has_value());
  if (!c) return std::nullopt;
  // v2 HELLO: a 32-byte nonce, then the name (the target has no secret: no challenge).
  const std::string payload = std::string(32, '\x01') + "raw-test-client";
  EXPECT_TRUE(c->Send(Header(kHello, 77, 0, payload.size()) + payload));
  auto ack = c->ReadFrame();
  EXPECT_TRUE(ack.has_value()) << "no HELLO_ACK";
  if (!ack) return std::nullopt;
  EXPECT_EQ(ack->magic, kMagic);
  EXPECT_EQ(ack->version, 2);
  EXPECT_EQ(ack->type, kHelloAck);
  EXPECT_EQ(ack->status, 0);
  EXPECT_EQ(ack->id, 77u);
  EXPECT_THAT(ack->payload, HasSubstr("\"buffers\""));
  return c;
}

TEST_F(TransferEngineWireTest, MalformedFramesDropOnlyTheOffendingConnection) {
  auto target = StartTarget(16 * kMiB);
  MC_ASSERT_OK(target);
  const uint16_t port = target->port;
  const uint64_t base = target->buffer;
  // The engine's connections are open before the abuse and must survive it.
  auto handle = engine_->OpenSegment(target->name);
  MC_ASSERT_OK(handle);
  auto local_or = engine_->AllocateBuffer(4 * kMiB);
  MC_ASSERT_OK(local_or);
  char* local = static_cast<char*>(*local_or);
  const milliseconds kClose(5000);

  {  // 64 bytes of garbage instead of a HELLO: dropped.
    auto c = RawClient::Connect(port);
    ASSERT_TRUE(c.has_value());
    std::vector<char> junk = RandomBytes(64, 4242);
    junk[0] = 'X';  // never the magic
    ASSERT_TRUE(c->Send(std::string(junk.begin(), junk.end())));
    EXPECT_TRUE(c->ClosedByPeer(kClose)) << "garbage did not get the connection closed";
  }
  {  // A valid READ_REQUEST, but before HELLO: dropped.
    auto c = RawClient::Connect(port);
    ASSERT_TRUE(c.has_value());
    ASSERT_TRUE(c->Send(Header(kReadRequest, 1, base, 64)));
    EXPECT_TRUE(c->ClosedByPeer(kClose)) << "READ_REQUEST before HELLO was served";
  }
  {  // Requests outside the buffer get error replies; the connection stays usable.
    auto c = ConnectAndHello(port);
    ASSERT_TRUE(c.has_value());
    const std::vector<std::pair<uint64_t, uint64_t>> outside = {
        {8, 16}, {base + 16 * kMiB - 8, 16}, {base - 1, 2}, {~0ull - 7, 16}, {base, 16 * kMiB + 1}};
    uint64_t id = 100;
    for (auto [address, length] : outside) {
      ASSERT_TRUE(c->Send(Header(kReadRequest, ++id, address, length)));
      auto reply = c->ReadFrame();
      ASSERT_TRUE(reply.has_value())
          << "no reply to an out-of-range READ at 0x" << std::hex << address;
      EXPECT_EQ(reply->type, kReadResponse);
      EXPECT_EQ(reply->id, id);
      EXPECT_EQ(reply->status, static_cast<int32_t>(StatusCode::kInvalidParams));
      EXPECT_THAT(reply->payload, HasSubstr("outside the registered buffers"));
    }
    // An out-of-range WRITE: its payload is consumed and discarded, the stream stays in sync.
    ASSERT_TRUE(c->Send(Header(kWriteRequest, ++id, 64, 1000) + std::string(1000, 'w')));
    auto wreply = c->ReadFrame();
    ASSERT_TRUE(wreply.has_value());
    EXPECT_EQ(wreply->type, kWriteResponse);
    EXPECT_EQ(wreply->id, id);
    EXPECT_EQ(wreply->status, static_cast<int32_t>(StatusCode::kInvalidParams));
    // In-range requests on the same connection still work.
    ASSERT_TRUE(c->Send(Header(kReadRequest, ++id, base + 1000, 4000)));
    auto good = c->ReadFrame();
    ASSERT_TRUE(good.has_value());
    EXPECT_EQ(good->type, kReadResponse);
    EXPECT_EQ(good->id, id);
    EXPECT_EQ(good->status, 0);
    ASSERT_EQ(good->payload.size(), 4000u);
    EXPECT_EQ(bench::FirstMismatch(good->payload.data(), 4000, kTargetSeed, 1000), -1);
    ASSERT_TRUE(c->Send(Header(kWriteRequest, ++id, base + 2 * kMiB, 5) + "hello"));
    auto written = c->ReadFrame();
    ASSERT_TRUE(written.has_value());
    EXPECT_EQ(written->type, kWriteResponse);
    EXPECT_EQ(written->status, 0);
    EXPECT_EQ(written->length, 0u);
    ASSERT_TRUE(c->Send(Header(kReadRequest, ++id, base + 2 * kMiB, 5)));
    auto back = c->ReadFrame();
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->payload, "hello");
    // An unknown frame type: dropped.
    ASSERT_TRUE(c->Send(Header(99, ++id, base, 0)));
    EXPECT_TRUE(c->ClosedByPeer(kClose)) << "unknown frame type was accepted";
  }
  {  // Another protocol version: told why (HELLO_ACK with kInvalidVersion), then dropped.
    auto c = RawClient::Connect(port);
    ASSERT_TRUE(c.has_value());
    const std::string name = "future-client";
    ASSERT_TRUE(c->Send(Header(kHello, 5, 0, name.size(), /*version=*/3) + name));
    std::string before;
    EXPECT_TRUE(c->ClosedByPeer(kClose, &before)) << "wrong version was accepted";
    ASSERT_GE(before.size(), kHeaderSize) << "no explanation before the close";
    int32_t status;
    std::memcpy(&status, before.data() + 8, 4);
    EXPECT_EQ(static_cast<uint8_t>(before[6]), kHelloAck);
    EXPECT_EQ(status, static_cast<int32_t>(StatusCode::kInvalidVersion));
    EXPECT_THAT(before.substr(kHeaderSize), HasSubstr("v3"));
  }
  {  // Frames announcing absurd payloads are refused before anything is allocated or read.
    auto c = RawClient::Connect(port);
    ASSERT_TRUE(c.has_value());
    ASSERT_TRUE(c->Send(Header(kHello, 1, 0, 1ull << 40)));
    EXPECT_TRUE(c->ClosedByPeer(kClose)) << "a 1 TiB HELLO was accepted";
    auto d = ConnectAndHello(port);
    ASSERT_TRUE(d.has_value());
    ASSERT_TRUE(d->Send(Header(kReadRequest, 2, base, 3ull << 30)));
    EXPECT_TRUE(d->ClosedByPeer(kClose)) << "a 3 GiB READ_REQUEST was accepted";
  }
  {  // Truncated frames and silent connections abandoned by the client.
    for (int i = 0; i < 20; ++i) {
      auto c = RawClient::Connect(port);
      ASSERT_TRUE(c.has_value());
      if (i % 4 == 1) {
        ASSERT_TRUE(c->Send(Header(kHello, 1, 0, 10).substr(0, 20)));
      }
      if (i % 4 == 2) {
        ASSERT_TRUE(c->Send(Header(kHello, 1, 0, 100) + "short"));
      }
      if (i % 4 == 3) {
        auto h = ConnectAndHello(port);
        ASSERT_TRUE(h.has_value());
        ASSERT_TRUE(h->Send(Header(kWriteRequest, 9, base, kMiB) + std::string(10, 'x')));
      }
    }
  }

  // After all that the target process is unharmed: the engine's existing connections and a
  // fresh engine both transfer correctly.
  EXPECT_TRUE(target->process->Running());
  transfer::TransferRequest read{transfer::TransferOpcode::kRead, local, *handle, base + 3 * kMiB,
                                 4 * kMiB};
  MC_ASSERT_OK(RunBatch(*engine_, {&read, 1}, seconds(10)));
  EXPECT_EQ(bench::FirstMismatch(local, 4 * kMiB, kTargetSeed, 3 * kMiB), -1);
  auto fresh = StartInitiator();
  MC_ASSERT_OK(fresh);
  auto fresh_handle = (*fresh)->OpenSegment(target->name);
  MC_ASSERT_OK(fresh_handle);
  auto fresh_local = (*fresh)->AllocateBuffer(kMiB);
  MC_ASSERT_OK(fresh_local);
  transfer::TransferRequest fresh_read{transfer::TransferOpcode::kRead, *fresh_local, *fresh_handle,
                                       base + 2 * kMiB, 5};
  MC_ASSERT_OK(RunBatch(**fresh, {&fresh_read, 1}, seconds(10)));
  EXPECT_EQ(std::string(static_cast<char*>(*fresh_local), 5), "hello");
  DestroyWithin(std::move(*fresh), seconds(15));
}

// CPU seconds `pid` has used so far (all threads).
double CpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {  // field 3 is the state; utime is 14, stime 15
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

TEST_F(TransferEngineWireTest, DescriptorExhaustionNeitherSpinsNorFloodsTheLog) {
  const std::string prlimit = "/usr/bin/prlimit";
  if (access(prlimit.c_str(), X_OK) != 0) GTEST_SKIP() << prlimit << " is not installed";
  // A target allowed 32 descriptors, about 10 of which it uses itself.
  auto target = StartTarget(4 * kMiB, 0, {prlimit, "--nofile=32", "--"});
  MC_ASSERT_OK(target);
  std::vector<RawClient> clients;
  for (int i = 0; i < 40; ++i) {  // the kernel completes them all; the target cannot accept all
    auto c = RawClient::Connect(target->port);
    ASSERT_TRUE(c.has_value());
    clients.push_back(std::move(*c));
  }
  std::this_thread::sleep_for(milliseconds(100));
  const double cpu_before = CpuSeconds(target->process->pid());
  const size_t log_before = target->process->ReadLog().size();
  std::this_thread::sleep_for(seconds(1));
  const double cpu_used = CpuSeconds(target->process->pid()) - cpu_before;
  const size_t log_growth = target->process->ReadLog().size() - log_before;
  std::printf("out of descriptors for 1 s: %.2f CPU s, %zu log bytes\n", cpu_used, log_growth);
  EXPECT_LT(cpu_used, 0.3) << "the target spins while it cannot accept";
  EXPECT_LT(log_growth, 16384u) << "the target floods its log while it cannot accept";

  // Once descriptors are free again the target serves as before.
  clients.clear();
  auto handle = engine_->OpenSegment(target->name);
  MC_ASSERT_OK(handle);
  auto local = engine_->AllocateBuffer(kMiB);
  MC_ASSERT_OK(local);
  transfer::TransferRequest read{transfer::TransferOpcode::kRead, *local, *handle,
                                 target->buffer + 3, kMiB};
  MC_ASSERT_OK(RunBatch(*engine_, {&read, 1}, seconds(10)));
  EXPECT_EQ(bench::FirstMismatch(static_cast<char*>(*local), kMiB, kTargetSeed, 3), -1);
}

// A file segment is held to its size on the wire exactly as memory is held to its buffers: a
// peer that crafts addresses gets error replies, never bytes past the file's end, and cannot
// grow the file.
TEST_F(TransferEngineWireTest, FileSegmentRangesAreEnforcedOnTheWire) {
  auto dir = testing::TempDir::Create("mc_wire_file");
  MC_ASSERT_OK(dir);
  const std::string path = dir->File("served.seg");
  const uint64_t size = 80 * kMiB;  // room for an in-range request above the 64 MiB limit
  SetTargetFile(path);
  auto target = StartTarget(size);
  SetTargetFile("");
  MC_ASSERT_OK(target);
  ASSERT_NE(target->file_base, 0u) << "no file_base on the READY line";
  ASSERT_EQ(target->file_size, size);
  const uint64_t base = target->file_base;
  auto c = ConnectAndHello(target->port);
  ASSERT_TRUE(c.has_value());
  uint64_t id = 500;
  const std::vector<std::pair<uint64_t, uint64_t>> outside = {
      {base + size - 8, 16}, {base - 1, 2}, {base + size, 1}, {base, size + 1}, {~0ull - 7, 16}};
  for (auto [address, length] : outside) {
    ASSERT_TRUE(c->Send(Header(kReadRequest, ++id, address, length)));
    auto reply = c->ReadFrame();
    ASSERT_TRUE(reply.has_value())
        << "no reply to an out-of-range READ at 0x" << std::hex << address;
    EXPECT_EQ(reply->id, id);
    EXPECT_EQ(reply->status, static_cast<int32_t>(StatusCode::kInvalidParams));
    EXPECT_THAT(reply->payload, HasSubstr("outside the registered buffers"));
  }
  // In range but larger than one staged request may be: refused, naming the limit.
  ASSERT_TRUE(c->Send(Header(kReadRequest, ++id, base, 65 * kMiB)));
  auto big = c->ReadFrame();
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->status, static_cast<int32_t>(StatusCode::kInvalidParams));
  EXPECT_THAT(big->payload, HasSubstr("exceeds"));
  // A WRITE past the end: payload discarded, stream in sync, file not grown.
  ASSERT_TRUE(c->Send(Header(kWriteRequest, ++id, base + size - 4, 1000) + std::string(1000, 'w')));
  auto wreply = c->ReadFrame();
  ASSERT_TRUE(wreply.has_value());
  EXPECT_EQ(wreply->type, kWriteResponse);
  EXPECT_EQ(wreply->status, static_cast<int32_t>(StatusCode::kInvalidParams));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), size);
  // In-range, unaligned requests on the same connection are served from the file.
  ASSERT_TRUE(c->Send(Header(kReadRequest, ++id, base + 4097, 5000)));
  auto good = c->ReadFrame();
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(good->id, id);
  ASSERT_EQ(good->status, 0) << good->payload;
  ASSERT_EQ(good->payload.size(), 5000u);
  EXPECT_EQ(bench::FirstMismatch(good->payload.data(), 5000, kTargetSeed, 4097), -1);
  ASSERT_TRUE(c->Send(Header(kWriteRequest, ++id, base + size - 5, 5) + "hello"));
  auto written = c->ReadFrame();
  ASSERT_TRUE(written.has_value());
  EXPECT_EQ(written->status, 0) << written->payload;
  std::ifstream file(path, std::ios::binary);
  file.seekg(static_cast<std::streamoff>(size - 5));
  std::string tail(5, '\0');
  file.read(tail.data(), 5);
  EXPECT_EQ(tail, "hello");
}

}  // namespace
}  // namespace mooncake::integration
