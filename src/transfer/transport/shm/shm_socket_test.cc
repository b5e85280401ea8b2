// Control-socket primitives of the shm transport: fd passing over SOCK_SEQPACKET, message
// framing, abstract endpoints, and the sealed shared buffers whose fds are passed.

#include "transfer/transport/shm/shm_socket.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "transfer/buffer_allocator.h"

namespace mooncake::transfer::shm {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

struct Pair {
  UniqueFd a, b;
};

Pair SeqpacketPair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

TEST(ShmSocketTest, PassedMemfdMapsTheSameBytes) {
  auto buffer = AllocateSharedBuffer(4096, Prefault::kYes);
  ASSERT_TRUE(buffer.ok()) << buffer.status().ToString();
  std::memcpy(buffer->address, "shared bytes", 12);

  Pair p = SeqpacketPair();
  Request request;
  request.type = MessageType::kFetch;
  request.address = 42;
  ASSERT_TRUE(
      SendMessage(p.a.get(), &request, sizeof(request), buffer->fd, milliseconds(100)).ok());
  Request got;
  UniqueFd fd;
  Status s = ReceiveMessage(p.b.get(), &got, sizeof(got), &fd, milliseconds(100));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got.address, 42u);
  ASSERT_TRUE(fd.valid());
  EXPECT_NE(fd.get(), buffer->fd);  // a new descriptor of the same file
  EXPECT_EQ(fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

  void* m = mmap(nullptr, buffer->length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(m, MAP_FAILED);
  EXPECT_EQ(std::memcmp(m, "shared bytes", 12), 0);
  std::memcpy(m, "written back", 12);  // and writes show through the owner's mapping
  EXPECT_EQ(std::memcmp(buffer->address, "written back", 12), 0);
  munmap(m, buffer->length);
  FreeSharedBuffer(*buffer);
}

TEST(ShmSocketTest, MessageWithoutFdYieldsNoFd) {
  Pair p = SeqpacketPair();
  Notice notice;
  notice.id = 7;
  ASSERT_TRUE(SendMessage(p.a.get(), &notice, sizeof(notice), -1, milliseconds(100)).ok());
  Notice got;
  UniqueFd fd(dup(0));  // replaced by "no fd"
  ASSERT_TRUE(ReceiveMessage(p.b.get(), &got, sizeof(got), &fd, milliseconds(100)).ok());
  EXPECT_FALSE(fd.valid());
  EXPECT_EQ(got.id, 7u);
}

TEST(ShmSocketTest, MessageOfTheWrongSizeIsRefusedAndItsFdClosed) {
  Pair p = SeqpacketPair();
  auto buffer = AllocateSharedBuffer(4096, Prefault::kNo);
  ASSERT_TRUE(buffer.ok());
  Reply longer;
  ASSERT_TRUE(SendMessage(p.a.get(), &longer, sizeof(longer), buffer->fd, milliseconds(100)).ok());
  Notice shorter;
  ASSERT_TRUE(SendMessage(p.a.get(), &shorter, sizeof(shorter), -1, milliseconds(100)).ok());

  Request got;
  UniqueFd fd;
  Status s = ReceiveMessage(p.b.get(), &got, sizeof(got), &fd, milliseconds(100));
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("truncated"));
  EXPECT_FALSE(fd.valid());
  s = ReceiveMessage(p.b.get(), &got, sizeof(got), &fd, milliseconds(100));
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
  FreeSharedBuffer(*buffer);
}

TEST(ShmSocketTest, ReceiveTimesOutAndSeesHangUp) {
  Pair p = SeqpacketPair();
  Request got;
  UniqueFd fd;
  Status s = ReceiveMessage(p.b.get(), &got, sizeof(got), &fd, milliseconds(20));
  EXPECT_EQ(s.code(), StatusCode::kRpcTimeout) << s.ToString();
  EXPECT_FALSE(PeerHungUp(p.b.get()));
  p.a = UniqueFd();
  EXPECT_TRUE(PeerHungUp(p.b.get()));
  s = ReceiveMessage(p.b.get(), &got, sizeof(got), &fd, milliseconds(20));
  EXPECT_THAT(s.message(), HasSubstr("closed"));
}

TEST(ShmSocketTest, AbstractEndpointsConnectOnlyWhileListening) {
  const std::string endpoint = EndpointName("127.0.0.1:1", 0xabc00000000 + getpid());
  EXPECT_EQ(endpoint.rfind("@mooncake-te/127.0.0.1:1/", 0), 0u) << endpoint;
  {
    auto listener = ListenAbstract(endpoint);
    ASSERT_TRUE(listener.ok()) << listener.status().ToString();
    EXPECT_TRUE(ConnectAbstract(endpoint).ok());
    EXPECT_FALSE(ListenAbstract(endpoint).ok());  // one owner per name
  }
  auto gone = ConnectAbstract(endpoint);
  EXPECT_EQ(gone.status().code(), StatusCode::kSegmentNotFound) << gone.status().ToString();
  // Long segment names fall back to the incarnation alone; bad names are refused.
  EXPECT_EQ(EndpointName(std::string(200, 'x'), 1), "@mooncake-te/0000000000000001");
  EXPECT_FALSE(ListenAbstract("no-at-sign").ok());
  EXPECT_FALSE(ConnectAbstract("@" + std::string(200, 'y')).ok());
}

TEST(ShmSocketTest, SharedBuffersAreSealedAgainstResizing) {
  auto buffer = AllocateSharedBuffer(3 << 20, Prefault::kYes);
  ASSERT_TRUE(buffer.ok()) << buffer.status().ToString();
  EXPECT_EQ(buffer->length, 4u << 20);  // rounded to 2 MiB
  const int seals = fcntl(buffer->fd, F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  EXPECT_NE(ftruncate(buffer->fd, 4096), 0);  // no holder of the fd can shrink it
  EXPECT_NE(fcntl(buffer->fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
  static_cast<char*>(buffer->address)[buffer->length - 1] = 1;  // all of it is usable
  FreeSharedBuffer(*buffer);
  EXPECT_FALSE(AllocateSharedBuffer(0, Prefault::kNo).ok());
}

}  // namespace
}  // namespace mooncake::transfer::shm
