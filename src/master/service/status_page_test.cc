#include "master/service/status_page.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mooncake/common/units.h"

namespace mooncake::master {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

MasterStatusSnapshot TwoSegments() {
  MasterStatusSnapshot s;
  s.uptime_seconds = 93784;  // 1 d 02:03:04
  s.objects = 42;
  s.segments = {{"seg-a", "node-1", "DRAM", 4 * kGiB, 1 * kGiB},
                {"seg-b", "node-2", "DRAM", 4 * kGiB, 3 * kGiB}};
  return s;
}

TEST(StatusPageTest, HasTitleUptimeAndObjectCount) {
  std::string page = RenderStatusPage(TwoSegments());
  EXPECT_THAT(page, StartsWith("<!DOCTYPE html>"));
  EXPECT_THAT(page, HasSubstr("<title>Mooncake master</title>"));
  EXPECT_THAT(page, HasSubstr("Uptime: 1d 02:03:04"));
  EXPECT_THAT(page, HasSubstr("Objects: 42"));
  EXPECT_THAT(page, HasSubstr("</html>\n"));
}

TEST(StatusPageTest, IsSelfContained) {
  std::string page = RenderStatusPage(TwoSegments());
  EXPECT_THAT(page, Not(HasSubstr("<script")));
  EXPECT_THAT(page, Not(HasSubstr("<link")));
  EXPECT_THAT(page, Not(HasSubstr("http://")));
  EXPECT_THAT(page, Not(HasSubstr("https://")));
}

TEST(StatusPageTest, SegmentNamesAreEscaped) {
  MasterStatusSnapshot s;
  s.segments = {{"<script>alert('x')</script>", "n&1", "\"DRAM\"", 100, 50}};
  std::string page = RenderStatusPage(s);
  EXPECT_THAT(page, Not(HasSubstr("<script>")));
  EXPECT_THAT(page, HasSubstr("<td>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</td>"));
  EXPECT_THAT(page, HasSubstr("<td>n&amp;1</td>"));
  EXPECT_THAT(page, HasSubstr("<td>&quot;DRAM&quot;</td>"));
}

TEST(StatusPageTest, BarWidthIsTheUsedPercentage) {
  std::string page = RenderStatusPage(TwoSegments());
  EXPECT_THAT(page, HasSubstr("<td class=\"num\">1 GiB / 4 GiB</td><td><span class=\"bar\">"
                              "<span style=\"width:25.0%\"></span></span>25.0%</td>"));
  EXPECT_THAT(page, HasSubstr("<span style=\"width:75.0%\"></span></span>75.0%"));
}

TEST(StatusPageTest, FullSegmentsAreFlaggedAndPercentIsClamped) {
  MasterStatusSnapshot s;
  s.segments = {
      {"full", "n", "SSD", 100, 95}, {"over", "n", "SSD", 100, 150}, {"empty", "n", "SSD", 0, 0}};
  std::string page = RenderStatusPage(s);
  EXPECT_THAT(page, HasSubstr("<span class=\"bar full\"><span style=\"width:95.0%\">"));
  EXPECT_THAT(page, HasSubstr("width:100.0%"));
  EXPECT_THAT(page, HasSubstr("width:0.0%"));
}

TEST(StatusPageTest, MediaTotalsAreSummedFromSegments) {
  MasterStatusSnapshot s = TwoSegments();
  s.segments.push_back({"ssd-1", "node-1", "SSD", 8 * kGiB, 2 * kGiB});
  std::string page = RenderStatusPage(s);
  // DRAM: 2 segments, 4 of 8 GiB.
  EXPECT_THAT(page, HasSubstr("<tr><td>DRAM</td><td class=\"num\">2</td>"
                              "<td class=\"num\">4 GiB / 8 GiB</td>"));
  EXPECT_THAT(page, HasSubstr("<tr><td>SSD</td><td class=\"num\">1</td>"
                              "<td class=\"num\">2 GiB / 8 GiB</td>"));
}

TEST(StatusPageTest, EvictionCountersAreListed) {
  MasterStatusSnapshot s;
  s.eviction_counters = {{"evicted_objects", 12}, {"runs", 3}};
  std::string page = RenderStatusPage(s);
  EXPECT_THAT(page, HasSubstr("<tr><td>evicted_objects</td><td class=\"num\">12</td></tr>"));
  EXPECT_THAT(page, HasSubstr("<tr><td>runs</td><td class=\"num\">3</td></tr>"));
}

TEST(StatusPageTest, RecentErrorsAreListedNewestFirstAndEscaped) {
  MasterStatusSnapshot s;
  s.recent_errors = {
      {"2025-01-31 12:00:00 UTC", "put_start", "NO_AVAILABLE_HANDLE", "no space for <key>"},
      {"2025-01-31 12:00:05 UTC", "get_replica_list", "RPC_TIMEOUT", "deadline & more"}};
  std::string page = RenderStatusPage(s);
  EXPECT_THAT(page, HasSubstr("<tr><td>2025-01-31 12:00:05 UTC</td><td>get_replica_list</td>"
                              "<td>RPC_TIMEOUT</td><td>deadline &amp; more</td></tr>"));
  EXPECT_THAT(page, HasSubstr("<td>NO_AVAILABLE_HANDLE</td><td>no space for &lt;key&gt;</td>"));
  EXPECT_LT(page.find("12:00:05"), page.find("12:00:00"));
}

TEST(StatusPageTest, EmptySnapshotSaysSo) {
  std::string page = RenderStatusPage(MasterStatusSnapshot{});
  EXPECT_THAT(page, HasSubstr("No segments mounted."));
  EXPECT_THAT(page, HasSubstr("<h2>Recent errors</h2>\n<p>None.</p>"));
}

TEST(StatusPageTest, TiersShowACapacityBarPerMediumAndEachTiersShareOfLookups) {
  MasterStatusSnapshot s = TwoSegments();  // DRAM: 4 of 8 GiB
  s.segments.push_back({"ssd-1", "node-1", "SSD", 8 * kGiB, 2 * kGiB});
  s.hits_by_medium = {{"DRAM", 6}, {"SSD", 2}, {"VRAM", 0}};
  s.misses = 2;
  std::string page = RenderStatusPage(s);
  EXPECT_THAT(page, HasSubstr("<h2>Tiers</h2>\n<p>Lookups since start: 10</p>"));
  EXPECT_THAT(page, HasSubstr("<tr><td>DRAM</td><td class=\"num\">2</td>"
                              "<td class=\"num\">4 GiB / 8 GiB</td><td><span class=\"bar\">"
                              "<span style=\"width:50.0%\"></span></span>50.0%</td>"
                              "<td class=\"num\">6</td><td class=\"num\">60.0%</td></tr>"));
  EXPECT_THAT(page, HasSubstr("<tr><td>SSD</td><td class=\"num\">1</td>"
                              "<td class=\"num\">2 GiB / 8 GiB</td><td><span class=\"bar\">"
                              "<span style=\"width:25.0%\"></span></span>25.0%</td>"
                              "<td class=\"num\">2</td><td class=\"num\">20.0%</td></tr>"));
  EXPECT_THAT(page, HasSubstr("<tr><td>Miss</td><td colspan=\"3\"></td>"
                              "<td class=\"num\">2</td><td class=\"num\">20.0%</td></tr>"));
  EXPECT_THAT(page, Not(HasSubstr("<td>VRAM</td>"))) << "no VRAM segment, no VRAM hit";
  EXPECT_THAT(page, Not(HasSubstr("Object store"))) << "no object tier configured";
}

TEST(StatusPageTest, WithoutLookupsSharesAreADash) {
  std::string page = RenderStatusPage(TwoSegments());
  EXPECT_THAT(page, HasSubstr("<p>Lookups since start: 0</p>"));
  EXPECT_THAT(page, HasSubstr("<td class=\"num\">0</td><td class=\"num\">-</td></tr>"));
}

TEST(StatusPageTest, TheObjectTierRowAppearsOnlyWhenConfigured) {
  MasterStatusSnapshot s = TwoSegments();
  s.hits_by_medium = {{"DRAM", 5}};
  s.object_store_reads = 3;
  s.misses = 2;
  s.object_tier.uploads = 40;
  EXPECT_THAT(RenderStatusPage(s), Not(HasSubstr("Object store")));

  s.object_tier.policy = "write-through";
  std::string page = RenderStatusPage(s);
  EXPECT_THAT(page, HasSubstr("<tr><td>Object store</td><td colspan=\"3\">write-through: 40 "
                              "uploaded, 0 failed</td><td class=\"num\">3</td>"
                              "<td class=\"num\">30.0%</td></tr>"));
  EXPECT_THAT(page, Not(HasSubstr("backlog"))) << "only write-back has one";

  s.object_tier.policy = "write-back";
  s.object_tier.upload_failures = 1;
  s.object_tier.backlog_objects = 12;
  s.object_tier.backlog_bytes = 3 * kMiB;
  s.object_tier.uploads_in_flight = 2;
  page = RenderStatusPage(s);
  EXPECT_THAT(page, HasSubstr("<td colspan=\"3\">write-back: 40 uploaded, 1 failed; backlog 12 "
                              "objects (3 MiB), 2 uploads in flight</td>"));
  // The object store row sits between the media and the misses.
  EXPECT_LT(page.find("<td>DRAM</td>"), page.find("Object store"));
  EXPECT_LT(page.find("Object store"), page.find("<td>Miss</td>"));
}

TEST(StatusPageTest, IntegrityShowsTotalsAndARowPerNodeAndMediumWithReports) {
  MasterStatusSnapshot s = TwoSegments();
  s.integrity_counters = {
      {"corrupt_reports", 3}, {"corrupt_replicas_dropped", 2}, {"objects_lost_to_corruption", 1}};
  std::string page = RenderStatusPage(s);
  EXPECT_THAT(page, HasSubstr("<h2>Integrity</h2>"));
  EXPECT_THAT(page, HasSubstr("<tr><td>corrupt_reports</td><td class=\"num\">3</td></tr>"));
  EXPECT_THAT(page,
              HasSubstr("<tr><td>objects_lost_to_corruption</td><td class=\"num\">1</td></tr>"));
  EXPECT_THAT(page, Not(HasSubstr("Corrupt replicas reported"))) << "no per-node rows yet";

  s.corrupt_replicas = {{"node-<1>", "SSD", 2, 1}, {"node-2", "DRAM", 1, 1}};
  page = RenderStatusPage(s);
  EXPECT_THAT(page, HasSubstr("<tr><td>node-&lt;1&gt;</td><td>SSD</td><td class=\"num\">2</td>"
                              "<td class=\"num\">1</td></tr>"));
  EXPECT_THAT(page, HasSubstr("<tr><td>node-2</td><td>DRAM</td><td class=\"num\">1</td>"));
  // Between re-replication and the recent errors.
  EXPECT_LT(page.find("<h2>Re-replication</h2>"), page.find("<h2>Integrity</h2>"));
  EXPECT_LT(page.find("<h2>Integrity</h2>"), page.find("<h2>Recent errors</h2>"));
}

}  // namespace
}  // namespace mooncake::master
