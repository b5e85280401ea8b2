#pragma once

// The three Prometheus metric kinds a component updates on its hot paths. Each update is a
// relaxed atomic operation: no locks, no allocation. Objects normally live in a
// MetricsRegistry, which hands out stable references to them.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mooncake {

// (key, value) pairs. Keys are code constants matching [a-zA-Z_][a-zA-Z0-9_]*; values are any
// text (segment names, RPC names) and are escaped when rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Monotonic count. Thread-safe.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down. Thread-safe.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Sub(double delta) { value_.fetch_sub(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Bucket bounds in seconds for latencies: 5 µs to 1 s in 1-2.5-5 steps (17 bounds), fine enough
// to tell a local DRAM hit (~10 µs) from an RDMA read (~100 µs) from a disk read (~ms).
const std::vector<double>& DefaultLatencyBuckets();

// A consistent-enough copy of a histogram: `buckets[i]` counts observations in
// (bounds[i-1], bounds[i]]; the last entry is the +Inf bucket (not cumulative).
struct HistogramSnapshot {
  std::vector<uint64_t> buckets;
  double sum = 0;
  // Sum of `buckets`, so that it always equals the +Inf cumulative bucket when rendered.
  uint64_t count = 0;
};

// Distribution of observed values over fixed bucket bounds. Thread-safe.
class Histogram {
 public:
  // `bounds` must be finite and strictly increasing (checked by MetricsRegistry); the +Inf
  // bucket is implicit.
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Binary search over the bounds plus two relaxed atomic adds. NaN lands in +Inf (as in the Go
  // client) and poisons the sum, which is what a NaN observation deserves.
  void Observe(double value);
  // Observes `d` in seconds.
  void ObserveDuration(std::chrono::nanoseconds d) {
    Observe(std::chrono::duration<double>(d).count());
  }

  const std::vector<double>& bounds() const { return bounds_; }
  HistogramSnapshot Snapshot() const;

 private:
  const std::vector<double> bounds_;
  // bounds_.size() + 1 entries; the last is +Inf. The observation count is derived from these
  // rather than kept apart, saving an atomic add per Observe and keeping _count == +Inf.
  const std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

}  // namespace mooncake
