#pragma once

// The "integrity:" block of `mooncake stat`: what the master did with clients' reports of
// corrupt replicas (replicas whose bytes did not match their object's CRC32C).

#include <string>

#include "store_types/cluster_stats.h"

namespace mooncake::cli {

// One line of totals, always:
//   integrity: 3 corrupt replicas reported, 2 dropped, 1 objects lost
// then one line per node and medium with a report, e.g.
//   node-a                   DRAM   2 reported, 1 dropped
// Each line ends in "\n".
std::string FormatIntegrity(const IntegrityStats& stats);

}  // namespace mooncake::cli
