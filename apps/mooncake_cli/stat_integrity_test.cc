#include "stat_integrity.h"

#include <gtest/gtest.h>

namespace mooncake::cli {
namespace {

TEST(StatIntegrityTest, TotalsAlwaysAndALinePerNodeAndMediumWithReports) {
  IntegrityStats stats;
  EXPECT_EQ(FormatIntegrity(stats),
            "integrity: 0 corrupt replicas reported, 0 dropped, 0 objects lost\n");

  stats.corrupt_reports = 3;
  stats.corrupt_replicas_dropped = 2;
  stats.objects_lost_to_corruption = 1;
  stats.At("node-b", Medium::kDram) = {"node-b", Medium::kDram, 1, 0};
  stats.At("node-a", Medium::kSsd) = {"node-a", Medium::kSsd, 2, 2};
  stats.At("node-c", Medium::kDram);  // nothing counted: no line
  EXPECT_EQ(FormatIntegrity(stats),
            "integrity: 3 corrupt replicas reported, 2 dropped, 1 objects lost\n"
            "  node-a                   SSD    2 reported, 2 dropped\n"
            "  node-b                   DRAM   1 reported, 0 dropped\n");
}

}  // namespace
}  // namespace mooncake::cli
