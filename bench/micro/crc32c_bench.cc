// Crc32c throughput on one thread, buffer already in cache after the first iteration.
//
// Workload: one page-aligned buffer of random bytes of 4 KiB, 64 KiB or 1 MiB, checksummed again
// and again with Crc32c (the dispatching entry point, i.e. the SSE4.2 path on x86 CPUs that have
// it). Anchor, measured in the same run: memcpy of the same number of bytes to a second
// page-aligned buffer — the speed at which a copy-then-checksum pipeline is bounded by the copy, so
// ratio crc/memcpy near or above 1 means checksumming does not slow a transfer down. For reference
// the portable slicing-by-8 path runs at each size too, and so does what a put computes (the
// whole CRC32C plus one per 64 KiB block).
//
// After the Google Benchmark table it prints GB/s (1e9 bytes/s) per size, the ratio, and a
// final RESULT line. Usual Google Benchmark flags apply (--benchmark_filter, ...); a size
// whose crc or memcpy benchmark did not run is left out of the summary.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/crc32c_internal.h"
#include "mooncake/common/crc32c.h"
#include "store_types/block_checksums.h"

namespace mooncake::bench {
namespace {

constexpr int64_t kSizes[] = {4 << 10, 64 << 10, 1 << 20};

// Page-aligned, as registered transfer buffers are. The alignment matters for the anchor: with
// two plain heap vectors the destination sits a few bytes past the source modulo 4 KiB, and
// glibc's memcpy (rep movsb) then runs 20-40x slower on some CPUs (AMD Zen: 4K aliasing between
// its loads and stores), which would make any checksum look fast.
class PageAlignedBuffer {
 public:
  explicit PageAlignedBuffer(size_t n)
      : size_(n), data_(static_cast<uint8_t*>(std::aligned_alloc(kPage, RoundUp(n)))) {
    std::mt19937_64 rng(42);
    for (size_t i = 0; i < n; ++i) data_.get()[i] = static_cast<uint8_t>(rng());
  }
  uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kPage = 4096;
  static size_t RoundUp(size_t n) { return (n + kPage - 1) / kPage * kPage; }
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };

  size_t size_;
  std::unique_ptr<uint8_t, Free> data_;
};

void BM_Crc32c(benchmark::State& state) {
  const PageAlignedBuffer src(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(Crc32c(src.data(), src.size()));
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.SetLabel(Crc32cIsHardwareAccelerated() ? "sse4.2" : "software");
}

// What a put computes since ranged reads are verified: the whole CRC32C and one per 64 KiB
// block (store_types/block_checksums.h), combined. Next to BM_Crc32c it is the put's extra cost.
void BM_ObjectChecksums(benchmark::State& state) {
  const PageAlignedBuffer src(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(ComputeObjectChecksums(src.data(), src.size()));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_Crc32cSoftware(benchmark::State& state) {
  const PageAlignedBuffer src(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(crc32c_internal::ExtendSoftware(0, src.data(), src.size()));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_AnchorMemcpy(benchmark::State& state) {
  const PageAlignedBuffer src(static_cast<size_t>(state.range(0)));
  const PageAlignedBuffer dst(src.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int64_t size : kSizes) b->Arg(size);
}
BENCHMARK(BM_Crc32c)->Apply(Sizes);
BENCHMARK(BM_ObjectChecksums)->Apply(Sizes);
BENCHMARK(BM_Crc32cSoftware)->Apply(Sizes);
BENCHMARK(BM_AnchorMemcpy)->Apply(Sizes);

// The console table as usual, plus bytes/s per (benchmark, size) kept for the summary.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  // Colour codes only on a terminal, so that logs stay readable.
  RecordingReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      // With --benchmark_repetitions the median, which is reported after the repetitions,
      // overwrites them.
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") continue;
      auto it = run.counters.find("bytes_per_second");
      if (it == run.counters.end()) continue;
      gbps_[run.run_name.function_name][run.run_name.args] = it->second.value / 1e9;
    }
  }

  // 0 when that benchmark did not run at that size.
  double GBps(const std::string& function, int64_t size) const {
    auto f = gbps_.find(function);
    if (f == gbps_.end()) return 0;
    auto s = f->second.find(std::to_string(size));
    return s == f->second.end() ? 0 : s->second;
  }

 private:
  std::map<std::string, std::map<std::string, double>> gbps_;
};

std::string SizeName(int64_t size) {
  return size >= (1 << 20) ? std::to_string(size >> 20) + "MiB"
                           : std::to_string(size >> 10) + "KiB";
}

int Main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  std::printf("\nCrc32c path: %s\n", Crc32cIsHardwareAccelerated() ? "sse4.2" : "software");
  std::string result = "RESULT path=";
  result += Crc32cIsHardwareAccelerated() ? "sse4.2" : "software";
  for (int64_t size : kSizes) {
    const double crc = reporter.GBps("BM_Crc32c", size);
    const double sw = reporter.GBps("BM_Crc32cSoftware", size);
    const double copy = reporter.GBps("BM_AnchorMemcpy", size);
    if (crc == 0 || copy == 0) continue;
    const std::string name = SizeName(size);
    std::printf(
        "%6s: crc32c %6.2f GB/s  memcpy %6.2f GB/s  ratio crc/memcpy %.2f  (software "
        "%.2f GB/s)\n",
        name.c_str(), crc, copy, crc / copy, sw);
    char fields[160];
    std::snprintf(fields, sizeof(fields), " crc_GBps_%s=%.2f memcpy_GBps_%s=%.2f ratio_%s=%.2f",
                  name.c_str(), crc, name.c_str(), copy, name.c_str(), crc / copy);
    result += fields;
  }
  std::printf("%s\n", result.c_str());
  return 0;
}

}  // namespace
}  // namespace mooncake::bench

int main(int argc, char** argv) { return mooncake::bench::Main(argc, argv); }
