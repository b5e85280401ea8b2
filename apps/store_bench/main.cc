// store_bench: throughput and latency of the store's zero-copy data path (PutFrom/GetInto, or
// BatchPutFrom/BatchGetInto when --batch_size > 1) against a running cluster.
//   store_bench --master=127.0.0.1:50051 --op=get --value_size=1048576 --threads=1 --duration=5
// Each thread has its own Client and a registered buffer of batch_size values. `get` puts the
// thread's keys first (and verifies one batch read back); `put` upserts a ring of keys, as
// redis SET overwrites, so the pool never fills. Keys share a prefix unique to the run and are
// removed at exit. bench/store_vs_redis.sh runs it next to redis-benchmark (the anchor).
// Last line: RESULT op=… value_size=… batch_size=… threads=… ops_per_s=… throughput_GBps=…
//            p50_us=… p99_us=… protocol=… failed_ops=… verify_checksum=0|1
//            (GB = 1e9 B; p50/p99 per call)

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <latch>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "apps/common/app_flags.h"
#include "bench_worker.h"
#include "common/logging.h"
#include "mooncake/common/size.h"

namespace mooncake::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string RunPrefix() {
  std::random_device rd;
  return fmt::format("sb-{:08x}{:04x}-", rd(), static_cast<unsigned>(getpid()) & 0xffff);
}

int Run(int argc, char** argv) {
  BenchOptions f;
  std::string value_size = "1MiB";
  CLI::App app{"Mooncake Store data-path benchmark (zero-copy PutFrom/GetInto)"};
  app::AppFlags common(app, "store_bench", LogLevel::kWarn);
  app.add_option("--master", f.master, "host:port of mooncake_master")->capture_default_str();
  app.add_option("--op", f.op, "put|get")
      ->check(CLI::IsMember({"put", "get"}))
      ->capture_default_str();
  app.add_option("--value_size", value_size, "Bytes per value, e.g. 4096 or 64KiB")
      ->capture_default_str();
  app.add_option("--batch_size", f.batch_size, "Keys per call")
      ->check(CLI::Range(size_t{1}, size_t{16384}))
      ->capture_default_str();
  app.add_option("--threads", f.threads, "Client threads, one Client each")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--duration", f.duration_s, "Seconds of measurement")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--replica_num", f.replica_num, "Copies per value")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  app.add_option("--protocol", f.protocol, "Transfer Engine protocol: auto|tcp|shm")
      ->check(CLI::IsMember({"auto", "tcp", "shm"}))
      ->capture_default_str();
  app.add_option(
         "--verify_checksum", f.verify_checksum,
         "Reads check the CRC32C of what they read (false: the opt-out, to measure its cost)")
      ->capture_default_str();
  app.add_option("--keys", f.keys, "Keys per thread (0: about 64 MiB of values, at most 1024)")
      ->capture_default_str();
  std::string range_size = "0";
  app.add_option("--range_size", range_size,
                 "get: read a range of this size of each value (GetIntoRanges); 0: whole values")
      ->capture_default_str();
  if (std::optional<int> exit_code = common.Parse(argc, argv)) return *exit_code;
  f.auth_secret = common.auth_secret();
  auto size = ParseSize(value_size);
  if (!size.ok() || *size == 0) {
    std::fprintf(stderr, "store_bench: --value_size '%s': %s\n", value_size.c_str(),
                 size.ok() ? "must be > 0" : size.status().ToString().c_str());
    return 2;
  }
  f.value_size = *size;
  auto range = ParseSize(range_size);
  if (!range.ok() || *range > f.value_size) {
    std::fprintf(stderr, "store_bench: --range_size '%s': %s\n", range_size.c_str(),
                 range.ok() ? "larger than --value_size" : range.status().ToString().c_str());
    return 2;
  }
  f.range_size = *range;
  f.prefix = RunPrefix();

  // Every thread prepares (connect, register, preload); the clock starts once all are ready.
  std::vector<std::unique_ptr<BenchWorker>> workers;
  std::vector<Status> prepared(f.threads);
  std::vector<WorkerStats> stats(f.threads);
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::latch ready(f.threads);
  std::vector<std::thread> threads;
  for (int t = 0; t < f.threads; ++t) {
    workers.push_back(std::make_unique<BenchWorker>(f, t));
    threads.emplace_back([&, t] {
      prepared[t] = workers[t]->Prepare();
      ready.count_down();
      go.wait(false);
      if (prepared[t].ok()) stats[t] = workers[t]->Run(stop);
    });
  }
  ready.wait();
  bool all_prepared = true;
  for (const Status& s : prepared) {
    if (!s.ok() && all_prepared) std::fprintf(stderr, "store_bench: %s\n", s.ToString().c_str());
    all_prepared = all_prepared && s.ok();
  }
  if (!all_prepared) stop = true;
  const auto start = Clock::now();
  go = true;
  go.notify_all();
  if (all_prepared) std::this_thread::sleep_for(std::chrono::duration<double>(f.duration_s));
  stop = true;
  for (std::thread& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();

  uint64_t ok_ops = 0;
  uint64_t failed_ops = 0;
  std::vector<double> latency;
  for (const WorkerStats& s : stats) {
    ok_ops += s.ok_ops;
    failed_ops += s.failed_ops;
    latency.insert(latency.end(), s.latency_us.begin(), s.latency_us.end());
    if (!s.first_error.empty()) std::fprintf(stderr, "first error: %s\n", s.first_error.c_str());
  }
  const Status cleaned = workers[0]->RemoveRunKeys();  // every thread's keys
  if (!cleaned.ok()) std::fprintf(stderr, "store_bench: cleanup: %s\n", cleaned.ToString().c_str());
  workers.clear();
  if (!all_prepared) return 1;

  const double p50 = Quantile(latency, 0.50);
  const double p99 = Quantile(latency, 0.99);
  const double ops_per_s = static_cast<double>(ok_ops) / secs;
  const double gbps = ops_per_s * static_cast<double>(f.value_size) / 1e9;
  std::printf("%s %s x %zu per call, %d thread(s), %s: %llu ok, %llu failed in %.2f s, %zu calls\n",
              f.op.c_str(), FormatSize(f.value_size).c_str(), f.batch_size, f.threads,
              f.protocol.c_str(), static_cast<unsigned long long>(ok_ops),
              static_cast<unsigned long long>(failed_ops), secs, latency.size());
  std::printf(
      "RESULT op=%s value_size=%llu batch_size=%zu threads=%d ops_per_s=%.0f throughput_GBps=%.3f "
      "p50_us=%.1f p99_us=%.1f protocol=%s failed_ops=%llu verify_checksum=%d\n",
      f.op.c_str(), static_cast<unsigned long long>(f.value_size), f.batch_size, f.threads,
      ops_per_s, gbps, p50, p99, f.protocol.c_str(), static_cast<unsigned long long>(failed_ops),
      f.verify_checksum ? 1 : 0);
  return ok_ops > 0 ? 0 : 1;
}

}  // namespace
}  // namespace mooncake::bench

int main(int argc, char** argv) { return mooncake::bench::Run(argc, argv); }
