// P2PStore with a real etcd and real Transfer Engines over loopback TCP; peers that must die
// without a word (SIGKILL) are mooncake_p2p child processes.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "mooncake/p2p/p2p_store.h"
#include "testing/binary_path.h"
#include "testing/etcd_launcher.h"
#include "testing/process_launcher.h"
#include "testing/temp_dir.h"

namespace mooncake::p2p {
namespace {

using namespace std::chrono_literals;
constexpr uint64_t kMiB = 1ull << 20;

Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}

#define ASSERT_OK(expr)                                                     \
  do {                                                                      \
    const auto& mc_s_ = (expr);                                             \
    ASSERT_TRUE(mc_s_.ok()) << #expr << ": " << StatusOf(mc_s_).ToString(); \
  } while (0)

std::vector<uint8_t> Pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v[i] = static_cast<uint8_t>(x);
  }
  return v;
}

std::string UniqueName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string("test/") + info->name();
}

class P2PStoreTest : public ::testing::Test {
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
  void SetUp() override { ASSERT_NE(etcd_, nullptr); }

  static P2PStoreOptions Options() {
    P2PStoreOptions o;
    o.metadata_server = "etcd://" + etcd_->endpoint();
    o.local_server_name = "127.0.0.1:0";
    o.protocol = "tcp";
    o.lease_ttl = 2s;
    o.stall_timeout = 5s;
    return o;
  }
  static std::unique_ptr<P2PStore> NewStore(P2PStoreOptions o = Options()) {
    auto store = P2PStore::Create(std::move(o));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  static P2PObjectInfo Info(P2PStore& store, const std::string& name) {
    auto info = store.GetObjectInfo(name);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? *info : P2PObjectInfo{};
  }
  // A mooncake_p2p child seeding `file` as `name`, once it printed READY.
  static std::unique_ptr<testing::ChildProcess> StartSeedProcess(const std::string& name,
                                                                 const std::string& file,
                                                                 const std::string& shard_size) {
    testing::ProcessOptions p;
    p.binary = testing::BinaryPath("mooncake_p2p");
    p.args = {"--metadata_server",
              "etcd://" + etcd_->endpoint(),
              "--protocol",
              "tcp",
              "--lease_ttl",
              "2",
              "register",
              name,
              file,
              "--shard_size",
              shard_size};
    auto child = testing::ChildProcess::Start(std::move(p));
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    if (!child.ok()) return nullptr;
    Status ready = (*child)->WaitForLine("READY", 20s);
    EXPECT_TRUE(ready.ok()) << ready.ToString();
    return ready.ok() ? std::move(*child) : nullptr;
  }

  static testing::EtcdServer* etcd_;
};

testing::EtcdServer* P2PStoreTest::etcd_ = nullptr;

TEST_F(P2PStoreTest, OneByteRoundTrip) {
  auto seed = NewStore();
  auto peer = NewStore();
  ASSERT_TRUE(seed && peer);
  std::vector<uint8_t> src{0x5a};
  ASSERT_OK(seed->Register(UniqueName(), {src.data()}, {1}));
  std::vector<uint8_t> dst{0};
  auto stats = peer->GetReplica(UniqueName(), {dst.data()}, {1});
  ASSERT_OK(stats);
  EXPECT_EQ(dst[0], 0x5a);
  EXPECT_EQ(stats->bytes, 1u);
  EXPECT_EQ(stats->bytes_from_seeds, 1u);
  EXPECT_EQ(stats->holders_used, std::vector<std::string>{seed->local_server_name()});
  P2PObjectInfo info = Info(*seed, UniqueName());
  EXPECT_EQ(info.size, 1u);
  EXPECT_EQ(info.holder_count, 2u);  // the peer serves its replica
  EXPECT_EQ(info.seed_count, 1u);
}

TEST_F(P2PStoreTest, SixtyFourMiBPlusOneIntoADifferentLayout) {
  auto seed = NewStore();
  auto peer = NewStore();
  ASSERT_TRUE(seed && peer);
  const size_t n = 64 * kMiB + 1;
  std::vector<uint8_t> src = Pattern(n, 1);
  ASSERT_OK(seed->Register(UniqueName(), {src.data()}, {n}));  // shards: 64 MiB, 1 B
  EXPECT_EQ(Info(*seed, UniqueName()).shard_count, 2u);
  // Received into three buffers whose boundaries fall inside pieces.
  std::vector<uint8_t> a(3 * kMiB + 5), b(40 * kMiB), c(n - a.size() - b.size());
  auto stats = peer->GetReplica(UniqueName(), {a.data(), b.data(), c.data()},
                                {a.size(), b.size(), c.size()});
  ASSERT_OK(stats);
  EXPECT_EQ(stats->bytes, n);
  std::vector<uint8_t> joined(a);
  joined.insert(joined.end(), b.begin(), b.end());
  joined.insert(joined.end(), c.begin(), c.end());
  EXPECT_TRUE(joined == src);
}

TEST_F(P2PStoreTest, Sha256ObjectsVerifyToo) {
  P2PStoreOptions o = Options();
  o.hash_algorithm = P2PHashAlgorithm::kSha256;
  auto seed = NewStore(o);
  auto peer = NewStore();
  ASSERT_TRUE(seed && peer);
  std::vector<uint8_t> src = Pattern(5 * kMiB + 3, 2), dst(src.size());
  ASSERT_OK(seed->Register(UniqueName(), {src.data()}, {src.size()}, 2 * kMiB));
  EXPECT_EQ(Info(*peer, UniqueName()).hash_algorithm, "sha256");
  ASSERT_OK(peer->GetReplica(UniqueName(), {dst.data()}, {dst.size()}));
  EXPECT_TRUE(dst == src);
}

TEST_F(P2PStoreTest, UnknownNameIsObjectNotFoundNamingIt) {
  auto peer = NewStore();
  ASSERT_TRUE(peer);
  std::vector<uint8_t> dst(16);
  auto stats = peer->GetReplica("no/such/object", {dst.data()}, {dst.size()});
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), StatusCode::kObjectNotFound);
  EXPECT_NE(stats.status().message().find("'no/such/object'"), std::string::npos)
      << stats.status().ToString();
  EXPECT_EQ(peer->GetObjectInfo("no/such/object").status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(peer->Unregister("no/such/object").code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(peer->DeleteReplica("no/such/object").code(), StatusCode::kObjectNotFound);
}

TEST_F(P2PStoreTest, WrongSizeAndDuplicateContentAreRefused) {
  auto seed = NewStore();
  auto other = NewStore();
  ASSERT_TRUE(seed && other);
  std::vector<uint8_t> src = Pattern(1000, 3), different = Pattern(1000, 4), dst(999);
  ASSERT_OK(seed->Register(UniqueName(), {src.data()}, {src.size()}));
  EXPECT_EQ(seed->Register(UniqueName(), {src.data()}, {src.size()}).code(),
            StatusCode::kObjectAlreadyExists);  // this peer holds it already
  EXPECT_EQ(other->Register(UniqueName(), {different.data()}, {different.size()}).code(),
            StatusCode::kObjectAlreadyExists);  // same name, other content, live holder
  EXPECT_EQ(other->GetReplica(UniqueName(), {dst.data()}, {dst.size()}).status().code(),
            StatusCode::kInvalidParams);
  // Same content from a second peer: one more seed.
  std::vector<uint8_t> copy = src;
  ASSERT_OK(other->Register(UniqueName(), {copy.data()}, {copy.size()}));
  EXPECT_EQ(Info(*seed, UniqueName()).seed_count, 2u);
}

TEST_F(P2PStoreTest, UnregisterAndDeleteReplicaRemoveHolders) {
  auto seed = NewStore();
  auto peer = NewStore();
  ASSERT_TRUE(seed && peer);
  std::vector<uint8_t> src = Pattern(3 * kMiB, 5), dst(src.size());
  ASSERT_OK(seed->Register(UniqueName(), {src.data()}, {src.size()}, kMiB));
  ASSERT_OK(peer->GetReplica(UniqueName(), {dst.data()}, {dst.size()}));
  EXPECT_EQ(Info(*seed, UniqueName()).holder_count, 2u);
  EXPECT_EQ(peer->Unregister(UniqueName()).code(), StatusCode::kObjectNotFound);  // not a seed
  ASSERT_OK(peer->DeleteReplica(UniqueName()));
  EXPECT_EQ(Info(*seed, UniqueName()).holder_count, 1u);
  ASSERT_OK(seed->Unregister(UniqueName()));
  // The last holder left: the object is gone.
  EXPECT_EQ(seed->GetObjectInfo(UniqueName()).status().code(), StatusCode::kObjectNotFound);
  auto listed = seed->List("test/");
  ASSERT_OK(listed);
  for (const P2PObjectInfo& o : *listed) EXPECT_NE(o.name, UniqueName());
  EXPECT_EQ(peer->GetReplica(UniqueName(), {dst.data()}, {dst.size()}).status().code(),
            StatusCode::kObjectNotFound);
}

TEST_F(P2PStoreTest, CorruptHolderIsDetectedAndTheShardFetchedElsewhere) {
  auto seed = NewStore();
  auto bad = NewStore();
  P2PStoreOptions o = Options();
  o.seed_bias = 1;  // at equal load, prefers the non-seed holder: the corrupt one
  auto peer = NewStore(o);
  ASSERT_TRUE(seed && bad && peer);
  std::vector<uint8_t> src = Pattern(4 * kMiB, 6), bad_copy(src.size()), dst(src.size());
  ASSERT_OK(seed->Register(UniqueName(), {src.data()}, {src.size()}));  // one shard, one piece
  ASSERT_OK(bad->GetReplica(UniqueName(), {bad_copy.data()}, {bad_copy.size()}));
  bad_copy[12345] ^= 0xff;  // the holder's memory rots after it verified the shard
  auto stats = peer->GetReplica(UniqueName(), {dst.data()}, {dst.size()});
  ASSERT_OK(stats);
  EXPECT_TRUE(dst == src);
  EXPECT_EQ(stats->shards_corrupt, 1u);
  EXPECT_EQ(stats->bytes_from_peers, src.size());  // the corrupt read
  EXPECT_EQ(stats->bytes_from_seeds, src.size());  // the good one
}

TEST_F(P2PStoreTest, ChainSeedToAToBWithTheSeedKilled) {
  auto dir = testing::TempDir::Create("mc_p2p_chain");
  ASSERT_OK(dir);
  std::vector<uint8_t> src = Pattern(6 * kMiB + 7, 7);
  {
    std::ofstream f(dir->File("ckpt.bin"), std::ios::binary);
    f.write(reinterpret_cast<const char*>(src.data()), static_cast<std::streamsize>(src.size()));
  }
  auto seed = StartSeedProcess(UniqueName(), dir->File("ckpt.bin"), "2MiB");
  ASSERT_TRUE(seed);
  auto a = NewStore();
  auto b = NewStore();
  ASSERT_TRUE(a && b);
  std::vector<uint8_t> at_a(src.size()), at_b(src.size());
  auto got_a = a->GetReplica(UniqueName(), {at_a.data()}, {at_a.size()});
  ASSERT_OK(got_a);
  EXPECT_TRUE(at_a == src);
  seed->Kill(SIGKILL);
  // The seed's entry is still listed (its lease has not run out): B must notice it is dead.
  EXPECT_EQ(Info(*b, UniqueName()).seed_count, 1u);
  auto got_b = b->GetReplica(UniqueName(), {at_b.data()}, {at_b.size()});
  ASSERT_OK(got_b);
  EXPECT_TRUE(at_b == src);
  EXPECT_EQ(got_b->holders_used, std::vector<std::string>{a->local_server_name()});
  EXPECT_EQ(got_b->bytes_from_peers, src.size());
}

TEST_F(P2PStoreTest, KilledPeersEntriesVanishWhenItsLeaseExpires) {
  auto dir = testing::TempDir::Create("mc_p2p_lease");
  ASSERT_OK(dir);
  {
    std::ofstream f(dir->File("x.bin"), std::ios::binary);
    f << "some bytes";
  }
  auto seed = StartSeedProcess(UniqueName(), dir->File("x.bin"), "64MiB");
  ASSERT_TRUE(seed);
  auto observer = NewStore();
  ASSERT_TRUE(observer);
  EXPECT_EQ(Info(*observer, UniqueName()).holder_count, 1u);
  seed->Kill(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  // Not revoked: still listed right after the kill.
  EXPECT_EQ(Info(*observer, UniqueName()).holder_count, 1u);
  // Gone within the 2 s TTL (plus etcd's expiry granularity), polled for at most 10 s.
  size_t holders = 1;
  while (holders != 0 && std::chrono::steady_clock::now() - killed < 10s) {
    std::this_thread::sleep_for(100ms);
    holders = Info(*observer, UniqueName()).holder_count;
  }
  const auto gone_after = std::chrono::steady_clock::now() - killed;
  EXPECT_EQ(holders, 0u);
  EXPECT_LT(gone_after, 5s);
  // The record stays but has nobody to serve it: a clear error, at once.
  std::vector<uint8_t> dst(10);
  auto got = observer->GetReplica(UniqueName(), {dst.data()}, {dst.size()});
  EXPECT_EQ(got.status().code(), StatusCode::kObjectNotFound) << got.status().ToString();
  EXPECT_NE(got.status().message().find("no live holder"), std::string::npos);
}

TEST_F(P2PStoreTest, ThreePeersFetchAtOnceAndServeEachOther) {
  auto seed = NewStore();
  ASSERT_TRUE(seed);
  std::vector<uint8_t> src = Pattern(24 * kMiB, 8);
  ASSERT_OK(seed->Register(UniqueName(), {src.data()}, {src.size()}, 2 * kMiB));
  std::vector<std::unique_ptr<P2PStore>> peers;
  for (int i = 0; i < 3; ++i) peers.push_back(NewStore());
  std::vector<std::vector<uint8_t>> dst(3, std::vector<uint8_t>(src.size()));
  std::vector<Result<ReplicaStats>> results(3, Status(StatusCode::kInternalError, "not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      results[i] = peers[i]->GetReplica(UniqueName(), {dst[i].data()}, {dst[i].size()});
    });
  }
  for (std::thread& t : threads) t.join();
  uint64_t from_peers = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(results[i]);
    EXPECT_TRUE(dst[i] == src) << "peer " << i;
    from_peers += results[i]->bytes_from_peers;
  }
  EXPECT_EQ(Info(*seed, UniqueName()).holder_count, 4u);
  std::printf("bytes served by peers: %llu of %llu\n", static_cast<unsigned long long>(from_peers),
              static_cast<unsigned long long>(3 * src.size()));
}

TEST_F(P2PStoreTest, SigtermStopsASeedWithin5sWhilePeersFetchFromIt) {
  auto dir = testing::TempDir::Create("mc_p2p_sigterm");
  ASSERT_OK(dir);
  const std::vector<uint8_t> src = Pattern(32 * kMiB, 11);
  {
    std::ofstream f(dir->File("ckpt.bin"), std::ios::binary);
    f.write(reinterpret_cast<const char*>(src.data()), static_cast<std::streamsize>(src.size()));
  }
  auto seed = StartSeedProcess(UniqueName(), dir->File("ckpt.bin"), "1MiB");
  ASSERT_TRUE(seed);
  // A peer fetching the object over and over, so transfers from the seed are in flight when
  // it gets SIGTERM. Bounded: until stopped or 30 s.
  std::atomic<bool> stop{false};
  std::atomic<int> fetched{0};
  auto peer = NewStore();
  ASSERT_TRUE(peer);
  std::thread fetcher([&] {
    std::vector<uint8_t> dst(src.size());
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (!stop.load() && std::chrono::steady_clock::now() < end) {
      if (peer->GetReplica(UniqueName(), {dst.data()}, {dst.size()}).ok()) ++fetched;
      peer->DeleteReplica(UniqueName()).IgnoreError();
    }
  });
  for (int i = 0; i < 200 && fetched.load() < 1; ++i) std::this_thread::sleep_for(50ms);
  const auto signalled = std::chrono::steady_clock::now();
  seed->Kill(SIGTERM);
  auto code = seed->Wait(5s);
  const auto took = std::chrono::steady_clock::now() - signalled;
  stop = true;
  fetcher.join();
  EXPECT_GE(fetched.load(), 1);
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0) << seed->ReadLog();
  std::printf(
      "seed exited %lld ms after SIGTERM with a peer fetching\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

}  // namespace
}  // namespace mooncake::p2p
