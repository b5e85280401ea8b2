#pragma once

// The master's human-readable status page (served on "/" of the metrics port): one
// self-contained HTML document, no scripts or external assets, so it works from a jump host
// with nothing but curl or a text browser.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mooncake::master {

// Everything the page shows, copied out of the master at request time. Plain data.
struct MasterStatusSnapshot {
  struct Segment {
    std::string name;
    std::string node;
    std::string medium;     // "DRAM", "VRAM", "SSD".
    uint64_t capacity = 0;  // Bytes.
    uint64_t used = 0;      // Bytes.
    bool draining = false;  // Its node is leaving: shown next to the node.
  };
  struct RecentError {
    std::string timestamp;  // Already formatted, e.g. "2025-01-31 12:00:00 UTC".
    std::string rpc;
    std::string code;  // StatusCodeName, e.g. "NO_AVAILABLE_HANDLE".
    std::string message;
  };

  // The object-storage tier behind the pool; shown only when `policy` is set.
  struct ObjectTier {
    std::string policy;            // "write-through", "write-back", "none"; "" = no object tier.
    uint64_t uploads = 0;          // Objects uploaded since start.
    uint64_t upload_failures = 0;  // Write-back uploads failed or timed out since start.
    // Write-back's backlog now: visible objects not yet in the object store, their bytes, and
    // uploads handed to nodes and not yet reported.
    uint64_t backlog_objects = 0;
    uint64_t backlog_bytes = 0;
    uint64_t uploads_in_flight = 0;
  };

  int64_t uptime_seconds = 0;
  uint64_t objects = 0;
  // In display order. Per-medium totals (the tiers' capacity bars) are summed from these by
  // the page.
  std::vector<Segment> segments;
  // Lookups since start by the tier that served them (TierHits in master_metrics.h): hits per
  // medium ("DRAM", "SSD", "VRAM"), pool misses read through from the object store, and
  // misses. Each is shown as its share of their sum.
  std::map<std::string, uint64_t> hits_by_medium;
  uint64_t object_store_reads = 0;
  uint64_t misses = 0;
  ObjectTier object_tier;
  // Counter name -> value, e.g. "evicted_objects" -> 12.
  std::map<std::string, uint64_t> eviction_counters;
  // Re-replication: objects below their replica target, copies in flight, and counters
  // ("completed" -> 3, ...).
  uint64_t below_target = 0;
  uint64_t repairs_in_flight = 0;
  std::map<std::string, uint64_t> repair_counters;
  // Corrupt replicas clients reported: totals ("corrupt_reports" -> 2, ...) and, per node and
  // medium with a report, detections and drops.
  struct CorruptReplicas {
    std::string node;
    std::string medium;  // "DRAM", "VRAM", "SSD".
    uint64_t detected = 0;
    uint64_t dropped = 0;
  };
  std::map<std::string, uint64_t> integrity_counters;
  std::vector<CorruptReplicas> corrupt_replicas;
  // Oldest first; the page shows them newest first.
  std::vector<RecentError> recent_errors;
};

// Renders `snapshot` as a complete HTML page titled "Mooncake master". Every string from the
// snapshot is HTML-escaped (segment names come from the network).
std::string RenderStatusPage(const MasterStatusSnapshot& snapshot);

// "&", "<", ">", '"' and "'" as character references; exposed for tests.
std::string HtmlEscape(const std::string& text);

}  // namespace mooncake::master
