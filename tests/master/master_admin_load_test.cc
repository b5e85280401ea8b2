// Admin calls against a real mooncake_master process (issue #20): a pathological regex over
// a few thousand keys returns promptly while other RPCs keep answering (RE2, chunked scans
// that release the service lock), a pattern RE2 rejects is a clear error, and SIGTERM stops
// the master within 5 s while admin scans and reads are in flight.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "master/client/master_client.h"
#include "testing/binary_path.h"
#include "testing/free_port.h"
#include "testing/process_launcher.h"

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kKeys = 3000;
// The worst case for a backtracking matcher: ^(a+)+$ against n a's then a 'b' tries 2^n splits.
constexpr char kPathological[] = "^(a+)+$";

// Key i: every tenth a run of 'a' (64..~2000 long) ending in 'b', the rest plain.
std::string KeyOf(size_t i) {
  if (i % 10 == 0) return std::string(64 + (i * 7) % 1900, 'a') + "b" + std::to_string(i);
  return "plain/" + std::to_string(i);
}

class MasterAdminLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = testing::PickFreeTcpPort().value();
    testing::ProcessOptions options;
    options.binary = testing::BinaryPath("mooncake_master");
    options.args = {"--host=127.0.0.1", "--port=" + std::to_string(port_), "--metrics_port=-1",
                    "--log_level=warn"};
    auto child = testing::ChildProcess::Start(options);
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    master_ = std::move(*child);
    ASSERT_TRUE(master_->WaitForLine("READY", seconds(20)).ok()) << master_->ReadLog();
    client_ = Client();
    ASSERT_TRUE(client_->MountSegment({"seg", "node", 1, Medium::kDram, 1 << 20, 1ull << 40}).ok());
    for (size_t base = 0; base < kKeys; base += 1000) {
      std::vector<PutStartItem> starts;
      std::vector<PutEndItem> ends;
      for (size_t i = base; i < std::min(kKeys, base + 1000); ++i) {
        starts.push_back({KeyOf(i), 4096});
        ends.push_back({KeyOf(i), 0});
      }
      ASSERT_TRUE(client_->BatchPutStart(starts, ReplicateConfig{}).ok());
      ASSERT_TRUE(client_->BatchPutEnd(ends).ok());
    }
    ASSERT_EQ(client_->GetClusterInfo().value().objects, kKeys);
  }

  std::unique_ptr<MasterClient> Client() {
    MasterClientOptions options;
    options.master_address = "127.0.0.1:" + std::to_string(port_);
    options.rpc_timeout = milliseconds(3000);
    return std::move(MasterClient::Create(options).value());
  }

  uint16_t port_ = 0;
  std::unique_ptr<testing::ChildProcess> master_;
  std::unique_ptr<MasterClient> client_;
};

TEST_F(MasterAdminLoadTest, PathologicalRegexReturnsPromptlyAndOtherRpcsKeepAnswering) {
  std::atomic<bool> stop{false};
  std::vector<double> admin_ms;
  std::vector<Status> admin_errors;
  std::thread admin([&] {
    auto c = Client();
    // Bounded: stops when the probe is done, or after 200 calls.
    for (int n = 0; n < 200 && !stop.load(); ++n) {
      const auto start = SteadyClock::now();
      Status s = n % 2 == 0 ? c->RemoveByRegex(kPathological, RemoveMode::kNormal).status()
                            : c->ListKeys("", 0).status();
      admin_ms.push_back(
          std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
      if (!s.ok()) admin_errors.push_back(s);
    }
  });
  std::vector<double> probe_ms;
  size_t probe_failed = 0;
  const auto end = SteadyClock::now() + seconds(2);
  for (size_t n = 0; SteadyClock::now() < end && n < 1000000; ++n) {
    const std::string key = KeyOf(n % kKeys | 1);  // odd: a plain key
    const auto start = SteadyClock::now();
    const bool ok =
        n % 2 == 0 ? client_->ExistKey(key).value_or(false) : client_->GetReplicaList(key).ok();
    probe_ms.push_back(
        std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
    if (!ok) ++probe_failed;
  }
  stop = true;
  admin.join();

  EXPECT_TRUE(admin_errors.empty()) << admin_errors.front().ToString();
  ASSERT_GE(admin_ms.size(), 2u) << "no admin call completed in 2 s";
  EXPECT_LT(*std::max_element(admin_ms.begin(), admin_ms.end()), 2000.0);
  EXPECT_EQ(probe_failed, 0u);
  ASSERT_FALSE(probe_ms.empty());
  std::sort(probe_ms.begin(), probe_ms.end());
  const double p99 = probe_ms[probe_ms.size() * 99 / 100];
  // The benchmark's goal is 50 ms; a loaded 2-core CI machine gets slack. Under std::regex
  // every probe timed out for 40+ s.
  EXPECT_LT(p99, 250.0) << probe_ms.size() << " probes";
  std::printf("%zu probes: p50 %.2f ms, p99 %.2f ms; %zu admin calls, longest %.1f ms\n",
              probe_ms.size(), probe_ms[probe_ms.size() / 2], p99, admin_ms.size(),
              *std::max_element(admin_ms.begin(), admin_ms.end()));
  // Nothing is all a's: the pathological pattern removed nothing.
  EXPECT_EQ(client_->GetClusterInfo().value().objects, kKeys);
}

TEST_F(MasterAdminLoadTest, SearchSemanticsAndRejectedPatternsOverRpc) {
  // Unanchored search: "a+b" matches inside every 'a'-run key; "^plain/1" only at the start.
  auto listed = client_->ListKeys("plain/1", 0);
  ASSERT_TRUE(listed.ok());
  const size_t plain_1 = listed->keys.size();
  EXPECT_EQ(client_->RemoveByRegex("^plain/1", RemoveMode::kNormal).value(), plain_1);
  EXPECT_EQ(client_->RemoveByRegex("a+b", RemoveMode::kNormal).value(), kKeys / 10);

  auto backref = client_->RemoveByRegex("(a)\\1", RemoveMode::kNormal);
  EXPECT_EQ(backref.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(backref.status().message(), HasSubstr("invalid regex '(a)\\1'"));
  auto overlong = client_->RemoveByRegex(std::string(5000, 'x'), RemoveMode::kNormal);
  EXPECT_EQ(overlong.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(overlong.status().message(), HasSubstr("longer than 4096 bytes"));
  EXPECT_EQ(client_->GetClusterInfo().value().objects, kKeys - plain_1 - kKeys / 10);
}

TEST_F(MasterAdminLoadTest, SigtermWithAdminScansAndReadsInFlightStopsWithin5s) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> calls{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 3; ++t) {
    load.emplace_back([&, t] {
      auto c = Client();
      // Bounded: until stopped or 20 s, whichever first; errors after SIGTERM are expected.
      const auto end = SteadyClock::now() + seconds(20);
      for (size_t n = 0; !stop.load() && SteadyClock::now() < end; ++n) {
        if (t == 0) {
          c->RemoveByRegex(kPathological, RemoveMode::kNormal).status().IgnoreError();
        } else {
          c->GetReplicaList(KeyOf((n * 2 + 1) % kKeys)).status().IgnoreError();
        }
        ++calls;
      }
    });
  }
  // Load running: some calls answered.
  for (int i = 0; i < 100 && calls.load() < 50; ++i) std::this_thread::sleep_for(milliseconds(20));
  ASSERT_GE(calls.load(), 50u);

  const auto signalled = SteadyClock::now();
  master_->Kill(SIGTERM);
  auto code = master_->Wait(seconds(5));
  const auto took = SteadyClock::now() - signalled;
  stop = true;
  for (std::thread& t : load) t.join();
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 0) << master_->ReadLog();
  EXPECT_THAT(master_->ReadLog(), HasSubstr("STOPPED"));
  std::printf("master exited %lld ms after SIGTERM under load\n",
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(took).count()));
}

}  // namespace
}  // namespace mooncake::master
