// tier_copy_bench: demotion (DRAM -> SSD) and promotion (SSD -> DRAM) throughput of a running
// cluster of one master and one node with an SSD segment, for bench/tier_bench.sh (which starts
// the cluster and measures fio next to it).
//   tier_copy_bench --master=127.0.0.1:50051 --object_size=4MiB --high_watermark=0.9
//
// Demotion: puts objects until DRAM is just past the high watermark — all but the last one
// first, then (once the master is quiet) the last one alone, so no put runs while the master
// demotes — then polls GetClusterInfo until every demotion it scheduled has ended. Figure:
// demoted bytes / time from the first poll that sees a demotion scheduled to the first that sees
// the last one done (also printed: from the last put's return, which adds the tick's wait).
// Promotion: looks up every key the master now holds on SSD only, --promote_after_hits times
// in quick batch lookups (GetReplicaList counts a hit and reads no bytes), then polls the same
// way for the promotions. Finally every object is read back and compared.
// Object bytes are counted (not the SSD header block or the padding to 4 KiB). "steady" rates
// count only the copies done after the first poll that saw one done: they leave out the wait
// for the node to get its tasks (a heartbeat) and the first copy's latency.
// Last line: RESULT objects=… object_bytes=… demoted=… demote_s=… demote_MBps=…
//            demote_steady_MBps=… demote_from_put_s=… promoted=… promote_s=… promote_MBps=…
//            promote_steady_MBps=… promote_from_hit_s=… promote_first_done_s=… complete=0|1
//            (MB = 1e6 B)

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "apps/common/app_flags.h"
#include "common/logging.h"
#include "master/client/master_client.h"
#include "mooncake/common/size.h"
#include "mooncake/store/client.h"

namespace mooncake::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string master = "127.0.0.1:50051";
  uint64_t object_size = 4 << 20;
  double high_watermark = 0.95;  // the master's --eviction_high_watermark_ratio
  int promote_after_hits = 2;    // the master's --promote_after_hits
  std::chrono::milliseconds poll{5};
  std::chrono::milliseconds deadline{60000};
  size_t batch = 8;    // objects per BatchPutFrom
  bool trace = false;  // print every poll (steady clock, µs) to stderr
  std::string prefix = "tcb/";
  std::string protocol = "auto";  // the store client's Transfer Engine protocol
  // The cluster secret (--auth_secret_file), for both clients; null: none.
  std::shared_ptr<const auth::ClusterSecret> auth_secret;
};

struct Tier {
  uint64_t dram_capacity = 0;
  uint64_t dram_used = 0;
  uint64_t repairs_in_flight = 0;
  TierStats stats;
};

Result<Tier> Sample(master::MasterClient& master) {
  MC_ASSIGN_OR_RETURN(ClusterInfo info, master.GetClusterInfo());
  Tier tier;
  for (const SegmentInfo& segment : info.segments) {
    if (segment.medium != Medium::kDram) continue;
    tier.dram_capacity += segment.capacity;
    tier.dram_used += segment.used;
  }
  tier.repairs_in_flight = info.repairs_in_flight;
  tier.stats = info.tier;
  return tier;
}

// When a burst of copies began and ended, as seen by polling.
struct Burst {
  uint64_t done = 0;    // copies completed in the burst
  uint64_t failed = 0;  // copies failed in the burst
  Clock::time_point first_seen{};
  Clock::time_point last_seen{};
  // The first poll that saw a copy done, and how many it saw: from there on the copies run at
  // their steady rate (no task delivery, no first copy's latency).
  Clock::time_point first_done_seen{};
  uint64_t first_done = 0;
  bool timed_out = false;
  // Ended by kSettle: fewer copies than expected (see Watch).
  bool settled = false;
};

// Polls until the burst is over: every copy scheduled has ended, none is in flight, and
// `finished(tier, scheduled)` agrees — or, failing that, nothing changed for `kSettle` (the
// master scheduled fewer copies than expected: the end is then the last change seen).
// `counts` picks (scheduled, completed, failed) out of the tier counters.
constexpr auto kSettle = std::chrono::milliseconds(500);

Result<Burst> Watch(master::MasterClient& master, const Options& options, const Tier& before,
                    const std::function<std::array<uint64_t, 3>(const TierStats&)>& counts,
                    const std::function<bool(const Tier&, uint64_t scheduled)>& finished) {
  const auto base = counts(before.stats);
  const auto give_up = Clock::now() + options.deadline;
  Burst burst;
  bool seen = false;
  std::array<uint64_t, 3> last{base};
  Clock::time_point last_change = Clock::now();
  for (;;) {
    MC_ASSIGN_OR_RETURN(Tier tier, Sample(master));
    const auto now = Clock::now();
    const auto c = counts(tier.stats);
    const uint64_t scheduled = c[0] - base[0];
    const uint64_t ended = (c[1] - base[1]) + (c[2] - base[2]);
    if (options.trace) {
      std::fprintf(stderr, "poll t_us=%lld scheduled=%llu ended=%llu in_flight=%llu dram=%llu\n",
                   static_cast<long long>(
                       std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch())
                           .count()),
                   static_cast<unsigned long long>(scheduled),
                   static_cast<unsigned long long>(ended),
                   static_cast<unsigned long long>(tier.repairs_in_flight),
                   static_cast<unsigned long long>(tier.dram_used));
    }
    if (c != last) {
      last = c;
      last_change = now;
    }
    if (scheduled > 0 && !seen) {
      seen = true;
      burst.first_seen = now;
    }
    if (burst.first_done == 0 && c[1] > base[1]) {
      burst.first_done = c[1] - base[1];
      burst.first_done_seen = now;
    }
    burst.done = c[1] - base[1];
    burst.failed = c[2] - base[2];
    const bool idle = seen && ended == scheduled && tier.repairs_in_flight == 0;
    if (idle && finished(tier, scheduled)) {
      burst.last_seen = now;
      return burst;
    }
    if (idle && now - last_change >= kSettle) {
      burst.last_seen = last_change;
      burst.settled = true;
      return burst;
    }
    if (now >= give_up) {
      burst.last_seen = now;
      burst.timed_out = true;
      if (!seen) burst.first_seen = now;
      return burst;
    }
    std::this_thread::sleep_for(options.poll);
  }
}

// Object i's bytes: a fixed pseudo-random pattern with i in its first 8 bytes.
void FillObject(uint8_t* out, uint64_t size, uint64_t i) {
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (uint64_t off = 0; off < size; off += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out + off, &x, std::min<uint64_t>(8, size - off));
  }
  std::memcpy(out, &i, std::min<uint64_t>(8, size));
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// MB/s (1e6 B) of the copies done after the first poll that saw one done; 0 when too few.
double SteadyMBps(const Burst& burst, uint64_t object_size) {
  const double s = Seconds(burst.last_seen - burst.first_done_seen);
  if (burst.done <= burst.first_done || s <= 0) return 0;
  return static_cast<double>((burst.done - burst.first_done) * object_size) / s / 1e6;
}

int Fail(const std::string& what, const Status& status) {
  std::fprintf(stderr, "tier_copy_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

int Run(const Options& o) {
  master::MasterClientOptions master_options;
  master_options.master_address = o.master;
  master_options.auth_secret = o.auth_secret;
  auto master_or = master::MasterClient::Create(master_options);
  if (!master_or.ok()) return Fail("master client", master_or.status());
  master::MasterClient& master = **master_or;
  store::ClientOptions client_options;
  client_options.master_address = o.master;
  client_options.protocol = o.protocol;
  client_options.auth_secret = o.auth_secret;
  auto client_or = store::Client::Create(client_options);
  if (!client_or.ok()) return Fail("store client", client_or.status());
  store::Client& client = **client_or;

  // The node may still be mounting: wait (bounded) for its DRAM segment.
  auto before = Sample(master);
  for (int i = 0; i < 100 && before.ok() && before->dram_capacity == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    before = Sample(master);
  }
  if (!before.ok()) return Fail("cluster info", before.status());
  const uint64_t capacity = before->dram_capacity;
  const auto watermark = static_cast<uint64_t>(o.high_watermark * static_cast<double>(capacity));
  if (capacity == 0 || before->dram_used >= watermark) {
    std::fprintf(stderr, "tier_copy_bench: DRAM %llu of %llu bytes used: need an empty pool\n",
                 static_cast<unsigned long long>(before->dram_used),
                 static_cast<unsigned long long>(capacity));
    return 1;
  }
  // The last object takes DRAM past the watermark; all of them still fit.
  const uint64_t count = (watermark - before->dram_used) / o.object_size + 1;
  if (before->dram_used + count * o.object_size > capacity) {
    std::fprintf(stderr, "tier_copy_bench: objects of %llu bytes cannot cross the watermark\n",
                 static_cast<unsigned long long>(o.object_size));
    return 1;
  }
  std::vector<std::string> keys;
  for (uint64_t i = 0; i < count; ++i) keys.push_back(fmt::format("{}{:06}", o.prefix, i));

  std::vector<uint8_t> buffer(o.batch * o.object_size);
  if (Status s = client.RegisterBuffer(buffer.data(), buffer.size()); !s.ok()) {
    return Fail("register", s);
  }
  auto put = [&](uint64_t first, uint64_t n) -> Status {
    std::vector<std::string> batch_keys;
    std::vector<const void*> sources;
    std::vector<size_t> lengths;
    for (uint64_t j = 0; j < n; ++j) {
      uint8_t* at = buffer.data() + j * o.object_size;
      FillObject(at, o.object_size, first + j);
      batch_keys.push_back(keys[first + j]);
      sources.push_back(at);
      lengths.push_back(o.object_size);
    }
    for (const Status& s : client.BatchPutFrom(batch_keys, sources, lengths, {})) {
      MC_RETURN_IF_ERROR(s);
    }
    return Status::Ok();
  };
  for (uint64_t first = 0; first + 1 < count; first += o.batch) {
    if (Status s = put(first, std::min<uint64_t>(o.batch, count - 1 - first)); !s.ok()) {
      return Fail("put", s);
    }
  }
  // Below the watermark nothing may be scheduled; let the master settle, then cross it.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto quiet = Sample(master);
  if (!quiet.ok()) return Fail("cluster info", quiet.status());
  if (Status s = put(count - 1, 1); !s.ok()) return Fail("put", s);
  const auto crossed = Clock::now();

  auto demotions = [](const TierStats& t) {
    return std::array<uint64_t, 3>{t.demotions_scheduled, t.demotions_completed,
                                   t.demotions_failed};
  };
  auto demoted = Watch(master, o, *quiet, demotions,
                       [&](const Tier& tier, uint64_t) { return tier.dram_used <= watermark; });
  if (!demoted.ok()) return Fail("watching demotions", demoted.status());
  const double demote_s = Seconds(demoted->last_seen - demoted->first_seen);
  const double demote_bytes = static_cast<double>(demoted->done * o.object_size);
  std::printf(
      "demotion: %llu objects of %llu B (%.1f MiB) in %.3f s = %.1f MB/s "
      "(steady %.1f MB/s; %.3f s from the last put; %llu failed%s)\n",
      static_cast<unsigned long long>(demoted->done),
      static_cast<unsigned long long>(o.object_size), demote_bytes / (1 << 20), demote_s,
      demote_s > 0 ? demote_bytes / demote_s / 1e6 : 0, SteadyMBps(*demoted, o.object_size),
      Seconds(demoted->last_seen - crossed), static_cast<unsigned long long>(demoted->failed),
      demoted->timed_out ? ", TIMED OUT"
      : demoted->settled ? ", fewer than expected"
                         : "");

  // Promotion: every SSD-only key gets promote_after_hits lookups, back to back.
  auto settled = Sample(master);
  if (!settled.ok()) return Fail("cluster info", settled.status());
  std::vector<std::string> on_ssd;
  for (int hit = 0; hit < o.promote_after_hits; ++hit) {
    auto replies = master.BatchGetReplicaList(hit == 0 ? keys : on_ssd);
    if (!replies.ok()) return Fail("lookup", replies.status());
    if (hit > 0) continue;
    for (size_t i = 0; i < replies->size(); ++i) {
      const auto& reply = (*replies)[i];
      if (!reply.ok()) return Fail("lookup of " + keys[i], reply.status());
      bool ssd_only = !reply->replicas.empty();
      for (const ReplicaLocation& r : reply->replicas) ssd_only &= r.medium == Medium::kSsd;
      if (ssd_only) on_ssd.push_back(keys[i]);
    }
  }
  const auto hit = Clock::now();
  if (o.trace) {
    std::fprintf(
        stderr, "lookups done t_us=%lld ssd_only=%zu\n",
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::microseconds>(hit.time_since_epoch()).count()),
        on_ssd.size());
  }
  // Promotion stops where DRAM would pass the watermark.
  const uint64_t room = watermark > settled->dram_used ? watermark - settled->dram_used : 0;
  const uint64_t expected = std::min<uint64_t>(on_ssd.size(), room / o.object_size);
  if (expected == 0) {
    std::fprintf(stderr,
                 "tier_copy_bench: nothing to promote (%zu SSD-only objects, %llu bytes "
                 "of DRAM below the watermark)\n",
                 on_ssd.size(), static_cast<unsigned long long>(room));
    return 1;
  }
  auto promotions = [](const TierStats& t) {
    return std::array<uint64_t, 3>{t.promotions_scheduled, t.promotions_completed,
                                   t.promotions_failed};
  };
  auto promoted = Watch(master, o, *settled, promotions,
                        [&](const Tier&, uint64_t scheduled) { return scheduled >= expected; });
  if (!promoted.ok()) return Fail("watching promotions", promoted.status());
  const double promote_s = Seconds(promoted->last_seen - promoted->first_seen);
  const double promote_bytes = static_cast<double>(promoted->done * o.object_size);
  std::printf(
      "promotion: %llu of %zu SSD-only objects (%llu expected) (%.1f MiB) in %.3f s = "
      "%.1f MB/s (steady %.1f MB/s; %.3f s from the last lookup; %llu failed%s)\n",
      static_cast<unsigned long long>(promoted->done), on_ssd.size(),
      static_cast<unsigned long long>(expected), promote_bytes / (1 << 20), promote_s,
      promote_s > 0 ? promote_bytes / promote_s / 1e6 : 0, SteadyMBps(*promoted, o.object_size),
      Seconds(promoted->last_seen - hit), static_cast<unsigned long long>(promoted->failed),
      promoted->timed_out ? ", TIMED OUT"
      : promoted->settled ? ", fewer than expected"
                          : "");

  // Every object reads back as put (from DRAM or SSD).
  std::vector<uint8_t> expect(o.object_size);
  for (uint64_t i = 0; i < count; ++i) {
    auto got = client.GetInto(keys[i], buffer.data(), o.object_size);
    if (!got.ok()) return Fail("read back " + keys[i], got.status());
    FillObject(expect.data(), o.object_size, i);
    if (*got != o.object_size || std::memcmp(buffer.data(), expect.data(), o.object_size) != 0) {
      std::fprintf(stderr, "tier_copy_bench: %s reads back different bytes\n", keys[i].c_str());
      return 1;
    }
  }
  client.UnregisterBuffer(buffer.data()).IgnoreError();
  const bool complete = !demoted->timed_out && !promoted->timed_out && demoted->failed == 0 &&
                        promoted->failed == 0 && demoted->done > 0 && promoted->done > 0;
  std::printf("read back: %llu objects, all equal\n", static_cast<unsigned long long>(count));
  std::printf(
      "RESULT objects=%llu object_bytes=%llu demoted=%llu demote_s=%.4f demote_MBps=%.1f "
      "demote_steady_MBps=%.1f demote_from_put_s=%.4f promoted=%llu promote_s=%.4f "
      "promote_MBps=%.1f promote_steady_MBps=%.1f promote_from_hit_s=%.4f "
      "promote_first_done_s=%.4f complete=%d\n",
      static_cast<unsigned long long>(count), static_cast<unsigned long long>(o.object_size),
      static_cast<unsigned long long>(demoted->done), demote_s,
      demote_s > 0 ? demote_bytes / demote_s / 1e6 : 0, SteadyMBps(*demoted, o.object_size),
      Seconds(demoted->last_seen - crossed), static_cast<unsigned long long>(promoted->done),
      promote_s, promote_s > 0 ? promote_bytes / promote_s / 1e6 : 0,
      SteadyMBps(*promoted, o.object_size), Seconds(promoted->last_seen - hit),
      Seconds(promoted->first_done_seen - promoted->first_seen), complete ? 1 : 0);
  return complete ? 0 : 1;
}

}  // namespace
}  // namespace mooncake::bench

int main(int argc, char** argv) {
  using namespace mooncake;
  bench::Options o;
  std::string object_size = "4MiB";
  int poll_ms = 5;
  double deadline_s = 60;
  CLI::App app{"Demotion and promotion throughput of a one-node cluster with an SSD segment"};
  app::AppFlags common(app, "tier_copy_bench", LogLevel::kWarn);
  app.add_option("--master", o.master, "host:port of mooncake_master")->capture_default_str();
  app.add_option("--object_size", object_size, "Bytes per object")->capture_default_str();
  app.add_option("--high_watermark", o.high_watermark,
                 "The master's --eviction_high_watermark_ratio")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
  app.add_option("--promote_after_hits", o.promote_after_hits, "The master's --promote_after_hits")
      ->check(CLI::Range(1, 255))
      ->capture_default_str();
  app.add_option("--poll_ms", poll_ms, "GetClusterInfo period while watching copies")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--deadline_s", deadline_s, "Longest wait for each burst of copies")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--protocol", o.protocol, "Store client protocol: auto|tcp|shm")
      ->check(CLI::IsMember({"auto", "tcp", "shm"}))
      ->capture_default_str();
  app.add_flag("--trace", o.trace, "Print every poll (steady clock in µs) to stderr");
  if (std::optional<int> exit_code = common.Parse(argc, argv)) return *exit_code;
  auto size = ParseSize(object_size);
  if (!size.ok() || *size == 0) {
    std::fprintf(stderr, "tier_copy_bench: --object_size '%s': %s\n", object_size.c_str(),
                 size.ok() ? "must be > 0" : size.status().ToString().c_str());
    return 2;
  }
  o.object_size = *size;
  o.auth_secret = common.auth_secret();
  o.poll = std::chrono::milliseconds(poll_ms);
  o.deadline = std::chrono::milliseconds(static_cast<int64_t>(deadline_s * 1000));
  return bench::Run(o);
}
