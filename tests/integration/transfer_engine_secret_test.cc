// The cluster secret across processes: a `transfer_engine_bench` target started with
// --auth_secret_file, and `transfer_engine_bench` initiators with the right secret, a wrong one
// and none. A refused initiator prints that authentication failed and exits 3, and not one
// byte of the target's buffer changes (read back by an in-process engine with the secret).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "bench_pattern.h"
#include "testing/binary_path.h"
#include "testing/temp_dir.h"
#include "transfer_test_support.h"

namespace mooncake::integration {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kBuffer = 16 * kMiB;
constexpr int kExitUnauthenticated = 3;  // apps/transfer_engine_bench/main.cc

// Writes a secret file readable by its owner only (others are refused by the loader).
std::string WriteSecret(const testing::TempDir& dir, const std::string& name,
                        const std::string& key) {
  const std::string path = dir.File(name);
  std::ofstream(path) << key << "\n";
  chmod(path.c_str(), 0600);
  return path;
}

struct BenchRun {
  int exit_code = -1;
  std::string log;
};

// One bench initiator writing `operation` against `segment` for a short while.
BenchRun RunInitiatorBench(const std::string& segment, const std::string& operation,
                           const std::string& protocol, const std::string& secret_file) {
  testing::ProcessOptions options;
  options.binary = testing::BinaryPath("transfer_engine_bench");
  options.args = {"--mode=initiator",       "--segment_id=" + segment, "--operation=" + operation,
                  "--protocol=" + protocol, "--block_size=65536",      "--batch_size=16",
                  "--buffer_size=16MiB",    "--duration=0.3"};
  if (!secret_file.empty()) options.args.push_back("--auth_secret_file=" + secret_file);
  BenchRun run;
  auto process = testing::ChildProcess::Start(std::move(options));
  EXPECT_TRUE(process.ok()) << process.status().ToString();
  if (!process.ok()) return run;
  auto code = (*process)->Wait(std::chrono::seconds(60));
  EXPECT_TRUE(code.ok()) << code.status().ToString();
  run.exit_code = code.ok() ? *code : -1;
  run.log = (*process)->ReadLog();
  return run;
}

class TransferEngineSecretTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::Create("mc_auth_test");
    MC_ASSERT_OK(dir);
    dir_.emplace(std::move(*dir));
    right_ = WriteSecret(*dir_, "right", "the-right-cluster-secret-0123456789");
    wrong_ = WriteSecret(*dir_, "wrong", "some-other-cluster-secret-0123456789");
    SetTargetExtraArgs({"--auth_secret_file=" + right_});
  }
  void TearDown() override { SetTargetExtraArgs({}); }

  // Reads the target's whole buffer with the right secret: it must still hold its pattern.
  void ExpectTargetUnchanged(const TargetProcess& target) {
    transfer::TransferEngineOptions options;
    auto secret = auth::LoadSecretFile(right_);
    MC_ASSERT_OK(secret);
    options.auth_secret = std::make_shared<const auth::ClusterSecret>(std::move(*secret));
    auto engine = StartInitiator(options);
    MC_ASSERT_OK(engine);
    auto handle = (*engine)->OpenSegment(target.name);
    MC_ASSERT_OK(handle);
    auto local = (*engine)->AllocateBuffer(kBuffer);
    MC_ASSERT_OK(local);
    transfer::TransferRequest read{transfer::TransferOpcode::kRead, *local, *handle, target.buffer,
                                   kBuffer};
    MC_ASSERT_OK(RunBatch(**engine, {&read, 1}, seconds(20)));
    EXPECT_EQ(bench::FirstMismatch(static_cast<char*>(*local), kBuffer, kTargetSeed, 0), -1)
        << "a refused initiator changed the target's memory";
  }

  std::optional<testing::TempDir> dir_;
  std::string right_, wrong_;
};

TEST_P(TransferEngineSecretTest, RefusedInitiatorSaysAuthenticationFailedAndWritesNothing) {
  auto target = StartTarget(kBuffer);
  MC_ASSERT_OK(target);
  for (const std::string& secret : {wrong_, std::string()}) {
    SCOPED_TRACE(secret.empty() ? "no secret" : "wrong secret");
    BenchRun run = RunInitiatorBench(target->name, "write", GetParam(), secret);
    EXPECT_EQ(run.exit_code, kExitUnauthenticated) << run.log;
    EXPECT_THAT(run.log, HasSubstr("authentication failed")) << run.log;
    EXPECT_THAT(run.log, Not(HasSubstr("RESULT")));
  }
  ExpectTargetUnchanged(*target);
  EXPECT_THAT(target->process->ReadLog(), HasSubstr("refused tcp peer 127.0.0.1:"));
  // The right secret works over the same target.
  BenchRun ok = RunInitiatorBench(target->name, "read", GetParam(), right_);
  EXPECT_EQ(ok.exit_code, 0) << ok.log;
  EXPECT_THAT(ok.log, HasSubstr("verified=yes"));
}

INSTANTIATE_TEST_SUITE_P(Transports, TransferEngineSecretTest, ::testing::Values("tcp", "auto"),
                         TransportName);

}  // namespace
}  // namespace mooncake::integration
