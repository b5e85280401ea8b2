// master_bench: throughput and latency of the master's RPCs, next to a TCP ping-pong anchor
// measured in the same run.
//   master_bench --master=127.0.0.1:50051 --op=get --batch_size=128 --threads=2 --duration=5
// Each run mounts a synthetic segment (metadata only: no memory behind it) under a key prefix
// unique to the run, puts --keys objects first for get/exist, and removes and unmounts
// everything at exit, so runs can follow each other against one master.
//   master_bench --master=... --op=admin --keys=20000 --duration=5   (admin_load.h)
// Last line: RESULT op=… batch_size=… threads=… keys_per_s=… p50_us=… p99_us=…
//            pingpong_p50_us=… p50_over_pingpong=…

#include <fmt/format.h>
#include <httplib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "admin_load.h"
#include "apps/common/app_flags.h"
#include "apps/latency_anchors/tcp_request_response.h"
#include "common/logging.h"
#include "master/client/master_client.h"

namespace mooncake::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::string master = "127.0.0.1:50051";
  std::string op = "get";
  size_t batch_size = 128;
  int threads = 2;
  double duration = 5;
  size_t keys = 10000;
  uint64_t value_size = 4096;
  std::string metrics;  // host:port of the master's HTTP server, for its RSS
  int rpc_timeout_ms = 5000;
  // The cluster secret (--auth_secret_file); null: none.
  std::shared_ptr<const auth::ClusterSecret> auth_secret;
};

struct ThreadResult {
  uint64_t ok_keys = 0;
  uint64_t failed_keys = 0;
  std::vector<double> latency_us;
  std::string first_error;
};

std::string RunId() {
  std::random_device rd;
  return fmt::format("{:08x}{:04x}", rd(), static_cast<unsigned>(getpid()) & 0xffff);
}

std::string Key(const std::string& prefix, size_t i) { return fmt::format("{}k{:09}", prefix, i); }

std::unique_ptr<master::MasterClient> Connect(const Flags& f, const std::string& id) {
  master::MasterClientOptions options;
  options.master_address = f.master;
  options.rpc_timeout = std::chrono::milliseconds(f.rpc_timeout_ms);
  options.client_id = id;
  options.auth_secret = f.auth_secret;
  auto client = master::MasterClient::Create(options);
  if (!client.ok()) {
    std::fprintf(stderr, "master_bench: %s\n", client.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*client);
}

// The master's resident set size from its /metrics, or -1 when unavailable.
double MasterRss(const std::string& metrics) {
  if (metrics.empty()) return -1;
  const size_t colon = metrics.rfind(':');
  if (colon == std::string::npos) return -1;
  httplib::Client http(metrics.substr(0, colon), std::stoi(metrics.substr(colon + 1)));
  auto res = http.Get("/metrics");
  if (!res || res->status != 200) return -1;
  const std::string name = "process_resident_memory_bytes ";
  const size_t at = res->body.find("\n" + name);
  if (at == std::string::npos) return -1;
  return std::stod(res->body.substr(at + 1 + name.size()));
}

// Puts keys [0, n) in batches; returns how many landed.
size_t Preload(master::MasterClient& client, const std::string& prefix, size_t n,
               uint64_t value_size) {
  size_t landed = 0;
  constexpr size_t kChunk = 1024;
  for (size_t base = 0; base < n; base += kChunk) {
    std::vector<master::PutStartItem> starts;
    for (size_t i = base; i < std::min(n, base + kChunk); ++i) {
      starts.push_back({Key(prefix, i), value_size});
    }
    auto started = client.BatchPutStart(starts, ReplicateConfig{});
    if (!started.ok()) {
      std::fprintf(stderr, "preload: %s\n", started.status().ToString().c_str());
      return landed;
    }
    std::vector<master::PutEndItem> ends;
    for (size_t i = 0; i < starts.size(); ++i) {
      if ((*started)[i].ok()) ends.push_back({starts[i].key, 0});
    }
    auto ended = client.BatchPutEnd(ends);
    if (!ended.ok()) return landed;
    for (const Status& s : *ended) landed += s.ok() ? 1 : 0;
  }
  return landed;
}

// One thread's loop: batched ops until `stop`.
ThreadResult Worker(const Flags& f, const std::string& prefix, int thread, const std::string& id,
                    const std::atomic<bool>& stop) {
  auto client = Connect(f, id);
  ThreadResult r;
  size_t cursor = static_cast<size_t>(thread) * (f.keys / std::max(f.threads, 1));
  size_t put_serial = 0;
  std::vector<std::string> keys(f.batch_size);
  auto note_error = [&](const Status& s) {
    if (r.first_error.empty()) r.first_error = s.ToString();
  };
  while (!stop.load(std::memory_order_relaxed)) {
    const auto start = Clock::now();
    if (f.op == "put") {
      std::vector<master::PutStartItem> items(f.batch_size);
      for (auto& item : items) {
        item = {fmt::format("{}t{}-{:09}", prefix, thread, put_serial++), f.value_size};
      }
      auto started = client->BatchPutStart(items, ReplicateConfig{});
      std::vector<master::PutEndItem> ends;
      if (started.ok()) {
        for (size_t i = 0; i < items.size(); ++i) {
          if ((*started)[i].ok()) {
            ends.push_back({items[i].key, 0});
          } else {
            note_error((*started)[i].status());
          }
        }
      } else {
        note_error(started.status());
      }
      auto ended = client->BatchPutEnd(ends);
      if (ended.ok()) {
        for (const Status& s : *ended) (s.ok() ? r.ok_keys : r.failed_keys)++;
      }
      r.failed_keys += items.size() - ends.size();
    } else {
      for (std::string& key : keys) key = Key(prefix, cursor++ % f.keys);
      if (f.op == "get") {
        auto got = client->BatchGetReplicaList(keys);
        if (!got.ok()) {
          note_error(got.status());
          r.failed_keys += keys.size();
        } else {
          for (const auto& g : *got) {
            (g.ok() ? r.ok_keys : r.failed_keys)++;
            if (!g.ok()) note_error(g.status());
          }
        }
      } else {
        auto got = client->BatchExistKey(keys);
        if (!got.ok()) {
          note_error(got.status());
          r.failed_keys += keys.size();
        } else {
          for (const auto& g : *got) (g.ok() && *g ? r.ok_keys : r.failed_keys)++;
        }
      }
    }
    r.latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  return r;
}

int Run(int argc, char** argv) {
  Flags f;
  CLI::App app{"Mooncake master RPC benchmark (with a TCP ping-pong anchor)"};
  app::AppFlags common(app, "master_bench", LogLevel::kWarn);
  app.add_option("--master", f.master, "host:port of mooncake_master")->capture_default_str();
  app.add_option("--op", f.op,
                 "put|get|exist, or admin: small-RPC latency with and without RemoveByRegex/"
                 "ListKeys load (admin_load.h)")
      ->check(CLI::IsMember({"put", "get", "exist", "admin"}))
      ->capture_default_str();
  app.add_option("--batch_size", f.batch_size, "Keys per RPC")
      ->check(CLI::Range(size_t{1}, size_t{16384}))
      ->capture_default_str();
  app.add_option("--threads", f.threads, "Client threads, one channel each")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--duration", f.duration, "Seconds of measurement")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--keys", f.keys, "Objects put first for get/exist")
      ->check(CLI::Range(size_t{1}, size_t{100000000}))
      ->capture_default_str();
  app.add_option("--value_size", f.value_size, "Object size the master allocates (bytes)")
      ->capture_default_str();
  app.add_option("--metrics", f.metrics,
                 "host:port of the master's HTTP server: report its RSS per preloaded object");
  app.add_option("--rpc_timeout_ms", f.rpc_timeout_ms, "Deadline per RPC")->capture_default_str();
  if (std::optional<int> exit_code = common.Parse(argc, argv)) return *exit_code;
  f.auth_secret = common.auth_secret();

  const std::string id = "bench-" + RunId();
  if (f.op == "admin") {
    return RunAdminLoad({.master = f.master,
                         .keys = f.keys,
                         .duration_s = f.duration,
                         .rpc_timeout_ms = f.rpc_timeout_ms,
                         .run_id = id});
  }
  const std::string prefix = id + "-";
  auto client = Connect(f, id);
  if (auto ping = client->Ping(); !ping.ok()) {
    std::fprintf(stderr, "master_bench: %s\n", ping.status().ToString().c_str());
    return 1;
  }
  const SegmentSpec segment{id + "-seg",      id, 1, Medium::kDram, uint64_t{1} << 44,
                            uint64_t{1} << 42};
  if (auto mounted = client->MountSegment(segment); !mounted.ok()) {
    std::fprintf(stderr, "master_bench: mount: %s\n", mounted.status().ToString().c_str());
    return 1;
  }

  if (f.op != "put") {
    const double rss_before = MasterRss(f.metrics);
    const auto start = Clock::now();
    const size_t landed = Preload(*client, prefix, f.keys, f.value_size);
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("preload: %zu/%zu keys in %.2f s (%.0f keys/s, batches of 1024)\n", landed, f.keys,
                secs, landed / secs);
    const double rss_after = MasterRss(f.metrics);
    if (rss_before > 0 && rss_after > 0 && landed > 0) {
      std::printf("master RSS: %.1f MiB -> %.1f MiB, %.0f bytes per object\n",
                  rss_before / (1 << 20), rss_after / (1 << 20),
                  (rss_after - rss_before) / static_cast<double>(landed));
    }
    if (landed != f.keys) {
      std::fprintf(stderr, "master_bench: preload put only %zu of %zu keys\n", landed, f.keys);
      client->UnmountSegment(segment.name, segment.node_id, segment.epoch).IgnoreError();
      return 1;
    }
  }

  auto pingpong = RunTcpPingPong();
  if (!pingpong.ok()) {
    std::fprintf(stderr, "master_bench: %s\n", pingpong.status().ToString().c_str());
    return 1;
  }

  std::atomic<bool> stop{false};
  std::vector<ThreadResult> results(f.threads);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < f.threads; ++t) {
    threads.emplace_back([&, t] { results[t] = Worker(f, prefix, t, id, stop); });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(f.duration));
  stop = true;
  for (std::thread& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();

  uint64_t ok_keys = 0;
  uint64_t failed_keys = 0;
  std::vector<double> latency;
  for (const ThreadResult& r : results) {
    ok_keys += r.ok_keys;
    failed_keys += r.failed_keys;
    latency.insert(latency.end(), r.latency_us.begin(), r.latency_us.end());
    if (!r.first_error.empty()) std::fprintf(stderr, "first error: %s\n", r.first_error.c_str());
  }
  const double p50 = Quantile(latency, 0.50);
  const double p99 = Quantile(latency, 0.99);

  const auto removed = client->RemoveByRegex("^" + prefix, RemoveMode::kForce);
  const Status unmounted = client->UnmountSegment(segment.name, segment.node_id, segment.epoch);
  if (!removed.ok() || !unmounted.ok()) {
    std::fprintf(stderr, "master_bench: cleanup failed: %s / %s\n",
                 removed.status().ToString().c_str(), unmounted.ToString().c_str());
  }

  std::printf("%s: %llu keys ok, %llu failed in %.2f s over %zu RPCs\n", f.op.c_str(),
              static_cast<unsigned long long>(ok_keys),
              static_cast<unsigned long long>(failed_keys), secs, latency.size());
  std::printf("anchor: 64-byte TCP ping-pong over loopback p50 %.1f us, p99 %.1f us\n",
              pingpong->p50_us, pingpong->p99_us);
  std::printf(
      "RESULT op=%s batch_size=%zu threads=%d keys_per_s=%.0f p50_us=%.1f p99_us=%.1f "
      "pingpong_p50_us=%.1f p50_over_pingpong=%.2f\n",
      f.op.c_str(), f.batch_size, f.threads, ok_keys / secs, p50, p99, pingpong->p50_us,
      p50 / pingpong->p50_us);
  return ok_keys > 0 ? 0 : 1;
}

}  // namespace
}  // namespace mooncake::bench

int main(int argc, char** argv) { return mooncake::bench::Run(argc, argv); }
