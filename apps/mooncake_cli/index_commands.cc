// rm, exists, ls, stat: master RPCs only (no Transfer Engine is started for them). With an
// object-storage tier behind the pool, rm and exists also reach the object store (credentials
// from AWS_*); ls lists the pool only, and stat shows the master's view (the object tier's
// counters included, but not the bucket's content).

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "commands.h"
#include "master/client/master_client.h"
#include "mooncake/common/size.h"
#include "stat_integrity.h"
#include "store_types/cluster_stats.h"
#include "store_types/object_tier.h"
#include "tier/object_store.h"
#include "tier/object_store_credentials.h"

namespace mooncake::cli {
namespace {

Result<std::unique_ptr<master::MasterClient>> Connect(const CliOptions& options) {
  master::MasterClientOptions master;
  master.master_address = options.master;
  master.rpc_timeout = options.rpc_timeout;
  master.client_id = "mooncake-cli";
  master.auth_secret = options.auth_secret;
  return master::MasterClient::Create(master);
}

// The object store behind the pool, when the master names one; null otherwise.
Result<std::unique_ptr<tier::ObjectStore>> ObjectTierOf(master::MasterClient& master) {
  MC_ASSIGN_OR_RETURN(master::PingReply pong, master.Ping());
  if (!pong.object_tier.enabled()) return std::unique_ptr<tier::ObjectStore>();
  return tier::ObjectStore::Open(pong.object_tier, tier::CredentialsFromEnvironment());
}

std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f%%", 100.0 * static_cast<double>(part) / whole);
  return text;
}

// Capacity and use of a group of segments (a node's on one medium, or a medium's).
struct Usage {
  size_t segments = 0;
  uint64_t used = 0;
  uint64_t capacity = 0;

  void Add(const SegmentInfo& s) {
    ++segments;
    used += s.used;
    capacity += s.capacity;
  }
};

void PrintTierRow(const char* tier, uint64_t served, uint64_t lookups) {
  std::printf("  %-16s %10llu %7s\n", tier, static_cast<unsigned long long>(served),
              Percent(served, lookups).c_str());
}

// The "tiers:" block: where lookups were served (a row per tier present), then the SSD tier's
// and the object tier's counters when those tiers exist.
void PrintTiers(const ClusterInfo& info, const std::map<Medium, Usage>& per_medium) {
  const TierHits hits = SplitLookupsByTier(info.tier, info.lookups_hit, info.lookups_miss);
  const uint64_t lookups = hits.total();
  const bool object_tier = !info.object_store_policy.empty();
  std::printf("\ntiers: where the %llu lookups since start were served\n",
              static_cast<unsigned long long>(lookups));
  std::printf("  %-16s %10s %7s\n", "tier", "lookups", "share");
  if (per_medium.contains(Medium::kDram) || hits.dram > 0) {
    PrintTierRow("DRAM", hits.dram, lookups);
  }
  if (per_medium.contains(Medium::kVram) || hits.vram > 0) {
    PrintTierRow("VRAM", hits.vram, lookups);
  }
  if (per_medium.contains(Medium::kSsd) || hits.ssd > 0) PrintTierRow("SSD", hits.ssd, lookups);
  if (object_tier || hits.object > 0) PrintTierRow("object store", hits.object, lookups);
  PrintTierRow("miss", hits.miss, lookups);
  if (per_medium.contains(Medium::kSsd)) {
    std::printf(
        "  SSD tier: %llu puts placed on SSD; demotions %llu scheduled, %llu completed, "
        "%llu failed; %llu SSD hits; promotions %llu scheduled, %llu completed, %llu failed\n",
        static_cast<unsigned long long>(info.tier.ssd_puts),
        static_cast<unsigned long long>(info.tier.demotions_scheduled),
        static_cast<unsigned long long>(info.tier.demotions_completed),
        static_cast<unsigned long long>(info.tier.demotions_failed),
        static_cast<unsigned long long>(info.tier.ssd_hits),
        static_cast<unsigned long long>(info.tier.promotions_scheduled),
        static_cast<unsigned long long>(info.tier.promotions_completed),
        static_cast<unsigned long long>(info.tier.promotions_failed));
  }
  if (object_tier) {
    std::printf("  object tier: %s; read-throughs %llu, uploads %llu, upload failures %llu",
                info.object_store_policy.c_str(),
                static_cast<unsigned long long>(info.tier.object_read_throughs),
                static_cast<unsigned long long>(info.tier.object_uploads),
                static_cast<unsigned long long>(info.tier.object_upload_failures));
    if (info.object_store_policy == "write-back") {
      std::printf("; backlog %llu objects (%s), uploads in flight %llu",
                  static_cast<unsigned long long>(info.tier.upload_backlog_objects),
                  FormatSize(info.tier.upload_backlog_bytes).c_str(),
                  static_cast<unsigned long long>(info.tier.uploads_in_flight));
    }
    std::printf("\n");
  }
}

void PrintUsageRow(const std::string& who, const std::string& medium, const Usage& u) {
  std::printf("  %-24s %-6s %8zu %12s %12s %7s\n", who.c_str(), medium.c_str(), u.segments,
              FormatSize(u.used).c_str(), FormatSize(u.capacity).c_str(),
              Percent(u.used, u.capacity).c_str());
}

}  // namespace

Outcome RunRemove(const CliOptions& options, const RemoveArgs& args) {
  auto master = Connect(options);
  if (!master.ok()) return FromStatus(master.status(), args.key, options.master);
  auto tier = ObjectTierOf(**master);
  if (!tier.ok()) return FromStatus(tier.status(), args.key, options.master);
  Status removed =
      (*master)->Remove(args.key, args.force ? RemoveMode::kForce : RemoveMode::kNormal);
  if (*tier) removed = tier::RemoveBehindPool(**tier, args.key, removed);
  return FromStatus(removed, args.key, options.master);
}

Outcome RunExists(const CliOptions& options, const std::string& key) {
  auto master = Connect(options);
  if (!master.ok()) return FromStatus(master.status(), key, options.master);
  auto tier = ObjectTierOf(**master);
  if (!tier.ok()) return FromStatus(tier.status(), key, options.master);
  auto exists = (*master)->ExistKey(key);
  if (*tier) exists = tier::ExistsBehindPool(**tier, key, std::move(exists));
  if (!exists.ok()) return FromStatus(exists.status(), key, options.master);
  return *exists ? Outcome::Ok() : Outcome{ExitCode::kNotFound, ""};
}

Outcome RunList(const CliOptions& options, const ListArgs& args) {
  auto master = Connect(options);
  if (!master.ok()) return FromStatus(master.status(), "", options.master);
  // Pages of at most the master's per-reply maximum, each starting after the last key seen.
  constexpr uint64_t kPage = 16384;
  uint64_t printed = 0;
  std::string after;
  for (;;) {
    const uint64_t want = args.limit == 0 ? kPage : std::min(kPage, args.limit - printed);
    auto page = (*master)->ListKeys(args.prefix, static_cast<uint32_t>(want), after);
    if (!page.ok()) return FromStatus(page.status(), "", options.master);
    for (const std::string& key : page->keys) std::printf("%s\n", key.c_str());
    printed += page->keys.size();
    if (!page->truncated || page->keys.empty()) break;
    if (args.limit != 0 && printed >= args.limit) {
      std::fflush(stdout);
      std::fprintf(stderr, "mooncake: listed the first %llu keys; more match (--limit 0: all)\n",
                   static_cast<unsigned long long>(printed));
      break;
    }
    after = page->keys.back();
  }
  return Outcome::Ok();
}

Outcome RunStat(const CliOptions& options) {
  auto master = Connect(options);
  if (!master.ok()) return FromStatus(master.status(), "", options.master);
  auto info = (*master)->GetClusterInfo();
  if (!info.ok()) return FromStatus(info.status(), "", options.master);

  std::map<std::pair<std::string, Medium>, Usage> per_node;
  std::map<Medium, Usage> per_medium;
  for (const SegmentInfo& s : info->segments) {
    per_node[{s.node_id, s.medium}].Add(s);
    per_medium[s.medium].Add(s);
  }
  std::set<std::string> nodes;
  for (const SegmentInfo& s : info->segments) nodes.insert(s.node_id);
  const uint64_t lookups = info->lookups_hit + info->lookups_miss;
  std::printf("master %s\n", options.master.c_str());
  std::printf("nodes: %zu  segments: %zu  objects: %llu  below replica target: %llu\n",
              nodes.size(), info->segments.size(), static_cast<unsigned long long>(info->objects),
              static_cast<unsigned long long>(info->objects_below_replica_target));
  std::printf("lookups: %llu hit, %llu miss, hit rate %s\n",
              static_cast<unsigned long long>(info->lookups_hit),
              static_cast<unsigned long long>(info->lookups_miss),
              Percent(info->lookups_hit, lookups).c_str());
  std::printf(
      "re-replication: %llu in flight; since start %llu scheduled, %llu completed, %llu "
      "failed, %llu timed out, %llu cancelled\n",
      static_cast<unsigned long long>(info->repairs_in_flight),
      static_cast<unsigned long long>(info->repairs.scheduled),
      static_cast<unsigned long long>(info->repairs.completed),
      static_cast<unsigned long long>(info->repairs.failed),
      static_cast<unsigned long long>(info->repairs.timed_out),
      static_cast<unsigned long long>(info->repairs.cancelled));
  std::fputs(FormatIntegrity(info->integrity).c_str(), stdout);
  PrintTiers(*info, per_medium);

  std::printf("\nper node and medium:\n  %-24s %-6s %8s %12s %12s %7s\n", "node", "medium",
              "segments", "used", "capacity", "use");
  for (const auto& [key, usage] : per_node) PrintUsageRow(key.first, MediumName(key.second), usage);
  for (const auto& [medium, usage] : per_medium)
    PrintUsageRow("(all nodes)", MediumName(medium), usage);

  std::printf("\nsegments:\n  %-24s %-24s %-6s %12s %12s %7s\n", "segment", "node", "medium",
              "used", "capacity", "use");
  for (const SegmentInfo& s : info->segments) {
    std::printf("  %-24s %-24s %-6s %12s %12s %7s%s\n", s.name.c_str(), s.node_id.c_str(),
                MediumName(s.medium), FormatSize(s.used).c_str(), FormatSize(s.capacity).c_str(),
                Percent(s.used, s.capacity).c_str(), s.draining ? "  draining" : "");
  }
  return Outcome::Ok();
}

}  // namespace mooncake::cli
