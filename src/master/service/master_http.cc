#include "master/service/master_http.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "common/http/http_server.h"
#include "master/service/status_page.h"

namespace mooncake::master {
namespace {

// Everything the gauges and the status page need, copied under the service lock in one go.
struct CoreSnapshot {
  std::vector<SegmentInfo> segments;
  size_t objects = 0;
  size_t below_target = 0;
  size_t deferred_frees = 0;
  EvictionStats eviction;
  size_t repairs_in_flight = 0;
  RepairStats repairs;
  TierStats tier;
  IntegrityStats integrity;
  // The object tier's policy name; "" without one.
  std::string object_tier_policy;
};

CoreSnapshot TakeSnapshot(MasterServiceImpl& service) {
  const ObjectTierConfig& object_tier = service.object_tier();
  return service.WithCore([&object_tier](MasterCore& core) {
    CoreSnapshot s;
    s.segments = core.segment_pool().List();
    s.objects = core.ObjectCount();
    s.below_target = core.ObjectsBelowReplicaTarget();
    s.deferred_frees = core.DeferredFreeCount();
    s.eviction = core.eviction_stats();
    s.repairs_in_flight = core.RepairsInFlight();
    s.repairs = core.repair_stats();
    s.tier = core.tier_stats();
    s.integrity = core.integrity_stats();
    if (!object_tier.url.empty()) s.object_tier_policy = ObjectTierPolicyName(object_tier.policy);
    return s;
  });
}

std::vector<std::pair<std::string, uint64_t>> EvictionCounters(const EvictionStats& e) {
  return {{"runs", e.runs},
          {"evicted_objects", e.evicted_objects},
          {"evicted_bytes", e.evicted_bytes},
          {"skipped_leased", e.skipped_leased},
          {"skipped_pinned", e.skipped_pinned},
          {"skipped_in_flight", e.skipped_in_flight},
          {"skipped_not_uploaded", e.skipped_not_uploaded}};
}

std::vector<std::pair<std::string, uint64_t>> RepairCounters(const RepairStats& r) {
  return {{"scheduled", r.scheduled}, {"completed", r.completed},
          {"failed", r.failed},       {"timed_out", r.timed_out},
          {"cancelled", r.cancelled}, {"no_destination", r.no_destination}};
}

void EmitCoreGauges(const CoreSnapshot& s, GaugeEmitter& out) {
  out.Emit({{"what", "objects"}}, static_cast<double>(s.objects));
  out.Emit({{"what", "objects_below_replica_target"}}, static_cast<double>(s.below_target));
  out.Emit({{"what", "deferred_frees"}}, static_cast<double>(s.deferred_frees));
  out.Emit({{"what", "segments"}}, static_cast<double>(s.segments.size()));
  out.Emit({{"what", "repairs_in_flight"}}, static_cast<double>(s.repairs_in_flight));
  const auto draining = std::count_if(s.segments.begin(), s.segments.end(),
                                      [](const SegmentInfo& seg) { return seg.draining; });
  out.Emit({{"what", "draining_segments"}}, static_cast<double>(draining));
}

void EmitSegmentGauges(const CoreSnapshot& s, GaugeEmitter& out) {
  for (const SegmentInfo& seg : s.segments) {
    const Labels base = {
        {"segment", seg.name}, {"node", seg.node_id}, {"medium", MediumName(seg.medium)}};
    Labels used = base;
    used.emplace_back("kind", "used");
    Labels capacity = base;
    capacity.emplace_back("kind", "capacity");
    out.Emit(std::move(used), static_cast<double>(seg.used));
    out.Emit(std::move(capacity), static_cast<double>(seg.capacity));
  }
}

void EmitMediumGauges(const CoreSnapshot& s, GaugeEmitter& out) {
  for (Medium medium : {Medium::kDram, Medium::kVram, Medium::kSsd}) {
    uint64_t used = 0;
    uint64_t capacity = 0;
    for (const SegmentInfo& seg : s.segments) {
      if (seg.medium != medium) continue;
      used += seg.used;
      capacity += seg.capacity;
    }
    out.Emit({{"medium", MediumName(medium)}, {"kind", "used"}}, static_cast<double>(used));
    out.Emit({{"medium", MediumName(medium)}, {"kind", "capacity"}}, static_cast<double>(capacity));
  }
}

// Resident set size of this process from /proc/self/statm; 0 when unreadable.
double ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  const int n = std::fscanf(f, "%llu %llu", &size_pages, &resident_pages);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<double>(resident_pages) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

std::string FormatTime(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

MasterStatusSnapshot BuildStatusSnapshot(const CoreSnapshot& core, const MasterMetrics& metrics,
                                         std::chrono::steady_clock::time_point started) {
  MasterStatusSnapshot page;
  page.uptime_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
          .count();
  page.objects = core.objects;
  for (const SegmentInfo& seg : core.segments) {
    page.segments.push_back(
        {seg.name, seg.node_id, MediumName(seg.medium), seg.capacity, seg.used, seg.draining});
  }
  page.below_target = core.below_target;
  page.repairs_in_flight = core.repairs_in_flight;
  for (const auto& [name, value] : RepairCounters(core.repairs)) {
    page.repair_counters[name] = value;
  }
  for (const auto& [name, value] : EvictionCounters(core.eviction)) {
    page.eviction_counters[name] = value;
  }
  const TierHits hits =
      SplitLookupsByTier(core.tier, metrics.lookups_hit(), metrics.lookups_miss());
  page.hits_by_medium = {{MediumName(Medium::kDram), hits.dram},
                         {MediumName(Medium::kSsd), hits.ssd},
                         {MediumName(Medium::kVram), hits.vram}};
  page.object_store_reads = hits.object;
  page.misses = hits.miss;
  page.integrity_counters = {
      {"corrupt_reports", core.integrity.corrupt_reports},
      {"corrupt_replicas_dropped", core.integrity.corrupt_replicas_dropped},
      {"objects_lost_to_corruption", core.integrity.objects_lost_to_corruption}};
  for (const CorruptReplicaCounts& c : core.integrity.per_node) {
    page.corrupt_replicas.push_back({c.node, MediumName(c.medium), c.detected, c.dropped});
  }
  page.object_tier.policy = core.object_tier_policy;
  page.object_tier.uploads = core.tier.object_uploads;
  page.object_tier.upload_failures = core.tier.object_upload_failures;
  page.object_tier.backlog_objects = core.tier.upload_backlog_objects;
  page.object_tier.backlog_bytes = core.tier.upload_backlog_bytes;
  page.object_tier.uploads_in_flight = core.tier.uploads_in_flight;
  for (const MasterErrorRecord& e : metrics.RecentErrors()) {
    page.recent_errors.push_back({FormatTime(e.when), MasterRpcName(e.rpc),
                                  StatusCodeName(e.status.code()), e.status.message()});
  }
  return page;
}

}  // namespace

MasterHttp::~MasterHttp() { Stop(); }

uint16_t MasterHttp::port() const { return server_->port(); }

void MasterHttp::Stop() {
  if (server_) server_->Stop();
}

Result<std::unique_ptr<MasterHttp>> MasterHttp::Start(const std::string& host, uint16_t port,
                                                      MasterServiceImpl& service,
                                                      MetricsRegistry& registry,
                                                      MasterMetrics& metrics) {
  registry.AddGaugeCallback(
      "mooncake_master_state", "Object index state, by what is counted.",
      [&service](GaugeEmitter& out) { EmitCoreGauges(TakeSnapshot(service), out); });
  registry.AddGaugeCallback(
      "mooncake_master_segment_bytes", "Bytes used and capacity per mounted segment.",
      [&service](GaugeEmitter& out) { EmitSegmentGauges(TakeSnapshot(service), out); });
  registry.AddGaugeCallback(
      "mooncake_master_medium_bytes", "Bytes used and capacity summed per medium.",
      [&service](GaugeEmitter& out) { EmitMediumGauges(TakeSnapshot(service), out); });
  registry.AddGaugeCallback(
      "mooncake_master_eviction", "Eviction counters since start, by reason/outcome.",
      [&service](GaugeEmitter& out) {
        const EvictionStats stats =
            service.WithCore([](MasterCore& core) { return core.eviction_stats(); });
        for (const auto& [name, value] : EvictionCounters(stats)) {
          out.Emit({{"counter", name}}, static_cast<double>(value));
        }
      });

  // Re-replication counters, one family each (failed includes copies that timed out).
  auto repair_counter = [&registry, &service](const char* name, const char* help,
                                              uint64_t (*pick)(const RepairStats&)) {
    registry.AddGaugeCallback(name, help, [&service, pick](GaugeEmitter& out) {
      const RepairStats stats =
          service.WithCore([](MasterCore& core) { return core.repair_stats(); });
      out.Emit({}, static_cast<double>(pick(stats)));
    });
  };
  repair_counter("mooncake_repairs_scheduled_total",
                 "Copies of under-replicated or draining objects handed to a node since start.",
                 [](const RepairStats& r) { return r.scheduled; });
  repair_counter("mooncake_repairs_completed_total",
                 "Copies reported done and adopted as replicas since start.",
                 [](const RepairStats& r) { return r.completed; });
  repair_counter("mooncake_repairs_failed_total",
                 "Copies reported failed by their node or not reported in time, since start.",
                 [](const RepairStats& r) { return r.failed + r.timed_out; });
  repair_counter("mooncake_repairs_cancelled_total",
                 "Copies made moot while in flight (object changed, segment gone) since start.",
                 [](const RepairStats& r) { return r.cancelled; });

  // Corrupt replicas clients reported (MasterCore::ReportCorruptReplica): the totals always,
  // detections and drops per node and medium once there are any.
  auto integrity = [&service] {
    return service.WithCore([](MasterCore& core) { return core.integrity_stats(); });
  };
  registry.AddGaugeCallback("mooncake_master_corrupt_reports_total",
                            "Reports of corrupt replicas (bytes not matching the object's "
                            "checksum) accepted since start.",
                            [integrity](GaugeEmitter& out) {
                              out.Emit({}, static_cast<double>(integrity().corrupt_reports));
                            });
  registry.AddGaugeCallback(
      "mooncake_master_objects_lost_to_corruption_total",
      "Objects erased since start because their last replica was reported corrupt.",
      [integrity](GaugeEmitter& out) {
        out.Emit({}, static_cast<double>(integrity().objects_lost_to_corruption));
      });
  registry.AddGaugeCallback("mooncake_master_corrupt_replicas_detected_total",
                            "Replicas reported corrupt since start, by node and medium.",
                            [integrity](GaugeEmitter& out) {
                              for (const CorruptReplicaCounts& c : integrity().per_node) {
                                out.Emit({{"node", c.node}, {"medium", MediumName(c.medium)}},
                                         static_cast<double>(c.detected));
                              }
                            });
  registry.AddGaugeCallback(
      "mooncake_master_corrupt_replicas_dropped_total",
      "Replicas dropped since start because they were reported corrupt, by node and medium.",
      [integrity](GaugeEmitter& out) {
        for (const CorruptReplicaCounts& c : integrity().per_node) {
          out.Emit({{"node", c.node}, {"medium", MediumName(c.medium)}},
                   static_cast<double>(c.dropped));
        }
      });

  // The lower tiers: puts placed on SSD for want of DRAM, demotions, DRAM and SSD hits,
  // promotions, quarantined SSD ranges; the object tier's read-throughs and uploads.
  registry.AddGaugeCallback(
      "mooncake_master_tier",
      "DRAM, SSD and object tier counters since start (and SSD ranges quarantined now).",
      [&service](GaugeEmitter& out) {
        const auto [t, quarantined] = service.WithCore([](MasterCore& core) {
          return std::make_pair(core.tier_stats(), core.QuarantinedRanges());
        });
        const std::pair<const char*, uint64_t> counters[] = {
            {"ssd_puts", t.ssd_puts},
            {"demotions_scheduled", t.demotions_scheduled},
            {"demotions_completed", t.demotions_completed},
            {"demotions_failed", t.demotions_failed},
            {"dram_hits", t.dram_hits},
            {"ssd_hits", t.ssd_hits},
            {"promotions_scheduled", t.promotions_scheduled},
            {"promotions_completed", t.promotions_completed},
            {"promotions_failed", t.promotions_failed},
            {"ssd_quarantined_ranges", quarantined},
            {"object_read_throughs", t.object_read_throughs},
            {"object_uploads", t.object_uploads},
            {"object_upload_failures", t.object_upload_failures}};
        for (const auto& [name, value] : counters) {
          out.Emit({{"counter", name}}, static_cast<double>(value));
        }
      });
  // Write-back's backlog now (0 without write-back).
  registry.AddGaugeCallback(
      "mooncake_master_upload_backlog",
      "Write-back: visible objects not yet in the object store (objects, bytes) and uploads "
      "handed to nodes and not yet reported (in_flight).",
      [&service](GaugeEmitter& out) {
        const TierStats t = service.WithCore([](MasterCore& core) { return core.tier_stats(); });
        out.Emit({{"what", "objects"}}, static_cast<double>(t.upload_backlog_objects));
        out.Emit({{"what", "bytes"}}, static_cast<double>(t.upload_backlog_bytes));
        out.Emit({{"what", "in_flight"}}, static_cast<double>(t.uploads_in_flight));
      });
  // Every lookup once, by the tier that served it (TierHits in master_metrics.h): the hit rate
  // of a tier is its rate over the sum of the family's rates.
  registry.AddGaugeCallback(
      "mooncake_master_tier_hits_total",
      "GetReplicaList keys since start by the tier that served them: dram (a DRAM replica), "
      "ssd (SSD only), vram (VRAM only), object (a pool miss read through from the object "
      "store), miss (found nowhere).",
      [&service, &metrics](GaugeEmitter& out) {
        const TierStats t = service.WithCore([](MasterCore& core) { return core.tier_stats(); });
        const TierHits hits = SplitLookupsByTier(t, metrics.lookups_hit(), metrics.lookups_miss());
        out.Emit({{"tier", "dram"}}, static_cast<double>(hits.dram));
        out.Emit({{"tier", "ssd"}}, static_cast<double>(hits.ssd));
        out.Emit({{"tier", "vram"}}, static_cast<double>(hits.vram));
        out.Emit({{"tier", "object"}}, static_cast<double>(hits.object));
        out.Emit({{"tier", "miss"}}, static_cast<double>(hits.miss));
      });

  registry.AddGaugeCallback("process_resident_memory_bytes", "Resident memory of the master.",
                            [](GaugeEmitter& out) { out.Emit({}, ResidentBytes()); });

  HttpServerOptions options;
  options.host = host;
  options.port = port;
  options.name = "master metrics";
  MC_ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> server, HttpServer::Create(options));
  server->Handle("/metrics", [&registry](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                        registry.RenderPrometheus()};
  });
  server->Handle("/health", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
  });
  const auto started = std::chrono::steady_clock::now();
  server->Handle("/", [&service, &metrics, started](const HttpRequest&) {
    return HttpResponse{
        200, "text/html; charset=utf-8",
        RenderStatusPage(BuildStatusSnapshot(TakeSnapshot(service), metrics, started))};
  });
  MC_RETURN_IF_ERROR(server->Start());
  auto http = std::unique_ptr<MasterHttp>(new MasterHttp());
  http->server_ = std::move(server);
  return http;
}

}  // namespace mooncake::master
