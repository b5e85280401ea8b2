// OffsetAllocator under steady churn: each iteration frees a random live allocation and
// allocates a new one, sizes uniform in [4 KiB, 4 MiB], the segment ~90% full. Anchor: the
// same number of erase + insert pairs on a std::set<uint64_t> of the same size, i.e. the
// cost of one balanced-tree update, which the allocator needs several of per operation.
//
// Counters, read after the run: heap_B_per_alloc is the glibc heap (mallinfo2, mmapped chunks
// included) the allocator holds, divided by its live allocations, free-block bookkeeping
// included; free_blocks, fragmentation, used_ratio; failed_allocs counts Allocate calls that
// found no room (the live set shrinks by one each time).

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "common/offset_allocator.h"

namespace mooncake::bench {
namespace {

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kMinSize = 4 * kKiB;
constexpr uint64_t kMaxSize = 4 * kMiB;

// xorshift64*: cheap enough not to show in the figures.
struct Rng {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  uint64_t Next() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
  }
  uint64_t Size() { return kMinSize + Next() % (kMaxSize - kMinSize + 1); }
};

size_t HeapBytes() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

struct Workload {
  OffsetAllocator allocator;
  std::vector<uint64_t> live;
  Rng rng;
  size_t heap_baseline = 0;  // heap in use before the allocator held anything
};

// Filling a million allocations takes a while; Google Benchmark calls a benchmark several
// times, so each size is built once and reused.
Workload& GetWorkload(size_t live_count) {
  static std::map<size_t, std::unique_ptr<Workload>> cache;
  auto& slot = cache[live_count];
  if (!slot) {
    // Mean size ~2 MiB: 2.2 MiB of capacity per allocation leaves the segment ~91% full.
    const uint64_t capacity = live_count * (kMiB * 22 / 10);
    slot.reset(new Workload{OffsetAllocator::Create(capacity).value(), {}, {}, 0});
    slot->live.reserve(live_count);
    slot->heap_baseline = HeapBytes();
    while (slot->live.size() < live_count) {
      auto offset = slot->allocator.Allocate(slot->rng.Size());
      if (!offset.ok()) break;
      slot->live.push_back(*offset);
    }
  }
  return *slot;
}

void BM_AllocateFreePair(benchmark::State& state) {
  Workload& w = GetWorkload(static_cast<size_t>(state.range(0)));
  int64_t failures = 0;
  for (auto _ : state) {
    const size_t victim = w.rng.Next() % w.live.size();
    if (!w.allocator.Free(w.live[victim]).ok()) state.SkipWithError("Free failed");
    auto offset = w.allocator.Allocate(w.rng.Size());
    if (offset.ok()) {
      w.live[victim] = *offset;
    } else {
      // Keep the live set dense; the next iteration frees another block.
      w.live[victim] = w.live.back();
      w.live.pop_back();
      ++failures;
    }
  }
  const OffsetAllocator::Stats s = w.allocator.stats();
  state.counters["live"] = static_cast<double>(s.allocations);
  state.counters["heap_B_per_alloc"] =
      static_cast<double>(HeapBytes() - w.heap_baseline) / static_cast<double>(s.allocations);
  state.counters["free_blocks"] = static_cast<double>(s.free_blocks);
  state.counters["used_ratio"] = static_cast<double>(s.used) / static_cast<double>(s.capacity);
  state.counters["fragmentation"] = s.fragmentation;
  state.counters["failed_allocs"] = static_cast<double>(failures);
}
BENCHMARK(BM_AllocateFreePair)->Arg(1000)->Arg(1000000);

void BM_AnchorStdSetEraseInsert(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Rng rng;
  std::set<uint64_t> set;
  std::vector<uint64_t> keys;
  while (set.size() < n) {
    uint64_t key = rng.Next();
    if (set.insert(key).second) keys.push_back(key);
  }
  for (auto _ : state) {
    const size_t victim = rng.Next() % keys.size();
    set.erase(keys[victim]);
    keys[victim] = rng.Next();
    set.insert(keys[victim]);
  }
}
BENCHMARK(BM_AnchorStdSetEraseInsert)->Arg(1000)->Arg(1000000);

}  // namespace
}  // namespace mooncake::bench
