#include "stat_integrity.h"

#include <fmt/format.h>

namespace mooncake::cli {

std::string FormatIntegrity(const IntegrityStats& stats) {
  std::string out = fmt::format(
      "integrity: {} corrupt replicas reported, {} dropped, {} objects lost\n",
      stats.corrupt_reports, stats.corrupt_replicas_dropped, stats.objects_lost_to_corruption);
  for (const CorruptReplicaCounts& c : stats.per_node) {
    if (c.detected == 0 && c.dropped == 0) continue;
    out += fmt::format("  {:<24} {:<6} {} reported, {} dropped\n", c.node, MediumName(c.medium),
                       c.detected, c.dropped);
  }
  return out;
}

}  // namespace mooncake::cli
