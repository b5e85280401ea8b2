// The `mooncake` CLI as a user runs it: the real binary against a real cluster (master + two
// nodes on loopback), files in a temp dir, stdin/stdout through a shell redirection, and the
// exit codes and messages a script would branch on.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "master/client/master_client.h"
#include "replica_access.h"
#include "store_test_cluster.h"
#include "testing/binary_path.h"
#include "testing/free_port.h"
#include "testing/temp_dir.h"

namespace mooncake::store {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::chrono::seconds kCliTimeout{60};

struct CliRun {
  int exit_code = -1;
  // stdout and stderr together, unless stdout went to a file.
  std::string output;
};

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// The line of `output` that starts with `prefix` (e.g. "  DRAM "), without its newline; "" when
// there is none.
std::string LineStartingWith(const std::string& output, const std::string& prefix) {
  size_t at = output.rfind("\n" + prefix);
  if (at == std::string::npos) return "";
  ++at;
  return output.substr(at, output.find('\n', at) - at);
}

// A row of `mooncake stat`'s tiers block, "  <tier> <lookups> <share>", e.g. "  DRAM 3 75.0%".
struct TierRow {
  bool found = false;
  unsigned long long lookups = 0;
  std::string share;  // "75.0%", or "-" without lookups
};

TierRow ParseTierRow(const std::string& output, const std::string& tier) {
  const std::string line = LineStartingWith(output, "  " + tier + " ");
  TierRow row;
  char share[16] = {};
  row.found = !line.empty() &&
              std::sscanf(line.c_str() + 2 + tier.size(), "%llu %15s", &row.lookups, share) == 2;
  row.share = share;
  return row;
}

// Runs `mooncake ARGS` through /bin/sh, so stdin can come from `stdin_path` and stdout go to
// `stdout_path` (each "" = not redirected: stdin /dev/null, stdout into the captured output).
CliRun RunCli(const std::vector<std::string>& args, const std::string& stdin_path = "",
              const std::string& stdout_path = "") {
  testing::ProcessOptions process;
  process.binary = "/bin/sh";
  std::string script = "exec \"$0\" \"$@\"";
  if (!stdin_path.empty()) {
    script += " <\"$MC_STDIN\"";
    process.extra_env.emplace_back("MC_STDIN", stdin_path);
  }
  if (!stdout_path.empty()) {
    script += " >\"$MC_STDOUT\"";
    process.extra_env.emplace_back("MC_STDOUT", stdout_path);
  }
  process.args = {"-c", script, testing::BinaryPath("mooncake")};
  process.args.insert(process.args.end(), args.begin(), args.end());
  CliRun run;
  auto child = testing::ChildProcess::Start(process);
  if (!child.ok()) {
    run.output = child.status().ToString();
    return run;
  }
  auto code = (*child)->Wait(kCliTimeout);
  run.exit_code = code.ok() ? *code : -1;
  run.output = (*child)->ReadLog();
  return run;
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StoreTestClusterOptions options;
    options.segment_size = "32MiB";  // small, so a 40 MiB file finds the pool full
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    dir_ = std::make_unique<testing::TempDir>(testing::TempDir::Create("cli_test").value());
  }

  // `mooncake --master=<the cluster> ARGS`.
  static CliRun Cli(std::vector<std::string> args, const std::string& stdin_path = "",
                    const std::string& stdout_path = "") {
    args.insert(args.begin(), "--master=" + cluster_->master_address());
    return RunCli(args, stdin_path, stdout_path);
  }

  std::string File(const std::string& name) const { return dir_->File(name); }

  static StoreTestCluster* cluster_;
  std::unique_ptr<testing::TempDir> dir_;
};

StoreTestCluster* CliTest::cluster_ = nullptr;

TEST_F(CliTest, PutThenGetOfA3MiBFileIsByteExact) {
  const std::string value = RandomBytes(3 << 20, 1);
  WriteFile(File("in.bin"), value);
  CliRun put = Cli({"put", "file-3m", File("in.bin")});
  ASSERT_EQ(put.exit_code, 0) << put.output;
  CliRun get = Cli({"get", "file-3m", File("out.bin")});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_TRUE(ReadFile(File("out.bin")) == value);
}

TEST_F(CliTest, StdinAndStdout) {
  const std::string value = RandomBytes(100000, 2);
  WriteFile(File("in.bin"), value);
  CliRun put = Cli({"put", "piped", "-"}, File("in.bin"));
  ASSERT_EQ(put.exit_code, 0) << put.output;
  CliRun get = Cli({"get", "piped"}, "", File("out.bin"));  // no FILE: stdout
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_TRUE(ReadFile(File("out.bin")) == value);
  CliRun dash = Cli({"get", "piped", "-"}, "", File("dash.bin"));
  ASSERT_EQ(dash.exit_code, 0) << dash.output;
  EXPECT_TRUE(ReadFile(File("dash.bin")) == value);
}

TEST_F(CliTest, ExistsAnswersWithItsExitCode) {
  WriteFile(File("v"), "hello");
  ASSERT_EQ(Cli({"put", "present", File("v")}).exit_code, 0);
  EXPECT_EQ(Cli({"exists", "present"}).exit_code, 0);
  EXPECT_EQ(Cli({"exists", "absent"}).exit_code, 1);
}

TEST_F(CliTest, RmRemovesAndASecondRmSaysKeyNotFound) {
  WriteFile(File("v"), "bye");
  ASSERT_EQ(Cli({"put", "doomed", File("v")}).exit_code, 0);
  CliRun rm = Cli({"rm", "doomed"});
  EXPECT_EQ(rm.exit_code, 0) << rm.output;
  EXPECT_EQ(Cli({"exists", "doomed"}).exit_code, 1);
  CliRun again = Cli({"rm", "doomed", "--force"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("key not found: doomed"));
}

TEST_F(CliTest, LsListsSortedKeysWithThePrefix) {
  WriteFile(File("v"), "x");
  for (const char* key : {"ls/b", "ls/a", "ls/c", "other/ls"}) {
    ASSERT_EQ(Cli({"put", key, File("v")}).exit_code, 0) << key;
  }
  CliRun ls = Cli({"ls", "ls/"}, "", File("ls.txt"));
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_EQ(ReadFile(File("ls.txt")), "ls/a\nls/b\nls/c\n");
  CliRun limited = Cli({"ls", "ls/", "--limit", "2"}, "", File("limited.txt"));
  ASSERT_EQ(limited.exit_code, 0);
  EXPECT_EQ(ReadFile(File("limited.txt")), "ls/a\nls/b\n");
  EXPECT_THAT(limited.output, HasSubstr("more match"));
  CliRun all = Cli({"ls", "--limit", "0"});
  EXPECT_THAT(all.output, HasSubstr("other/ls"));
}

TEST_F(CliTest, StatShowsNodesSegmentsObjectsAndHitRate) {
  WriteFile(File("v"), "stat");
  ASSERT_EQ(Cli({"put", "stat-key", File("v")}).exit_code, 0);
  ASSERT_EQ(Cli({"get", "stat-key", File("out")}).exit_code, 0);
  CliRun stat = Cli({"stat"});
  ASSERT_EQ(stat.exit_code, 0) << stat.output;
  EXPECT_THAT(stat.output, HasSubstr(cluster_->node_name(0)));
  EXPECT_THAT(stat.output, HasSubstr(cluster_->node_name(1)));
  EXPECT_THAT(stat.output, HasSubstr("nodes: 2  segments: 2"));
  EXPECT_THAT(stat.output, HasSubstr("DRAM"));
  EXPECT_THAT(stat.output, HasSubstr("hit rate"));
  EXPECT_THAT(stat.output, Not(HasSubstr("hit rate -")));  // the get above was a lookup
  EXPECT_THAT(stat.output, HasSubstr("re-replication: 0 in flight"));
  EXPECT_THAT(stat.output, Not(HasSubstr("draining")));
}

TEST_F(CliTest, StatShowsWhereLookupsWereServedTierByTier) {
  WriteFile(File("v"), "tiers");
  ASSERT_EQ(Cli({"put", "tiers-key", File("v")}).exit_code, 0);
  ASSERT_EQ(Cli({"get", "tiers-key", File("out")}).exit_code, 0);
  ASSERT_EQ(Cli({"get", "tiers-key", File("out")}).exit_code, 0);
  CliRun stat = Cli({"stat"});
  ASSERT_EQ(stat.exit_code, 0) << stat.output;
  EXPECT_THAT(stat.output, HasSubstr("\ntiers: where the ")) << stat.output;
  // Other tests of the suite read too: at least this test's lookups are there.
  const TierRow dram = ParseTierRow(stat.output, "DRAM");
  ASSERT_TRUE(dram.found) << stat.output;
  EXPECT_GE(dram.lookups, 2u) << stat.output;
  EXPECT_NE(dram.share, "0.0%") << stat.output;
  EXPECT_TRUE(ParseTierRow(stat.output, "miss").found) << stat.output;
  // No SSD, no object store in this cluster: no rows or lines for them.
  EXPECT_FALSE(ParseTierRow(stat.output, "SSD").found) << stat.output;
  EXPECT_FALSE(ParseTierRow(stat.output, "object store").found) << stat.output;
  EXPECT_THAT(stat.output, Not(HasSubstr("SSD tier:")));
  EXPECT_THAT(stat.output, Not(HasSubstr("object tier:")));
}

// The issue a new user hit: any process reaching a node's Transfer Engine port overwrote most
// of a stored 4 MiB object, and `mooncake get` exited 0 with the wrong bytes.
TEST_F(CliTest, AnObjectOverwrittenBehindTheStoresBackIsNeverWrittenOutAndStatCountsIt) {
  const std::string value = RandomBytes(4 << 20, 9);
  WriteFile(File("in.bin"), value);
  ASSERT_EQ(Cli({"put", "overwritten", File("in.bin")}).exit_code, 0);
  master::MasterClientOptions admin_options;
  admin_options.master_address = cluster_->master_address();
  auto admin = master::MasterClient::Create(admin_options);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto list = (*admin)->GetReplicaList("overwritten");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->replicas.size(), 1u);
  auto foreign = ReplicaAccess::Create("tcp");
  ASSERT_TRUE(foreign.ok()) << foreign.status().ToString();
  const std::string garbage = RandomBytes((4 << 20) - 4096, 10);
  ASSERT_TRUE((*foreign)
                  ->Write(list->replicas[0].slices.at(0), 4096,
                          {reinterpret_cast<const uint8_t*>(garbage.data()), garbage.size()})
                  .ok());

  CliRun get = Cli({"get", "overwritten", File("out.bin")});
  EXPECT_NE(get.exit_code, 0) << get.output;
  EXPECT_THAT(get.output, HasSubstr("CHECKSUM_MISMATCH")) << get.output;
  EXPECT_NE(ReadFile(File("out.bin")), value.substr(0, 4096) + garbage)
      << "the overwritten bytes reached the output file";
  CliRun stat = Cli({"stat"});
  ASSERT_EQ(stat.exit_code, 0) << stat.output;
  EXPECT_THAT(stat.output,
              HasSubstr("integrity: 1 corrupt replicas reported, 1 dropped, 1 objects lost"))
      << stat.output;
  // The object had no good replica left: it is gone, not served corrupt to the next reader.
  CliRun again = Cli({"get", "overwritten", File("again.bin")});
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_THAT(again.output, HasSubstr("key not found: overwritten"));
}

TEST_F(CliTest, GetOfAMissingKeySaysKeyNotFound) {
  CliRun get = Cli({"get", "never-put", File("out")});
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_THAT(get.output, HasSubstr("key not found: never-put"));
}

TEST_F(CliTest, PutOfAnExistingKeyNeedsUpsert) {
  WriteFile(File("one"), "first");
  WriteFile(File("two"), "second");
  ASSERT_EQ(Cli({"put", "twice", File("one")}).exit_code, 0);
  CliRun again = Cli({"put", "twice", File("two")});
  EXPECT_EQ(again.exit_code, 5);
  EXPECT_THAT(again.output, HasSubstr("key exists: twice (use --upsert)"));
  ASSERT_EQ(Cli({"put", "twice", File("two"), "--upsert"}).exit_code, 0);
  ASSERT_EQ(Cli({"get", "twice", File("out")}).exit_code, 0);
  EXPECT_EQ(ReadFile(File("out")), "second");
}

TEST_F(CliTest, AValueLargerThanAnyNodeFindsThePoolFull) {
  WriteFile(File("big"), std::string(size_t{40} << 20, 'b'));
  CliRun put = Cli({"put", "too-big", File("big")});
  EXPECT_EQ(put.exit_code, 4) << put.output;
  EXPECT_THAT(put.output, HasSubstr("pool full: "));
}

TEST_F(CliTest, MissingInputFileIsALocalError) {
  CliRun put = Cli({"put", "k", File("does-not-exist")});
  EXPECT_EQ(put.exit_code, 6);
  EXPECT_THAT(put.output, HasSubstr("cannot open"));
}

// A cluster of its own (exact counts) with a write-through object tier (file://): two objects
// put, then the cluster restarted with an empty pool, so both are only in the bucket; one of
// them damaged there.
TEST(CliObjectTierTest, StatShowsTierHitRatesAndTheObjectTier) {
  auto dir = testing::TempDir::Create("cli_object_tier");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  StoreTestClusterOptions options;
  options.nodes = 1;
  options.master_args = {"--object_store=file://" + dir->File("bucket"),
                         "--object_store_policy=write-through"};
  auto cluster = StoreTestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "--master=" + (*cluster)->master_address());
    return RunCli(args);
  };
  WriteFile(dir->File("v"), RandomBytes(5000, 3));
  ASSERT_EQ(cli({"put", "hot", dir->File("v")}).exit_code, 0);
  ASSERT_EQ(cli({"put", "damaged", dir->File("v")}).exit_code, 0);
  ASSERT_TRUE((*cluster)->StartMaster().ok());  // an empty index, counters from zero
  ASSERT_TRUE((*cluster)->StartNode(0).ok());   // an empty pool
  {
    // The bucket's copy of "damaged" gets a flipped last byte: it can no longer be read.
    std::fstream file(dir->File("bucket") + "/damaged",
                      std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file.is_open());
    file.seekg(-1, std::ios::end);
    const char last = static_cast<char>(file.get());
    file.seekp(-1, std::ios::end);
    file.put(static_cast<char>(last ^ 0x5a));
  }
  // Each `mooncake get` is a new client: one lookup each. The first read of "hot" misses the
  // pool and is read through from the bucket (and put back); the next two are DRAM hits.
  for (int i = 0; i < 3; ++i) {
    CliRun get = cli({"get", "hot", dir->File("out")});
    ASSERT_EQ(get.exit_code, 0) << get.output;
  }
  // Misses the pool, and the bucket cannot serve it either: a miss.
  CliRun damaged = cli({"get", "damaged", dir->File("out")});
  EXPECT_NE(damaged.exit_code, 0) << damaged.output;
  // In neither: `mooncake get` asks for the size first, and that probe is no lookup.
  EXPECT_EQ(cli({"get", "never-put", dir->File("out")}).exit_code, 1);

  CliRun stat = cli({"stat"});
  ASSERT_EQ(stat.exit_code, 0) << stat.output;
  std::printf("%s", stat.output.c_str());
  EXPECT_THAT(stat.output, HasSubstr("\ntiers: where the 4 lookups since start were served\n"));
  const TierRow dram = ParseTierRow(stat.output, "DRAM");
  EXPECT_TRUE(dram.found) << stat.output;
  EXPECT_EQ(dram.lookups, 2u) << stat.output;
  EXPECT_EQ(dram.share, "50.0%") << stat.output;
  const TierRow object = ParseTierRow(stat.output, "object store");
  const TierRow miss = ParseTierRow(stat.output, "miss");
  ASSERT_TRUE(object.found) << stat.output;
  ASSERT_TRUE(miss.found) << stat.output;
  EXPECT_EQ(object.lookups, 1u) << stat.output;
  EXPECT_EQ(object.share, "25.0%") << stat.output;
  EXPECT_EQ(miss.lookups, 1u) << stat.output;
  EXPECT_EQ(miss.share, "25.0%") << stat.output;
  EXPECT_FALSE(ParseTierRow(stat.output, "SSD").found) << stat.output;
  EXPECT_THAT(stat.output, HasSubstr("\n  object tier: write-through; read-throughs 1, uploads "));
  EXPECT_THAT(stat.output, Not(HasSubstr("backlog"))) << "write-back only";
}

TEST(CliNoClusterTest, UnreachableMasterIsNamed) {
  const std::string master = "127.0.0.1:" + std::to_string(testing::PickFreeTcpPort().value());
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"stat"}, {"exists", "k"}, {"get", "k"}}) {
    std::vector<std::string> args = {"--master=" + master, "--timeout_ms=2000"};
    args.insert(args.end(), command.begin(), command.end());
    CliRun run = RunCli(args);
    EXPECT_EQ(run.exit_code, 3) << command[0] << ": " << run.output;
    EXPECT_THAT(run.output, HasSubstr("master unreachable at " + master + ": ")) << command[0];
  }
}

TEST(CliNoClusterTest, BadUsageIsExitCode2) {
  EXPECT_EQ(RunCli({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(RunCli({"put", "only-a-key"}).exit_code, 2);
}

// A cluster whose master and node require a cluster secret: the CLI with the right secret works,
// without one or with another it says "authentication failed" and exits 8, changing nothing.
class CliAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir(testing::TempDir::Create("cli_auth_test").value());
    right_ = WriteSecret("right", "cli-right-secret-0123456789", 0600);
    wrong_ = WriteSecret("wrong", "cli-wrong-secret-0123456789", 0600);
    StoreTestClusterOptions options;
    options.nodes = 1;
    options.segment_size = "32MiB";
    options.master_args = {"--auth_secret_file=" + right_};
    options.node_args = {"--auth_secret_file=" + right_};
    auto cluster = StoreTestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(cluster_, nullptr); }

  static std::string WriteSecret(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir_->File(name);
    WriteFile(path, text + "\n");
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }

  // `mooncake --master=<the cluster> [--auth_secret_file=SECRET] ARGS`.
  static CliRun Cli(const std::string& secret, std::vector<std::string> args,
                    const std::string& stdout_path = "") {
    args.insert(args.begin(), "--master=" + cluster_->master_address());
    if (!secret.empty()) args.insert(args.begin(), "--auth_secret_file=" + secret);
    return RunCli(args, "", stdout_path);
  }

  static StoreTestCluster* cluster_;
  static testing::TempDir* dir_;
  static std::string right_;
  static std::string wrong_;
};

StoreTestCluster* CliAuthTest::cluster_ = nullptr;
testing::TempDir* CliAuthTest::dir_ = nullptr;
std::string CliAuthTest::right_;
std::string CliAuthTest::wrong_;

TEST_F(CliAuthTest, WrongOrMissingSecretIsExitCode8AndChangesNothing) {
  const std::string value = RandomBytes(200000, 7);
  WriteFile(dir_->File("in.bin"), value);
  CliRun put = Cli(right_, {"put", "guarded", dir_->File("in.bin")});
  ASSERT_EQ(put.exit_code, 0) << put.output;

  for (const std::string& secret : {wrong_, std::string()}) {
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"rm", "guarded", "--force"},
          {"exists", "guarded"},
          {"put", "guarded", dir_->File("in.bin"), "--upsert"},
          {"get", "guarded"},
          {"stat"}}) {
      CliRun run = Cli(secret, command);
      EXPECT_EQ(run.exit_code, 8) << command[0] << ": " << run.output;
      EXPECT_THAT(run.output, HasSubstr("mooncake: authentication failed: ")) << command[0];
      EXPECT_THAT(run.output, HasSubstr("--auth_secret_file")) << command[0];
    }
  }
  EXPECT_THAT(Cli("", {"exists", "guarded"}).output, HasSubstr("no cluster secret"));
  EXPECT_THAT(Cli(wrong_, {"exists", "guarded"}).output, HasSubstr("same secret file"));

  EXPECT_EQ(Cli(right_, {"exists", "guarded"}).exit_code, 0);
  CliRun get = Cli(right_, {"get", "guarded", dir_->File("out.bin")});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_TRUE(ReadFile(dir_->File("out.bin")) == value);
}

TEST_F(CliAuthTest, SecretFileOthersMayReadIsAUsageError) {
  const std::string readable = WriteSecret("readable", "cli-right-secret-0123456789", 0644);
  CliRun run = Cli(readable, {"exists", "guarded"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("chmod 600 " + readable));
}

TEST(CliNoClusterTest, HelpListsTheAuthenticationExitCode) {
  CliRun help = RunCli({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("8 authentication failed"));
}

}  // namespace
}  // namespace mooncake::store
