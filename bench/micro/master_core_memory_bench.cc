// Memory per object of the master core, plus the cost of the operations that must not scan the
// whole index.
//
// Workload: a MasterCore with 4 DRAM segments of 8 GiB on 4 nodes; N objects (default 1M) of
// 4 KiB, one replica each, keys of 40 bytes ("bench-<20-digit run>-key-<9-digit index>"), each
// put with PutStart + PutEnd. Figure: resident set growth (/proc/self/statm, after
// malloc_trim) divided by N. Anchor, measured in the same run (in a forked child, so neither
// heap sees the other's garbage): a bare std::unordered_map<std::string, {uint32 segment,
// uint64 address, uint64 length}> holding the same keys — the least a node-based std index
// of key -> one allocation costs, with none of the core's bookkeeping (versions, leases,
// pins, allocator, per-segment index).
//
// Timings at N objects (one run each, informative only; benchmarks never gate CI):
//   tick_us            a Tick() with nothing expired (must not scan the objects);
//   unmount_empty_us   unmounting a 5th segment that holds no replica (must not scan);
//   unmount_quarter_ms unmounting one of the 4 segments, dropping ~N/4 objects.
//
// Usage: master_core_memory_bench [objects]

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "master/core/master_core.h"
#include "mooncake/common/clock.h"

namespace mooncake::bench {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kObjectSize = 4096;
constexpr int kSegments = 4;

uint64_t RssBytes() {
  malloc_trim(0);
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// 40 bytes: "bench-" + 20 digits + "-key-" + 9 digits.
std::string Key(uint64_t run, uint64_t i) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "bench-%020" PRIu64 "-key-%09" PRIu64, run, i);
  return buf;
}

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct CoreFigures {
  double bytes_per_object = 0;
  double put_ns = 0;
  double tick_us = 0;
  double unmount_empty_us = 0;
  double unmount_quarter_ms = 0;
  size_t objects_left = 0;
};

bool MeasureCore(uint64_t objects, uint64_t run, CoreFigures& out) {
  master::MasterCoreOptions options;
  options.put_timeout = std::chrono::hours(1);  // the fill must not race the reclaim
  options.client_ttl = std::chrono::hours(1);
  auto created = master::MasterCore::Create(options, SystemClock::Instance());
  if (!created.ok()) return false;
  std::unique_ptr<master::MasterCore> core = std::move(created).value();
  for (int s = 0; s < kSegments; ++s) {
    const std::string node = "node-" + std::to_string(s);
    const SegmentSpec spec{"seg-" + std::to_string(s),
                           node,
                           1,
                           Medium::kDram,
                           0x10000000000ull * static_cast<uint64_t>(s + 1),
                           8 * kGiB};
    if (!core->Mount(spec).ok()) return false;
  }
  const uint64_t before = RssBytes();
  const auto fill = std::chrono::steady_clock::now();
  ReplicateConfig config;  // one DRAM replica
  for (uint64_t i = 0; i < objects; ++i) {
    const std::string key = Key(run, i);
    if (!core->PutStart(key, kObjectSize, config).ok() || !core->PutEnd(key, 0).ok()) {
      std::fprintf(stderr, "put %" PRIu64 " failed\n", i);
      return false;
    }
  }
  out.put_ns = Since(fill) * 1e9 / static_cast<double>(objects);
  const uint64_t after = RssBytes();
  out.bytes_per_object =
      (static_cast<double>(after) - static_cast<double>(before)) / static_cast<double>(objects);

  auto t = std::chrono::steady_clock::now();
  core->Tick();
  out.tick_us = Since(t) * 1e6;

  if (!core->Mount(SegmentSpec{"seg-empty", "node-empty", 1, Medium::kDram, 0x90000000000ull, kGiB})
           .ok()) {
    return false;
  }
  t = std::chrono::steady_clock::now();
  if (!core->Unmount("seg-empty", "node-empty", 1).ok()) return false;
  out.unmount_empty_us = Since(t) * 1e6;

  t = std::chrono::steady_clock::now();
  if (!core->Unmount("seg-0", "node-0", 1).ok()) return false;
  out.unmount_quarter_ms = Since(t) * 1e3;
  out.objects_left = core->ObjectCount();
  return true;
}

struct AnchorValue {
  uint32_t segment;
  uint64_t address;
  uint64_t length;
};

double MeasureAnchor(uint64_t objects, uint64_t run) {
  const uint64_t before = RssBytes();
  std::unordered_map<std::string, AnchorValue> index;
  for (uint64_t i = 0; i < objects; ++i) {
    index.emplace(Key(run, i),
                  AnchorValue{static_cast<uint32_t>(i % kSegments), i * kObjectSize, kObjectSize});
  }
  const uint64_t after = RssBytes();
  return (static_cast<double>(after) - static_cast<double>(before)) / static_cast<double>(objects);
}

// Runs `fn` in a child process (a clean heap) and returns the doubles it writes to a pipe.
template <typename Fn>
bool InChild(Fn fn, void* out, size_t out_size) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(fds[0]);
    const bool ok = fn(out);
    const ssize_t written = ok ? write(fds[1], out, out_size) : -1;
    _exit(written == static_cast<ssize_t>(out_size) ? 0 : 1);
  }
  close(fds[1]);
  size_t got = 0;
  while (got < out_size) {
    const ssize_t n = read(fds[0], static_cast<char*>(out) + got, out_size - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return got == out_size && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int Main(int argc, char** argv) {
  const uint64_t objects = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  if (objects == 0) {
    std::fprintf(stderr, "usage: %s [objects > 0]\n", argv[0]);
    return 2;
  }
  const uint64_t run =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());

  CoreFigures core;
  if (!InChild(
          [&](void* out) { return MeasureCore(objects, run, *static_cast<CoreFigures*>(out)); },
          &core, sizeof(core))) {
    std::fprintf(stderr, "core measurement failed\n");
    return 1;
  }
  double anchor = 0;
  if (!InChild(
          [&](void* out) {
            *static_cast<double*>(out) = MeasureAnchor(objects, run);
            return true;
          },
          &anchor, sizeof(anchor))) {
    std::fprintf(stderr, "anchor measurement failed\n");
    return 1;
  }

  std::printf("workload: %" PRIu64
              " objects x 4 KiB, 1 replica, 40-byte keys, %d DRAM segments of 8 GiB\n",
              objects, kSegments);
  std::printf("master core:  %.1f B RSS per object, %.0f ns per PutStart+PutEnd\n",
              core.bytes_per_object, core.put_ns);
  std::printf("anchor (std::unordered_map<std::string, 24 B value>): %.1f B RSS per object\n",
              anchor);
  std::printf("ratio core/anchor: %.2f\n", core.bytes_per_object / anchor);
  std::printf(
      "Tick with nothing to do: %.1f us; unmount of an empty segment: %.1f us; "
      "unmount of 1 of 4 segments: %.1f ms (%zu objects left)\n",
      core.tick_us, core.unmount_empty_us, core.unmount_quarter_ms, core.objects_left);
  std::printf("RESULT objects=%" PRIu64
              " rss_bytes_per_object=%.1f anchor_rss_bytes_per_object=%.1f ratio=%.2f "
              "put_ns=%.0f tick_us=%.1f unmount_empty_us=%.1f unmount_quarter_ms=%.1f\n",
              objects, core.bytes_per_object, anchor, core.bytes_per_object / anchor, core.put_ns,
              core.tick_us, core.unmount_empty_us, core.unmount_quarter_ms);
  return 0;
}

}  // namespace
}  // namespace mooncake::bench

int main(int argc, char** argv) { return mooncake::bench::Main(argc, argv); }
