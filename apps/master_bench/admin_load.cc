#include "admin_load.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "apps/latency_anchors/tcp_request_response.h"
#include "master/client/master_client.h"

namespace mooncake::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<master::MasterClient> Connect(const AdminLoadOptions& o, const std::string& id) {
  master::MasterClientOptions options;
  options.master_address = o.master;
  options.rpc_timeout = std::chrono::milliseconds(o.rpc_timeout_ms);
  options.client_id = id;
  auto client = master::MasterClient::Create(options);
  if (!client.ok()) return nullptr;
  return std::move(*client);
}

// Key i of the run: every tenth is a long run of 'a' then 'b' (and the run id, so runs never
// collide), the rest plain.
std::string KeyOf(const std::string& prefix, size_t i) {
  if (i % 10 == 0) return std::string(64 + (i * 7) % 1900, 'a') + "b" + prefix + std::to_string(i);
  return fmt::format("{}k{:09}", prefix, i);
}

bool Preload(master::MasterClient& client, const std::string& prefix, size_t n) {
  constexpr size_t kBatch = 1024;
  for (size_t base = 0; base < n; base += kBatch) {
    std::vector<master::PutStartItem> starts;
    for (size_t i = base; i < std::min(n, base + kBatch); ++i)
      starts.push_back({KeyOf(prefix, i), 4096});
    auto started = client.BatchPutStart(starts, ReplicateConfig{});
    if (!started.ok()) {
      std::fprintf(stderr, "master_bench: preload: %s\n", started.status().ToString().c_str());
      return false;
    }
    std::vector<master::PutEndItem> ends;
    for (size_t i = 0; i < starts.size(); ++i) {
      if (!(*started)[i].ok()) {
        std::fprintf(stderr, "master_bench: preload: %s\n",
                     (*started)[i].status().ToString().c_str());
        return false;
      }
      ends.push_back({starts[i].key, 0});
    }
    if (auto ended = client.BatchPutEnd(ends); !ended.ok()) return false;
  }
  return true;
}

struct Probe {
  std::vector<double> latency_us;
  size_t failed = 0;
};

// Single-key ExistKey / GetReplicaList on plain keys until `duration` has passed.
Probe RunProbe(master::MasterClient& client, const std::string& prefix, size_t keys,
               double duration) {
  Probe probe;
  std::mt19937_64 rng(42);
  const auto end = Clock::now() + std::chrono::duration<double>(duration);
  for (uint64_t n = 0; Clock::now() < end; ++n) {
    size_t i = rng() % keys;
    if (i % 10 == 0) i = (i + 1) % keys;
    const std::string key = KeyOf(prefix, i);
    const auto start = Clock::now();
    const bool ok = n % 2 == 0 ? client.ExistKey(key).ok() : client.GetReplicaList(key).ok();
    probe.latency_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!ok) ++probe.failed;
  }
  return probe;
}

}  // namespace

int RunAdminLoad(const AdminLoadOptions& o) {
  const std::string prefix = o.run_id + "-";
  auto client = Connect(o, o.run_id);
  auto admin = Connect(o, o.run_id + "-admin");
  auto beater = Connect(o, o.run_id + "-beat");
  if (!client || !admin || !beater || !client->Ping().ok()) {
    std::fprintf(stderr, "master_bench: cannot reach the master at %s\n", o.master.c_str());
    return 1;
  }
  const SegmentSpec segment{o.run_id + "-seg", o.run_id,          1,
                            Medium::kDram,     uint64_t{1} << 44, uint64_t{1} << 42};
  if (auto mounted = client->MountSegment(segment); !mounted.ok()) {
    std::fprintf(stderr, "master_bench: mount: %s\n", mounted.status().ToString().c_str());
    return 1;
  }
  const auto cleanup = [&] {
    client->RemoveByRegex(prefix, RemoveMode::kForce).status().IgnoreError();
    client->UnmountSegment(segment.name, segment.node_id, segment.epoch).IgnoreError();
  };
  // The synthetic segment's node must keep beating, or the master declares it dead after
  // --client_ttl and drops every object (the run outlasts the default 10 s).
  std::atomic<bool> done{false};
  std::thread heartbeat([&] {
    while (!done.load()) {
      beater->Heartbeat(segment.node_id, segment.epoch).IgnoreError();
      for (int i = 0; i < 10 && !done.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  struct Joiner {
    std::atomic<bool>& done;
    std::thread& thread;
    ~Joiner() {
      done = true;
      thread.join();
    }
  } joiner{done, heartbeat};
  if (!Preload(*client, prefix, o.keys)) {
    cleanup();
    return 1;
  }

  Probe idle = RunProbe(*client, prefix, o.keys, o.duration_s);

  std::atomic<bool> stop{false};
  std::vector<double> admin_ms;
  size_t admin_failed = 0;
  std::string admin_error;
  std::thread admin_thread([&] {
    for (uint64_t n = 0; !stop.load(); ++n) {
      const auto start = Clock::now();
      Status s = n % 2 == 0 ? admin->RemoveByRegex(o.pattern, RemoveMode::kNormal).status()
                            : admin->ListKeys("", 0).status();
      admin_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (!s.ok()) {
        ++admin_failed;
        if (admin_error.empty()) admin_error = s.ToString();
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the admin loop is running
  Probe loaded = RunProbe(*client, prefix, o.keys, o.duration_s);
  stop = true;
  admin_thread.join();
  cleanup();

  const double idle_p50 = Quantile(idle.latency_us, 0.5);
  const double idle_p99 = Quantile(idle.latency_us, 0.99);
  const double loaded_p50 = Quantile(loaded.latency_us, 0.5);
  const double loaded_p99 = Quantile(loaded.latency_us, 0.99);
  const double loaded_max = Quantile(loaded.latency_us, 1.0);
  const double admin_p50 = Quantile(admin_ms, 0.5);
  std::printf(
      "workload: %zu keys (a tenth 'a'-runs ending in 'b'); admin loop: RemoveByRegex('%s') "
      "and ListKeys('', 16384) alternating\n",
      o.keys, o.pattern.c_str());
  std::printf("small RPCs idle:        %zu calls, p50 %.1f us, p99 %.1f us, %zu failed\n",
              idle.latency_us.size(), idle_p50, idle_p99, idle.failed);
  std::printf(
      "small RPCs admin load:  %zu calls, p50 %.1f us, p99 %.1f us, max %.1f us, %zu failed\n",
      loaded.latency_us.size(), loaded_p50, loaded_p99, loaded_max, loaded.failed);
  std::printf("admin calls: %zu in %.1f s, p50 %.1f ms, %zu failed%s%s\n", admin_ms.size(),
              o.duration_s, admin_p50, admin_failed, admin_error.empty() ? "" : ": ",
              admin_error.c_str());
  std::printf(
      "RESULT op=admin keys=%zu idle_p50_us=%.1f idle_p99_us=%.1f loaded_p50_us=%.1f "
      "loaded_p99_us=%.1f p99_loaded_over_idle=%.2f admin_calls=%zu admin_p50_ms=%.1f "
      "failed=%zu\n",
      o.keys, idle_p50, idle_p99, loaded_p50, loaded_p99, loaded_p99 / idle_p99, admin_ms.size(),
      admin_p50, idle.failed + loaded.failed + admin_failed);
  return idle.failed + loaded.failed + admin_failed == 0 ? 0 : 1;
}

}  // namespace mooncake::bench
