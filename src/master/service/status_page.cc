#include "master/service/status_page.h"

#include <cstdio>
#include <map>

#include "mooncake/common/size.h"

namespace mooncake::master {
namespace {

constexpr const char* kStyle =
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin-bottom:1.5em}"
    "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}"
    "td.num{text-align:right}"
    ".bar{display:inline-block;width:160px;height:10px;background:#eee;margin-right:6px}"
    ".bar>span{display:block;height:100%;background:#4a8}"
    ".bar.full>span{background:#c44}";

// A bar turns red from here: the eviction high watermark's neighbourhood, worth a look.
constexpr double kFullPercent = 90.0;

// used/capacity in percent, clamped to [0, 100]; 0 for an empty segment.
double Percent(uint64_t used, uint64_t capacity) {
  if (capacity == 0) return 0;
  double percent = 100.0 * static_cast<double>(used) / static_cast<double>(capacity);
  return percent > 100 ? 100 : percent;
}

std::string FormatPercent(double percent) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.1f%%", percent);
  return buf;
}

// "<td>" cells: "used / capacity", then the bar and the percentage.
std::string UsageCells(uint64_t used, uint64_t capacity) {
  const double percent = Percent(used, capacity);
  const std::string text = FormatPercent(percent);
  return "<td class=\"num\">" + FormatSize(used) + " / " + FormatSize(capacity) +
         "</td><td><span class=\"bar" + (percent >= kFullPercent ? " full" : "") +
         "\"><span style=\"width:" + text + "\"></span></span>" + text + "</td>";
}

std::string FormatUptime(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%lldd %02lld:%02lld:%02lld",
                static_cast<long long>(seconds / 86400),
                static_cast<long long>(seconds / 3600 % 24),
                static_cast<long long>(seconds / 60 % 60), static_cast<long long>(seconds % 60));
  return buf;
}

std::string Cell(const std::string& text) { return "<td>" + HtmlEscape(text) + "</td>"; }

// "<td>" cells: how many lookups a tier served, and their share of all lookups.
std::string LookupCells(uint64_t served, uint64_t lookups) {
  return "<td class=\"num\">" + std::to_string(served) + "</td><td class=\"num\">" +
         (lookups == 0 ? std::string("-") : FormatPercent(Percent(served, lookups))) + "</td>";
}

// "write-back: 40 uploaded, 1 failed; backlog 12 objects (3 MiB), 2 uploads in flight".
std::string ObjectTierText(const MasterStatusSnapshot::ObjectTier& t) {
  std::string text = HtmlEscape(t.policy) + ": " + std::to_string(t.uploads) + " uploaded, " +
                     std::to_string(t.upload_failures) + " failed";
  if (t.policy == "write-back") {
    text += "; backlog " + std::to_string(t.backlog_objects) + " objects (" +
            FormatSize(t.backlog_bytes) + "), " + std::to_string(t.uploads_in_flight) +
            " uploads in flight";
  }
  return text;
}

// One row per medium with its capacity bar (summed over its segments) and the lookups it
// served; then the object store (when configured) and the misses.
void AppendTiers(const MasterStatusSnapshot& s, std::string* out) {
  struct Total {
    size_t segments = 0;
    uint64_t used = 0;
    uint64_t capacity = 0;
  };
  std::map<std::string, Total> totals;  // Sorted by medium name.
  for (const auto& seg : s.segments) {
    Total& t = totals[seg.medium];
    ++t.segments;
    t.used += seg.used;
    t.capacity += seg.capacity;
  }
  uint64_t lookups = s.object_store_reads + s.misses;
  for (const auto& [medium, hits] : s.hits_by_medium) {
    lookups += hits;
    if (hits > 0) totals[medium];  // It served lookups: its row stays after its segments left.
  }
  const bool object_tier = !s.object_tier.policy.empty();
  *out += "<h2>Tiers</h2>\n";
  if (s.segments.empty()) *out += "<p>No segments mounted.</p>\n";
  if (totals.empty() && !object_tier && lookups == 0) return;
  *out += "<p>Lookups since start: " + std::to_string(lookups) + "</p>\n";
  *out +=
      "<table><tr><th>Tier</th><th>Segments</th><th>Used / capacity</th><th>Use</th>"
      "<th>Lookups served</th><th>Share</th></tr>\n";
  for (const auto& [medium, t] : totals) {
    const auto hits = s.hits_by_medium.find(medium);
    *out += "<tr>" + Cell(medium) + "<td class=\"num\">" + std::to_string(t.segments) + "</td>" +
            UsageCells(t.used, t.capacity) +
            LookupCells(hits == s.hits_by_medium.end() ? 0 : hits->second, lookups) + "</tr>\n";
  }
  if (object_tier) {
    *out += "<tr><td>Object store</td><td colspan=\"3\">" + ObjectTierText(s.object_tier) +
            "</td>" + LookupCells(s.object_store_reads, lookups) + "</tr>\n";
  }
  *out += "<tr><td>Miss</td><td colspan=\"3\"></td>" + LookupCells(s.misses, lookups) +
          "</tr>\n</table>\n";
}

void AppendSegments(const MasterStatusSnapshot& s, std::string* out) {
  if (s.segments.empty()) return;
  *out +=
      "<h2>Segments</h2>\n<table><tr><th>Segment</th><th>Node</th><th>Medium</th>"
      "<th>Used / capacity</th><th>Use</th></tr>\n";
  for (const auto& seg : s.segments) {
    *out += "<tr>" + Cell(seg.name) + Cell(seg.draining ? seg.node + " (draining)" : seg.node) +
            Cell(seg.medium) + UsageCells(seg.used, seg.capacity) + "</tr>\n";
  }
  *out += "</table>\n";
}

void AppendEviction(const MasterStatusSnapshot& s, std::string* out) {
  *out += "<h2>Eviction</h2>\n";
  if (s.eviction_counters.empty()) {
    *out += "<p>No counters.</p>\n";
    return;
  }
  *out += "<table><tr><th>Counter</th><th>Value</th></tr>\n";
  for (const auto& [name, value] : s.eviction_counters) {
    *out += "<tr>" + Cell(name) + "<td class=\"num\">" + std::to_string(value) + "</td></tr>\n";
  }
  *out += "</table>\n";
}

void AppendRepairs(const MasterStatusSnapshot& s, std::string* out) {
  *out += "<h2>Re-replication</h2>\n<p>Objects below their replica target: " +
          std::to_string(s.below_target) +
          " &middot; Copies in flight: " + std::to_string(s.repairs_in_flight) + "</p>\n";
  if (s.repair_counters.empty()) return;
  *out += "<table><tr><th>Counter</th><th>Value</th></tr>\n";
  for (const auto& [name, value] : s.repair_counters) {
    *out += "<tr>" + Cell(name) + "<td class=\"num\">" + std::to_string(value) + "</td></tr>\n";
  }
  *out += "</table>\n";
}

void AppendIntegrity(const MasterStatusSnapshot& s, std::string* out) {
  *out += "<h2>Integrity</h2>\n";
  if (s.integrity_counters.empty()) {
    *out += "<p>No counters.</p>\n";
    return;
  }
  *out += "<table><tr><th>Counter</th><th>Value</th></tr>\n";
  for (const auto& [name, value] : s.integrity_counters) {
    *out += "<tr>" + Cell(name) + "<td class=\"num\">" + std::to_string(value) + "</td></tr>\n";
  }
  *out += "</table>\n";
  if (s.corrupt_replicas.empty()) return;
  *out +=
      "<table><tr><th>Node</th><th>Medium</th><th>Corrupt replicas reported</th>"
      "<th>Dropped</th></tr>\n";
  for (const auto& c : s.corrupt_replicas) {
    *out += "<tr>" + Cell(c.node) + Cell(c.medium) + "<td class=\"num\">" +
            std::to_string(c.detected) + "</td><td class=\"num\">" + std::to_string(c.dropped) +
            "</td></tr>\n";
  }
  *out += "</table>\n";
}

void AppendErrors(const MasterStatusSnapshot& s, std::string* out) {
  *out += "<h2>Recent errors</h2>\n";
  if (s.recent_errors.empty()) {
    *out += "<p>None.</p>\n";
    return;
  }
  *out += "<table><tr><th>Time</th><th>RPC</th><th>Code</th><th>Message</th></tr>\n";
  for (auto it = s.recent_errors.rbegin(); it != s.recent_errors.rend(); ++it) {
    *out += "<tr>" + Cell(it->timestamp) + Cell(it->rpc) + Cell(it->code) + Cell(it->message) +
            "</tr>\n";
  }
  *out += "</table>\n";
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderStatusPage(const MasterStatusSnapshot& snapshot) {
  std::string out =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Mooncake master</title>"
      "<style>";
  out += kStyle;
  out += "</style></head>\n<body>\n<h1>Mooncake master</h1>\n";
  out += "<p>Uptime: " + FormatUptime(snapshot.uptime_seconds) +
         " &middot; Objects: " + std::to_string(snapshot.objects) +
         " &middot; Segments: " + std::to_string(snapshot.segments.size()) + "</p>\n";
  AppendTiers(snapshot, &out);
  AppendSegments(snapshot, &out);
  AppendEviction(snapshot, &out);
  AppendRepairs(snapshot, &out);
  AppendIntegrity(snapshot, &out);
  AppendErrors(snapshot, &out);
  out += "</body></html>\n";
  return out;
}

}  // namespace mooncake::master
