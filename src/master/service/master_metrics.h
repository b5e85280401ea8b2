#pragma once

// What the master counts about its RPCs, for /metrics and the status page: requests and
// failures per RPC, latency histograms, per-item errors by status code, lookup hits/misses,
// and a short ring of recent errors. Hot-path calls are lock-free except RecordItemError
// (errors only), which also appends to the ring.
//
// Thread safety: every method may be called from any thread.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "common/metrics/metrics_registry.h"
#include "master/service/master_rpc.h"
#include "mooncake/common/status.h"
#include "store_types/cluster_stats.h"

namespace mooncake::master {

// One failure kept for the status page.
struct MasterErrorRecord {
  std::chrono::system_clock::time_point when;
  MasterRpc rpc = MasterRpc::kPing;
  Status status;
};

class MasterMetrics {
 public:
  // How many recent errors the ring keeps.
  static constexpr size_t kRecentErrors = 32;

  // Registers the master's metric families in `registry`, which must outlive this.
  explicit MasterMetrics(MetricsRegistry& registry);

  // One request finished, with its request-level status (per-item failures go through
  // RecordItemError).
  void RecordRpc(MasterRpc rpc, std::chrono::nanoseconds latency, const Status& status);
  // One item of a batch failed.
  void RecordItemError(MasterRpc rpc, const Status& status);
  // A GetReplicaList item found (hit) or did not find (miss) a readable object.
  void RecordLookup(bool hit);
  // Lookups recorded so far, by outcome.
  uint64_t lookups_hit() const { return hits_->Value(); }
  uint64_t lookups_miss() const { return misses_->Value(); }

  // Time spent waiting for, and then holding, the core's lock (one per request or tick).
  void RecordLockWait(std::chrono::nanoseconds wait) { lock_wait_->ObserveDuration(wait); }
  void RecordLockHold(std::chrono::nanoseconds hold) { lock_hold_->ObserveDuration(hold); }

  // The last kRecentErrors failures, oldest first.
  std::vector<MasterErrorRecord> RecentErrors() const;

 private:
  struct PerRpc {
    Counter* requests = nullptr;
    Counter* request_errors = nullptr;
    Histogram* latency = nullptr;
  };

  void Remember(MasterRpc rpc, const Status& status);
  Counter& ItemErrors(MasterRpc rpc, const Status& status);

  MetricsRegistry& registry_;
  std::array<PerRpc, kMasterRpcCount> per_rpc_;
  Counter* hits_ = nullptr;
  Counter* misses_ = nullptr;
  Histogram* lock_wait_ = nullptr;
  Histogram* lock_hold_ = nullptr;
  mutable std::mutex errors_mutex_;
  std::deque<MasterErrorRecord> recent_;
};

}  // namespace mooncake::master
