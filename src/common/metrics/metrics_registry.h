#pragma once

// A component's Prometheus metrics: owned by that component (the master, a storage node), not a
// process-wide singleton, so tests and several components in one process stay apart.
//
// Registration (Add*) takes a lock and is meant for start-up; updates through the returned
// references take none. Rendering locks only to copy the families, never while a gauge callback
// runs, so callbacks may take the component's own locks.
//
// Errors: metric names, label keys, histogram bounds and the metric kind of a name are code
// constants, so a bad one is a programmer error and Add* abort with a message saying which.
// Label values are data (segment names, RPC names) and are never rejected, only escaped.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics/metric_types.h"

namespace mooncake {

// Receives the samples a gauge callback computes at scrape time.
class GaugeEmitter {
 public:
  GaugeEmitter(const GaugeEmitter&) = delete;
  GaugeEmitter& operator=(const GaugeEmitter&) = delete;

  // Adds one sample. Label keys must be valid and distinct: a sample breaking that is dropped
  // and logged (the scrape is not the place to crash). Emitting the same labels twice in one
  // scrape keeps the last value.
  void Emit(Labels labels, double value);

 private:
  friend class MetricsRegistry;
  explicit GaugeEmitter(std::string_view family) : family_(family) {}

  std::string_view family_;
  // Rendered labels -> value; sorted so the output does not depend on emission order.
  std::map<std::string, double> samples_;
};

using GaugeCallback = std::function<void(GaugeEmitter&)>;

// Thread-safe: every method may be called from any thread.
class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Returns the counter for (name, labels), creating it on first use; the same (name, labels),
  // with labels in any order, returns the same object. The registry owns it; the reference
  // stays valid for the registry's lifetime. `help` is taken from the first registration.
  // Aborts if `name` or a label key is invalid, a key repeats, or `name` is another kind.
  Counter& AddCounter(std::string_view name, std::string_view help, Labels labels = {});
  // As AddCounter, for a gauge.
  Gauge& AddGauge(std::string_view name, std::string_view help, Labels labels = {});
  // As AddCounter, for a histogram with `bounds` (finite, strictly increasing; see
  // DefaultLatencyBuckets). Also aborts if "le" is a label key or the family was registered
  // with other bounds.
  Histogram& AddHistogram(std::string_view name, std::string_view help, Labels labels,
                          std::vector<double> bounds);

  // Registers a gauge family whose samples `callback` computes on every RenderPrometheus, on
  // the rendering thread. Aborts if `name` is invalid or already registered.
  void AddGaugeCallback(std::string_view name, std::string_view help, GaugeCallback callback);
  // Unregisters a callback family, e.g. before the object it captures dies: once this returns
  // the callback is not running and will not run again (it waits for a render calling it, so
  // never call it from the callback or while holding a lock the callback takes). No-op for an
  // unknown name.
  void RemoveGaugeCallback(std::string_view name);

  // Text exposition format 0.0.4: families sorted by name, series sorted by labels, one
  // # HELP / # TYPE per family; histograms as cumulative _bucket (ending in +Inf), _sum,
  // _count.
  std::string RenderPrometheus() const;

 private:
  enum class Kind : int;
  struct Family;
  // Returns the family `name`, creating it as `kind`; aborts on an invalid name or a kind clash.
  Family& FamilyLocked(std::string_view name, std::string_view help, Kind kind);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
};

}  // namespace mooncake
