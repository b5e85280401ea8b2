#include "common/metrics/metrics_registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/logging.h"
#include "common/metrics/prometheus_text.h"

namespace mooncake {

enum class MetricsRegistry::Kind : int { kCounter, kGauge, kHistogram, kGaugeCallback };

namespace {

// Only for mistakes in the calling code (see the header): never reached from data.
[[noreturn]] void DieOnProgrammerError(const std::string& what) {
  std::fprintf(stderr, "MetricsRegistry: programmer error: %s\n", what.c_str());
  std::abort();
}

// Sorts `labels` by key, so that the same set in any order names the same series, and checks
// the keys. Returns "" or what is wrong.
std::string CanonicalizeLabels(Labels* labels, bool reserve_le) {
  std::stable_sort(labels->begin(), labels->end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < labels->size(); ++i) {
    const std::string& key = (*labels)[i].first;
    if (!IsValidLabelName(key)) return "invalid label name '" + key + "'";
    if (reserve_le && key == "le") return "label name 'le' is reserved for histogram buckets";
    if (i > 0 && (*labels)[i - 1].first == key) return "label '" + key + "' repeats";
  }
  return "";
}

// `{a="x"}` -> `{a="x",le="0.5"}`; "" -> `{le="0.5"}`.
std::string WithLe(const std::string& rendered_labels, const std::string& le) {
  if (rendered_labels.empty()) return "{le=\"" + le + "\"}";
  return rendered_labels.substr(0, rendered_labels.size() - 1) + ",le=\"" + le + "\"}";
}

void AppendHeader(std::string* out, std::string_view name, std::string_view help,
                  std::string_view type) {
  if (!help.empty()) {
    *out += "# HELP ";
    *out += name;
    *out += ' ';
    *out += EscapeHelp(help);
    *out += '\n';
  }
  *out += "# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

void AppendSample(std::string* out, std::string_view name, std::string_view suffix,
                  const std::string& labels, const std::string& value) {
  *out += name;
  *out += suffix;
  *out += labels;
  *out += ' ';
  *out += value;
  *out += '\n';
}

// A gauge callback and the lock that lets RemoveGaugeCallback wait out a running call.
struct CallbackSlot {
  std::mutex mu;
  bool removed = false;  // Guarded by mu.
  GaugeCallback fn;
};

}  // namespace

struct MetricsRegistry::Family {
  Kind kind;
  std::string help;
  // Series keyed by their rendered labels (keys sorted), which is also the output order. Only
  // the map of `kind` is used.
  std::map<std::string, std::unique_ptr<Counter>> counters;
  std::map<std::string, std::unique_ptr<Gauge>> gauges;
  std::map<std::string, std::unique_ptr<Histogram>> histograms;
  std::vector<double> bounds;  // Histograms: shared by every series of the family.
  std::shared_ptr<CallbackSlot> callback;
};

void GaugeEmitter::Emit(Labels labels, double value) {
  std::string error = CanonicalizeLabels(&labels, /*reserve_le=*/false);
  if (!error.empty()) {
    MC_LOG_ERROR("metric {}: dropped a sample: {}", family_, error);
    return;
  }
  samples_[RenderLabels(labels)] = value;
}

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::FamilyLocked(std::string_view name, std::string_view help,
                                                       Kind kind) {
  static constexpr const char* kKindNames[] = {"counter", "gauge", "histogram", "gauge callback"};
  if (!IsValidMetricName(name)) {
    DieOnProgrammerError("invalid metric name '" + std::string(name) + "'");
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto family = std::make_unique<Family>();
    family->kind = kind;
    family->help = std::string(help);
    it = families_.emplace(std::string(name), std::move(family)).first;
  } else if (it->second->kind != kind) {
    DieOnProgrammerError("metric '" + std::string(name) + "' registered as " +
                         kKindNames[static_cast<int>(it->second->kind)] + ", now as " +
                         kKindNames[static_cast<int>(kind)]);
  }
  return *it->second;
}

Counter& MetricsRegistry::AddCounter(std::string_view name, std::string_view help, Labels labels) {
  std::string error = CanonicalizeLabels(&labels, /*reserve_le=*/false);
  if (!error.empty()) DieOnProgrammerError("metric '" + std::string(name) + "': " + error);
  std::lock_guard<std::mutex> lock(mu_);
  auto& series = FamilyLocked(name, help, Kind::kCounter).counters[RenderLabels(labels)];
  if (!series) series = std::make_unique<Counter>();
  return *series;
}

Gauge& MetricsRegistry::AddGauge(std::string_view name, std::string_view help, Labels labels) {
  std::string error = CanonicalizeLabels(&labels, /*reserve_le=*/false);
  if (!error.empty()) DieOnProgrammerError("metric '" + std::string(name) + "': " + error);
  std::lock_guard<std::mutex> lock(mu_);
  auto& series = FamilyLocked(name, help, Kind::kGauge).gauges[RenderLabels(labels)];
  if (!series) series = std::make_unique<Gauge>();
  return *series;
}

Histogram& MetricsRegistry::AddHistogram(std::string_view name, std::string_view help,
                                         Labels labels, std::vector<double> bounds) {
  std::string error = CanonicalizeLabels(&labels, /*reserve_le=*/true);
  for (size_t i = 0; i < bounds.size() && error.empty(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      error = "bucket bounds must be finite and strictly increasing";
    }
  }
  if (!error.empty()) DieOnProgrammerError("metric '" + std::string(name) + "': " + error);
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = FamilyLocked(name, help, Kind::kHistogram);
  if (family.histograms.empty()) {
    family.bounds = bounds;  // The family was just created.
  } else if (family.bounds != bounds) {
    DieOnProgrammerError("metric '" + std::string(name) + "' registered with other bounds");
  }
  auto& series = family.histograms[RenderLabels(labels)];
  if (!series) series = std::make_unique<Histogram>(std::move(bounds));
  return *series;
}

void MetricsRegistry::AddGaugeCallback(std::string_view name, std::string_view help,
                                       GaugeCallback callback) {
  std::lock_guard<std::mutex> lock(mu_);
  if (families_.find(name) != families_.end()) {
    DieOnProgrammerError("metric '" + std::string(name) + "' already registered");
  }
  Family& family = FamilyLocked(name, help, Kind::kGaugeCallback);
  family.callback = std::make_shared<CallbackSlot>();
  family.callback->fn = std::move(callback);
}

void MetricsRegistry::RemoveGaugeCallback(std::string_view name) {
  std::shared_ptr<CallbackSlot> slot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = families_.find(name);
    if (it == families_.end() || it->second->kind != Kind::kGaugeCallback) return;
    slot = it->second->callback;
    families_.erase(it);
  }
  // Waits for a render that is calling it right now.
  std::lock_guard<std::mutex> slot_lock(slot->mu);
  slot->removed = true;
}

std::string MetricsRegistry::RenderPrometheus() const {
  struct PendingCallback {
    std::string name;
    std::string help;
    std::shared_ptr<CallbackSlot> slot;
  };
  std::map<std::string, std::string, std::less<>> rendered;  // Family name -> its text.
  std::vector<PendingCallback> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, family] : families_) {
      std::string& out = rendered[name];
      switch (family->kind) {
        case Kind::kCounter:
          AppendHeader(&out, name, family->help, "counter");
          for (const auto& [labels, counter] : family->counters) {
            AppendSample(&out, name, "", labels, std::to_string(counter->Value()));
          }
          break;
        case Kind::kGauge:
          AppendHeader(&out, name, family->help, "gauge");
          for (const auto& [labels, gauge] : family->gauges) {
            AppendSample(&out, name, "", labels, FormatValue(gauge->Value()));
          }
          break;
        case Kind::kHistogram:
          AppendHeader(&out, name, family->help, "histogram");
          for (const auto& [labels, histogram] : family->histograms) {
            HistogramSnapshot snapshot = histogram->Snapshot();
            uint64_t cumulative = 0;
            for (size_t i = 0; i < snapshot.buckets.size(); ++i) {
              cumulative += snapshot.buckets[i];
              std::string le = i < family->bounds.size() ? FormatValue(family->bounds[i]) : "+Inf";
              AppendSample(&out, name, "_bucket", WithLe(labels, le), std::to_string(cumulative));
            }
            AppendSample(&out, name, "_sum", labels, FormatValue(snapshot.sum));
            AppendSample(&out, name, "_count", labels, std::to_string(snapshot.count));
          }
          break;
        case Kind::kGaugeCallback:
          callbacks.push_back({name, family->help, family->callback});
          break;
      }
    }
  }
  // Outside mu_: a callback may take its component's locks, and that component may be
  // registering metrics meanwhile.
  for (const PendingCallback& pending : callbacks) {
    GaugeEmitter emitter(pending.name);
    {
      std::lock_guard<std::mutex> slot_lock(pending.slot->mu);
      if (pending.slot->removed) {
        rendered.erase(pending.name);
        continue;
      }
      pending.slot->fn(emitter);
    }
    std::string& out = rendered[pending.name];
    AppendHeader(&out, pending.name, pending.help, "gauge");
    for (const auto& [labels, value] : emitter.samples_) {
      AppendSample(&out, pending.name, "", labels, FormatValue(value));
    }
  }
  std::string text;
  for (const auto& [name, family_text] : rendered) text += family_text;
  return text;
}

}  // namespace mooncake
