// The SSD tier with real processes: mooncake_master and mooncake_node --ssd_path on loopback,
// the SSD files in a temp dir. Puts that do not fit DRAM land on SSD and read back; a node
// killed with SIGKILL and restarted on the same --ssd_path serves its SSD objects again (and
// not the ones removed before the kill); a flipped byte on disk is reported as
// CHECKSUM_MISMATCH, never returned; eviction under DRAM pressure demotes instead of
// dropping; an SSD object read twice is promoted to DRAM and keeps its SSD copy; a full SSD
// refuses puts with a clear error and loses nothing acknowledged.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "store_test_cluster.h"
#include "store_test_values.h"
#include "testing/binary_path.h"
#include "testing/temp_dir.h"

namespace mooncake::store {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::string Key(const std::string& prefix, int i) { return prefix + "-" + std::to_string(i); }

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

class StoreSsdTierTest : public ::testing::Test {
 protected:
  // `nodes` nodes with `dram` of DRAM and `ssd` of SSD each.
  void StartCluster(const std::string& dram, const std::string& ssd, int nodes = 1,
                    std::vector<std::string> master_args = {}) {
    auto dir = testing::TempDir::Create("mc_ssd_tier");
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    StoreTestClusterOptions options;
    options.nodes = nodes;
    options.segment_size = dram;
    options.ssd_dir = dir_->path();
    options.ssd_size = ssd;
    options.master_args = std::move(master_args);
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    admin_ = TestAdmin(cluster_->master_address());
    ASSERT_NE(admin_, nullptr);
    client_ = TestClient(cluster_->master_address());  // verify_checksum off
    ASSERT_NE(client_, nullptr);
  }

  // Fills node 0's DRAM (of `dram_bytes`) with one hard-pinned object, so that every later
  // put goes to SSD.
  void FillDram(uint64_t dram_bytes) {
    ReplicateConfig pinned;
    pinned.with_hard_pin = true;
    const std::vector<uint8_t> filler = Pattern(dram_bytes, 7);
    ASSERT_TRUE(client_->Put("dram-filler", filler, pinned).ok());
    ASSERT_EQ(MediumOf(*admin_->GetReplicaList("dram-filler")), Medium::kDram);
  }

  static mooncake::Medium MediumOf(const master::ReplicaListReply& reply) {
    return reply.replicas.empty() ? mooncake::Medium::kVram : reply.replicas[0].medium;
  }

  // Waits (bounded) until every node applied every manifest change: SSD headers are on disk.
  void WaitForManifests() {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      auto info = admin_->GetClusterInfo();
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      if (info->manifest_backlog == 0) return;
      std::this_thread::sleep_for(milliseconds(20));
    }
    FAIL() << "manifest changes still unacknowledged after 20 s";
  }

  // Puts keys prefix-0..n-1 of `size` bytes (seed i) in batches; all must succeed.
  void PutMany(const std::string& prefix, int n, size_t size, const ReplicateConfig& config = {}) {
    constexpr int kBatch = 256;
    for (int first = 0; first < n; first += kBatch) {
      std::vector<std::string> keys;
      std::vector<std::vector<uint8_t>> values;
      for (int i = first; i < std::min(n, first + kBatch); ++i) {
        keys.push_back(Key(prefix, i));
        values.push_back(Pattern(size, static_cast<uint32_t>(i)));
      }
      std::vector<std::span<const uint8_t>> spans(values.begin(), values.end());
      const std::vector<Status> put = client_->BatchPut(keys, spans, config);
      for (size_t j = 0; j < put.size(); ++j) {
        ASSERT_TRUE(put[j].ok()) << keys[j] << ": " << put[j].ToString();
      }
    }
  }

  // Reads keys prefix-0..n-1 back in batches; returns how many had the right bytes.
  int CountCorrect(const std::string& prefix, int n, size_t size) {
    constexpr int kBatch = 256;
    int correct = 0;
    for (int first = 0; first < n; first += kBatch) {
      std::vector<std::string> keys;
      for (int i = first; i < std::min(n, first + kBatch); ++i) keys.push_back(Key(prefix, i));
      auto got = client_->BatchGet(keys);
      for (size_t j = 0; j < got.size(); ++j) {
        if (got[j].ok() && *got[j] == Pattern(size, static_cast<uint32_t>(first + j))) ++correct;
      }
    }
    return correct;
  }

  std::unique_ptr<testing::TempDir> dir_;
  // The output of `mooncake stat` against the cluster; a failed or non-zero run fails the test.
  std::string RunStat() {
    testing::ProcessOptions stat;
    stat.binary = testing::BinaryPath("mooncake");
    stat.args = {"--master=" + cluster_->master_address(), "stat"};
    auto cli = testing::ChildProcess::Start(stat);
    EXPECT_TRUE(cli.ok()) << cli.status().ToString();
    if (!cli.ok()) return "";
    auto exit_code = (*cli)->Wait(std::chrono::seconds(20));
    EXPECT_TRUE(exit_code.ok());
    if (exit_code.ok()) {
      EXPECT_EQ(*exit_code, 0);
    }
    return (*cli)->ReadLog();
  }

  std::unique_ptr<StoreTestCluster> cluster_;
  std::unique_ptr<master::MasterClient> admin_;
  std::unique_ptr<Client> client_;
};

TEST_F(StoreSsdTierTest, PutsThatDoNotFitDramLandOnSsdAndReadBack) {
  StartCluster("1MiB", "64MiB");
  FillDram(1 << 20);
  constexpr int kObjects = 64;
  constexpr size_t kSize = 100 * 1024 + 17;  // not a block multiple
  PutMany("ssd", kObjects, kSize);
  for (int i = 0; i < kObjects; ++i) {
    auto list = admin_->GetReplicaList(Key("ssd", i));
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    EXPECT_EQ(MediumOf(*list), mooncake::Medium::kSsd) << i;
    // The reader's range starts past the 4 KiB header, on a block boundary.
    EXPECT_EQ(list->replicas[0].slices[0].segment, cluster_->ssd_segment_name(0));
    EXPECT_EQ(list->replicas[0].slices[0].address % 4096, 0u);
  }
  EXPECT_EQ(CountCorrect("ssd", kObjects, kSize), kObjects);
  auto info = admin_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->tier.ssd_puts, static_cast<uint64_t>(kObjects));
  // The pinned DRAM object is still there, byte for byte.
  auto filler = client_->Get("dram-filler");
  ASSERT_TRUE(filler.ok());
  EXPECT_EQ(*filler, Pattern(1 << 20, 7));
}

TEST_F(StoreSsdTierTest, Kill9AndRestartOnTheSamePathBringsSsdObjectsBack) {
  // 10 000 objects of 1 KiB: 8 KiB each on SSD (header + one block).
  constexpr int kObjects = 10000;
  constexpr int kRemoved = 100;
  constexpr size_t kSize = 1000;
  StartCluster("1MiB", "128MiB");
  FillDram(1 << 20);
  const auto put_began = Clock::now();
  PutMany("obj", kObjects, kSize);
  const auto put_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - put_began).count();
  // Removed before the kill: must not come back.
  for (int i = 0; i < kRemoved; ++i) ASSERT_TRUE(client_->Remove(Key("obj", i)).ok()) << i;
  WaitForManifests();

  cluster_->node(0).Kill(SIGKILL);
  const auto restart_began = Clock::now();
  ASSERT_TRUE(cluster_->StartNode(0).ok());
  const auto ready_ms =
      std::chrono::duration_cast<milliseconds>(Clock::now() - restart_began).count();
  // Everything but the removed keys is back, with its bytes.
  int correct = 0;
  for (int attempt = 0; attempt < 3 && correct < kObjects - kRemoved; ++attempt) {
    correct = CountCorrect("obj", kObjects, kSize);
  }
  const auto readable_ms =
      std::chrono::duration_cast<milliseconds>(Clock::now() - restart_began).count();
  int removed_back = 0;
  for (int i = 0; i < kRemoved; ++i) {
    if (client_->IsExist(Key("obj", i)).value_or(true)) ++removed_back;
  }
  EXPECT_EQ(removed_back, 0);
  EXPECT_EQ(correct, kObjects - kRemoved);
  std::printf(
      "RESULT ssd_restart objects=%d put_ms=%lld restart_to_ready_ms=%lld "
      "restart_to_all_read_ms=%lld\n",
      kObjects - kRemoved, static_cast<long long>(put_ms), static_cast<long long>(ready_ms),
      static_cast<long long>(readable_ms));
  EXPECT_LE(ready_ms, 5000) << "goal: 10 000 objects back within 5 s";
  // The node's own account of the scan.
  const std::string log = cluster_->node(0).ReadLog();
  const size_t ready = log.rfind("READY ");
  ASSERT_NE(ready, std::string::npos);
  std::printf("%s\n", log.substr(ready, log.find('\n', ready) - ready).c_str());
}

TEST_F(StoreSsdTierTest, AFlippedByteOnDiskIsAChecksumMismatchNeverData) {
  StartCluster("1MiB", "64MiB");
  FillDram(1 << 20);
  constexpr size_t kSize = 3 * 64 * 1024 + 5;  // three checksum blocks and a bit
  const std::vector<uint8_t> value = Pattern(kSize, 42);
  ASSERT_TRUE(client_->Put("victim", value).ok());
  ASSERT_EQ(MediumOf(*admin_->GetReplicaList("victim")), mooncake::Medium::kSsd);
  WaitForManifests();
  // Find the object's bytes in the file and flip one in the middle.
  const std::string path = cluster_->ssd_path(0);
  const std::vector<uint8_t> file = ReadFile(path);
  const auto at = std::search(file.begin(), file.end(), value.begin(), value.begin() + 256);
  ASSERT_NE(at, file.end()) << "object bytes not found in " << path;
  const off_t offset = (at - file.begin()) + static_cast<off_t>(kSize / 2);
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const char flipped = static_cast<char>(value[kSize / 2] ^ 0x10);
  ASSERT_EQ(::pwrite(fd, &flipped, 1, offset), 1);
  ::fsync(fd);
  ::close(fd);
  // Ranged reads are checked too, even by this client that opted out of checking memory: a
  // range of an intact block reads, one over the flipped byte's block never does.
  std::vector<uint8_t> buffer(4096);
  ASSERT_TRUE(client_->RegisterBuffer(buffer.data(), buffer.size()).ok());
  ASSERT_TRUE(client_->GetIntoRanges({{"victim", 10, buffer.data(), 100}})[0].ok());
  EXPECT_TRUE(std::equal(buffer.begin(), buffer.begin() + 100, value.begin() + 10));
  const Status ranged =
      client_->GetIntoRanges({{"victim", kSize / 2 - 1000, buffer.data(), 10}})[0];
  EXPECT_EQ(ranged.code(), StatusCode::kChecksumMismatch)
      << "a range in the damaged block (not over the flipped byte itself): " << ranged.ToString();
  // The reader reported the replica; it was the object's only one, so the master erased the
  // object rather than list corrupt bytes to the next reader (docs/integrity.md).
  for (int i = 0; i < 2; ++i) {
    auto again = client_->Get("victim");
    ASSERT_FALSE(again.ok()) << "returned " << (again.ok() ? again->size() : 0) << " corrupt bytes";
    EXPECT_EQ(again.status().code(), StatusCode::kObjectNotFound) << again.status().ToString();
  }
}

TEST_F(StoreSsdTierTest, ACorruptSsdReplicaFallsBackToTheGoodOne) {
  StartCluster("1MiB", "64MiB", /*nodes=*/2);
  // Both nodes' DRAM full: two SSD replicas.
  ReplicateConfig pinned;
  pinned.with_hard_pin = true;
  pinned.replica_num = 2;
  ASSERT_TRUE(client_->Put("filler", Pattern(1 << 20, 1), pinned).ok());
  ReplicateConfig two;
  two.replica_num = 2;
  constexpr size_t kSize = 32 * 1024;
  const std::vector<uint8_t> value = Pattern(kSize, 43);
  ASSERT_TRUE(client_->Put("twice", value, two).ok());
  auto list = admin_->GetReplicaList("twice");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->replicas.size(), 2u);
  WaitForManifests();
  const std::string path = cluster_->ssd_path(0);
  const std::vector<uint8_t> file = ReadFile(path);
  const auto at = std::search(file.begin(), file.end(), value.begin(), value.begin() + 256);
  ASSERT_NE(at, file.end());
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const char flipped = static_cast<char>(value[100] ^ 0x01);
  ASSERT_EQ(::pwrite(fd, &flipped, 1, (at - file.begin()) + 100), 1);
  ::close(fd);
  // Whichever replica a read starts with, the caller gets the good bytes.
  for (int i = 0; i < 6; ++i) {
    auto got = client_->Get("twice");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, value);
  }
  // The reads met the damaged replica (they alternate the one they try first), reported it,
  // and the master dropped it; re-replication brings the object back to two replicas.
  auto info = admin_->GetClusterInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ASSERT_EQ(info->integrity.per_node.size(), 1u);
  EXPECT_EQ(info->integrity.per_node[0].node, cluster_->node_name(0));
  EXPECT_EQ(info->integrity.per_node[0].medium, Medium::kSsd);
  EXPECT_EQ(info->integrity.per_node[0].detected, 1u);
  EXPECT_EQ(info->integrity.per_node[0].dropped, 1u);
  size_t replicas = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    auto now = admin_->GetReplicaList("twice");
    replicas = now.ok() ? now->replicas.size() : 0;
    if (replicas == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(replicas, 2u) << "the dropped replica re-created within 20 s";
  client_ = TestClient(cluster_->master_address());  // no cached locations: reads both again
  for (int i = 0; i < 4; ++i) {
    auto got = client_->Get("twice");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, value);
  }
  auto after = admin_->GetClusterInfo();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->integrity.corrupt_reports, 1u) << "the re-created replica is good";
}

TEST_F(StoreSsdTierTest, DramPressureDemotesColdObjectsToSsd) {
  // High watermark 60 %, down to 30 %: puts up to ~90 % of DRAM make Tick demote.
  StartCluster(
      "8MiB", "64MiB", 1,
      {"--eviction_high_watermark_ratio=0.6", "--eviction_ratio=0.3", "--tick_interval=50"});
  constexpr int kObjects = 28;
  constexpr size_t kSize = 256 * 1024;  // 7 MiB in all
  PutMany("warm", kObjects, kSize);
  const auto demote_began = Clock::now();
  // Bounded wait for the demotions to complete, watching DRAM use only: a replica lookup
  // would lease the objects, and leased objects are not evicted.
  const uint64_t high = (uint64_t{8} << 20) * 6 / 10;
  uint64_t dram_used = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    auto info = admin_->GetClusterInfo();
    ASSERT_TRUE(info.ok());
    dram_used = 0;
    for (const SegmentInfo& s : info->segments) {
      if (s.medium == mooncake::Medium::kDram) dram_used += s.used;
    }
    if (dram_used <= high) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  const auto demote_ms =
      std::chrono::duration_cast<milliseconds>(Clock::now() - demote_began).count();
  EXPECT_LE(dram_used, high);
  int on_ssd = 0;
  for (int i = 0; i < kObjects; ++i) {
    auto list = admin_->GetReplicaList(Key("warm", i));
    ASSERT_TRUE(list.ok()) << Key("warm", i) << " lost: " << list.status().ToString();
    if (MediumOf(*list) == mooncake::Medium::kSsd) ++on_ssd;
  }
  std::printf("RESULT ssd_demotion objects=%d bytes=%zu under_watermark_ms=%lld\n", on_ssd,
              on_ssd * kSize, static_cast<long long>(demote_ms));
  EXPECT_GE(on_ssd, 10) << "demoted objects; master log:\n"
                        << cluster_->master().ReadLog() << "\nnode log:\n"
                        << cluster_->node(0).ReadLog();
  auto info = admin_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_GE(info->tier.demotions_completed, static_cast<uint64_t>(on_ssd));
  EXPECT_EQ(info->tier.demotions_failed, 0u);
  // `mooncake stat` shows the SSD tier's line.
  const std::string out = RunStat();
  EXPECT_NE(out.find("SSD tier: 0 puts placed on SSD; demotions "), std::string::npos) << out;
  // Nothing was dropped: every object reads back, from DRAM or SSD.
  EXPECT_EQ(CountCorrect("warm", kObjects, kSize), kObjects);
}

TEST_F(StoreSsdTierTest, AnSsdObjectReadTwiceIsPromotedToDramAndKeepsItsSsdCopy) {
  StartCluster("8MiB", "64MiB", 1, {"--tick_interval=50", "--promote_after_hits=2"});
  FillDram(8 << 20);
  const std::vector<uint8_t> value = Pattern(300 * 1024 + 5, 42);
  ASSERT_TRUE(client_->Put("promoted", value).ok());
  auto info = admin_->GetClusterInfo();  // no replica lookup yet: that would be a hit
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->tier.ssd_puts, 1u) << "the object went to SSD";
  ASSERT_TRUE(client_->Remove("dram-filler", RemoveMode::kForce).ok());  // DRAM has room again
  // Two reads, from two clients (a client reuses a location it looked up while its lease
  // holds: only lookups reach the master).
  auto first = client_->Get("promoted");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, value);
  std::unique_ptr<Client> other = TestClient(cluster_->master_address());
  ASSERT_NE(other, nullptr);
  auto second = other->Get("promoted");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, value);
  const auto read_at = Clock::now();
  // Soon it is in DRAM as well, and still on SSD.
  bool dram = false;
  bool ssd = false;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline && !(dram && ssd)) {
    auto list = admin_->GetReplicaList("promoted");
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    dram = ssd = false;
    for (const auto& r : list->replicas) {
      dram |= r.medium == mooncake::Medium::kDram;
      ssd |= r.medium == mooncake::Medium::kSsd;
    }
    if (!(dram && ssd)) std::this_thread::sleep_for(milliseconds(20));
  }
  const auto promote_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - read_at).count();
  ASSERT_TRUE(dram && ssd) << "not promoted within 5 s; master log:\n"
                           << cluster_->master().ReadLog() << "\nnode log:\n"
                           << cluster_->node(0).ReadLog();
  std::printf("RESULT ssd_promotion bytes=%zu promoted_ms=%lld\n", value.size(),
              static_cast<long long>(promote_ms));
  info = admin_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->tier.promotions_scheduled, 1u);
  EXPECT_EQ(info->tier.promotions_completed, 1u);
  EXPECT_EQ(info->tier.promotions_failed, 0u);
  EXPECT_GE(info->tier.ssd_hits, 2u);
  // `mooncake stat` shows them on the SSD tier's line.
  const std::string out = RunStat();
  EXPECT_NE(out.find("; promotions 1 scheduled, 1 completed, 0 failed"), std::string::npos) << out;
  // Listed DRAM first, so readers try it first; a reader's later reads go round robin over
  // both replicas: the bytes are right from each.
  auto list = admin_->GetReplicaList("promoted");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->replicas.size(), 2u);
  EXPECT_EQ(list->replicas[0].medium, mooncake::Medium::kDram);
  std::unique_ptr<Client> reader = TestClient(cluster_->master_address());
  ASSERT_NE(reader, nullptr);
  for (int i = 0; i < 4; ++i) {
    auto got = reader->Get("promoted");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, value) << "read " << i;
  }
}

TEST_F(StoreSsdTierTest, AFullSsdRefusesPutsClearlyAndLosesNothingAcknowledged) {
  StartCluster("1MiB", "4MiB");
  FillDram(1 << 20);
  ReplicateConfig pinned;  // never evicted: the tier really fills up
  pinned.with_hard_pin = true;
  constexpr size_t kSize = 200 * 1024;
  int acknowledged = 0;
  Status refused;
  for (int i = 0; i < 64; ++i) {  // 4 MiB / 208 KiB: fails well before 64
    Status put = client_->Put(Key("full", i), Pattern(kSize, static_cast<uint32_t>(i)), pinned);
    if (!put.ok()) {
      refused = put;
      break;
    }
    ++acknowledged;
  }
  ASSERT_FALSE(refused.ok()) << "64 puts of 200 KiB fit a 4 MiB SSD";
  EXPECT_EQ(refused.code(), StatusCode::kNoAvailableHandle) << refused.ToString();
  EXPECT_NE(refused.message().find("SSD"), std::string::npos) << refused.ToString();
  EXPECT_GE(acknowledged, 15);
  EXPECT_EQ(CountCorrect("full", acknowledged, kSize), acknowledged);
}

TEST_F(StoreSsdTierTest, SsdObjectsSurviveAMasterRestart) {
  StartCluster("1MiB", "64MiB");
  FillDram(1 << 20);
  constexpr int kObjects = 50;
  constexpr size_t kSize = 20000;
  PutMany("m", kObjects, kSize);
  WaitForManifests();
  ASSERT_TRUE(cluster_->StartMaster().ok());  // SIGKILL, a fresh master with an empty index
  // The node re-mounts both segments with its manifests (bounded wait).
  int correct = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline && correct < kObjects) {
    correct = CountCorrect("m", kObjects, kSize);
    if (correct < kObjects) std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(correct, kObjects);
  auto list = admin_->GetReplicaList(Key("m", 0));
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(MediumOf(*list), mooncake::Medium::kSsd);
}

TEST_F(StoreSsdTierTest, AnSsdObjectLosingANodeIsCopiedToAnotherNodesSsd) {
  StartCluster("1MiB", "64MiB", /*nodes=*/3);
  ReplicateConfig pinned;
  pinned.with_hard_pin = true;
  pinned.replica_num = 3;
  ASSERT_TRUE(client_->Put("filler", Pattern(1 << 20, 1), pinned).ok());
  ReplicateConfig two;
  two.replica_num = 2;
  two.preferred_segments = {cluster_->node_name(0), cluster_->node_name(1)};
  constexpr size_t kSize = (1 << 20) + 333;  // several TCP slices, not a block multiple
  const std::vector<uint8_t> value = Pattern(kSize, 77);
  ASSERT_TRUE(client_->Put("moved", value, two).ok());
  auto before = admin_->GetReplicaList("moved");
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->replicas.size(), 2u);
  // Kill the node holding the first replica: the other SSD replica is copied to the third
  // node's SSD (read over TCP from a file segment, written through the node's io_uring).
  const std::string lost = before->replicas[0].node_id;
  int lost_index = 0;
  while (lost_index < 3 && cluster_->node_name(lost_index) != lost) ++lost_index;
  ASSERT_LT(lost_index, 3);
  cluster_->node(lost_index).Kill(SIGKILL);
  bool repaired = false;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline && !repaired) {
    auto list = admin_->GetReplicaList("moved");
    if (list.ok() && list->replicas.size() == 2) {
      repaired = true;
      for (const ReplicaLocation& r : list->replicas) {
        repaired = repaired && r.node_id != lost && r.medium == mooncake::Medium::kSsd;
      }
    }
    if (!repaired) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(repaired) << "no second SSD replica within 20 s";
  for (int i = 0; i < 4; ++i) {  // both replicas in turn
    auto got = client_->Get("moved");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, value);
  }
}

// A promoted object (DRAM and SSD replicas) is read from DRAM on every read, not only on a
// fresh lookup. Observable: the SSD copy has a flipped byte, and ranged reads are not
// checksummed, so a single ranged read served from SSD would return the flipped byte.
TEST_F(StoreSsdTierTest, APromotedObjectIsReadFromDramOnEveryRead) {
  StartCluster("8MiB", "64MiB", 1, {"--tick_interval=50", "--promote_after_hits=2"});
  FillDram(8 << 20);
  constexpr size_t kSize = 300 * 1024 + 5;
  constexpr size_t kFlip = 150001;  // inside the object, not on a block boundary
  const std::vector<uint8_t> value = Pattern(kSize, 45);
  ASSERT_TRUE(client_->Put("two-tier", value).ok());
  ASSERT_TRUE(client_->Remove("dram-filler", RemoveMode::kForce).ok());  // DRAM has room again
  // Two lookups (two clients: a client reuses its looked-up location) promote it.
  ASSERT_TRUE(client_->Get("two-tier").ok());
  std::unique_ptr<Client> other = TestClient(cluster_->master_address());
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->Get("two-tier").ok());
  bool promoted = false;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline && !promoted) {
    auto list = admin_->GetReplicaList("two-tier");
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    promoted = list->replicas.size() == 2 && list->replicas[0].medium != list->replicas[1].medium;
    if (!promoted) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(promoted) << "not on both tiers within 5 s; master log:\n"
                        << cluster_->master().ReadLog();
  WaitForManifests();
  // Corrupt the SSD copy (the DRAM one lives in the node's memory, not in the file).
  const std::string path = cluster_->ssd_path(0);
  const std::vector<uint8_t> file = ReadFile(path);
  const auto at = std::search(file.begin(), file.end(), value.begin(), value.begin() + 256);
  ASSERT_NE(at, file.end()) << "object bytes not found in " << path;
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const char flipped = static_cast<char>(value[kFlip] ^ 0x20);
  ASSERT_EQ(::pwrite(fd, &flipped, 1, (at - file.begin()) + static_cast<off_t>(kFlip)), 1);
  ::fsync(fd);
  ::close(fd);

  // A new reader: one lookup, then its location cache; its reads rotate over replicas.
  std::unique_ptr<Client> reader = TestClient(cluster_->master_address());
  ASSERT_NE(reader, nullptr);
  std::vector<uint8_t> buffer(4096, 0);
  ASSERT_TRUE(reader->RegisterBuffer(buffer.data(), buffer.size()).ok());
  constexpr size_t kFrom = kFlip - 1000;
  for (int i = 0; i < 16; ++i) {
    std::fill(buffer.begin(), buffer.end(), 0);
    const std::vector<Status> got =
        reader->GetIntoRanges({{"two-tier", kFrom, buffer.data(), buffer.size()}});
    ASSERT_TRUE(got[0].ok()) << "read " << i << ": " << got[0].ToString();
    ASSERT_TRUE(std::equal(buffer.begin(), buffer.end(), value.begin() + kFrom))
        << "read " << i << " returned the SSD copy's flipped byte";
  }
  for (int i = 0; i < 4; ++i) {
    auto got = reader->Get("two-tier");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, value);
  }
  // Both replicas are still listed: the reads chose DRAM, none was lost.
  auto list = admin_->GetReplicaList("two-tier");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->replicas.size(), 2u);
}

}  // namespace
}  // namespace mooncake::store
