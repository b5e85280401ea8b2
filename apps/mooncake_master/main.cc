// mooncake_master: the object index and allocator of a Mooncake Store cluster.
//   mooncake_master --port=50051 --metrics_port=9003
//   mooncake_master --config=master.toml      (same keys as the flags, "key = value" lines)
// Prints "READY port=P metrics_port=M" once it serves; SIGTERM/SIGINT shut it down cleanly.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "apps/common/app_flags.h"
#include "common/logging.h"
#include "common/shutdown_signals.h"
#include "master/service/master_server.h"

namespace mooncake::master {
namespace {

struct Flags {
  // "": 127.0.0.1 without a cluster secret, 0.0.0.0 with one (MasterServerOptions::host).
  std::string host;
  int port = 50051;
  int metrics_port = 9003;
  int64_t default_kv_lease_ttl_ms = 5000;
  int64_t max_kv_lease_ttl_ms = 30000;
  double eviction_ratio = 0.05;
  double eviction_high_watermark_ratio = 0.95;
  double client_ttl_s = 10;
  double put_timeout_s = 30;
  int64_t max_repairs_in_flight = 256;
  double repair_timeout_s = 30;
  int64_t promote_after_hits = 2;
  double promote_hit_window_s = 60;
  int64_t tick_interval_ms = 100;
  std::string object_store;
  std::string object_store_policy;  // "" = write-through when --object_store is given
  std::string object_store_endpoint;
  std::string object_store_region = "us-east-1";
};

std::chrono::milliseconds Seconds(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

Result<MasterServerOptions> ToOptions(const Flags& f) {
  MasterServerOptions o;
  o.object_tier.url = f.object_store;
  o.object_tier.endpoint = f.object_store_endpoint;
  o.object_tier.region = f.object_store_region;
  const std::string policy = !f.object_store_policy.empty()
                                 ? f.object_store_policy
                                 : (f.object_store.empty() ? "none" : "write-through");
  MC_ASSIGN_OR_RETURN(o.object_tier.policy, ParseObjectTierPolicy(policy));
  o.host = f.host;
  o.port = static_cast<uint16_t>(f.port);
  o.metrics_port = f.metrics_port;
  o.tick_interval = std::chrono::milliseconds(f.tick_interval_ms);
  o.core.default_lease_ttl = std::chrono::milliseconds(f.default_kv_lease_ttl_ms);
  o.core.max_lease_ttl = std::chrono::milliseconds(f.max_kv_lease_ttl_ms);
  o.core.eviction_ratio = f.eviction_ratio;
  o.core.eviction_high_watermark = f.eviction_high_watermark_ratio;
  o.core.client_ttl = Seconds(f.client_ttl_s);
  o.core.put_timeout = Seconds(f.put_timeout_s);
  o.core.max_repairs_in_flight = static_cast<size_t>(f.max_repairs_in_flight);
  o.core.repair_timeout = Seconds(f.repair_timeout_s);
  o.core.promote_after_hits = static_cast<uint32_t>(f.promote_after_hits);
  o.core.promote_hit_window =
      std::chrono::milliseconds(static_cast<int64_t>(f.promote_hit_window_s * 1000));
  return o;
}

int Run(int argc, char** argv) {
  Flags f;
  CLI::App app{"Mooncake Store master: object index, allocation, leases, eviction"};
  app::AppFlags common(app, "mooncake_master", LogLevel::kInfo);
  app.set_config("--config", "", "Read flags from a file of 'key = value' lines (TOML/INI)");
  app.allow_config_extras(false);
  app.add_option("--host", f.host,
                 "Address the gRPC and HTTP servers listen on (default: 127.0.0.1 without "
                 "--auth_secret_file, 0.0.0.0 with it)");
  app.add_option("--port", f.port, "gRPC port (0 = any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--metrics_port", f.metrics_port,
                 "HTTP port for /metrics, /health and / (0 = any free port, -1 = off)")
      ->check(CLI::Range(-1, 65535))
      ->capture_default_str();
  app.add_option("--default_kv_lease_ttl", f.default_kv_lease_ttl_ms,
                 "Read lease granted by a Get, in ms")
      ->capture_default_str();
  app.add_option("--max_kv_lease_ttl", f.max_kv_lease_ttl_ms,
                 "Longest a streak of back-to-back read leases may hold an object, in ms")
      ->capture_default_str();
  app.add_option("--eviction_ratio", f.eviction_ratio,
                 "Eviction frees down to high watermark minus this fraction")
      ->capture_default_str();
  app.add_option("--eviction_high_watermark_ratio", f.eviction_high_watermark_ratio,
                 "Eviction starts when a medium is fuller than this fraction")
      ->capture_default_str();
  app.add_option("--client_ttl", f.client_ttl_s,
                 "A node silent this long (s) is declared dead and its segments unmounted")
      ->capture_default_str();
  app.add_option("--put_timeout", f.put_timeout_s,
                 "A put not ended or revoked within this long (s) is reclaimed")
      ->capture_default_str();
  app.add_option("--max_repairs_in_flight", f.max_repairs_in_flight,
                 "Copies of under-replicated or draining objects in flight at once (0 = no "
                 "re-replication)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--repair_timeout", f.repair_timeout_s,
                 "A copy not reported within this long (s) is abandoned and scheduled again")
      ->capture_default_str();
  app.add_option("--promote_after_hits", f.promote_after_hits,
                 "Copy an object found only on SSD to DRAM after this many reads of it (0 = no "
                 "promotion)")
      ->check(CLI::Range(int64_t{0}, int64_t{255}))
      ->capture_default_str();
  app.add_option("--promote_hit_window", f.promote_hit_window_s,
                 "SSD hits decay: a read more than this long (s) after the object's previous "
                 "lookup starts its hit count over (0 = hits never age)")
      ->check(CLI::Range(0.0, 30.0 * 24 * 3600))
      ->capture_default_str();
  app.add_option("--tick_interval", f.tick_interval_ms, "Period of the master's timers, in ms")
      ->capture_default_str();
  app.add_option("--object_store", f.object_store,
                 "Object-storage tier clients use: s3://bucket[/prefix] or file:///dir (default: "
                 "none). Data never flows through the master; each client brings credentials "
                 "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)");
  app.add_option("--object_store_policy", f.object_store_policy,
                 "write-through (default with --object_store: a put is uploaded before it is "
                 "acknowledged) | write-back (storage nodes upload after the put is acknowledged: "
                 "an object whose nodes are all lost before its upload is lost) | none");
  app.add_option("--object_store_endpoint", f.object_store_endpoint,
                 "S3-compatible server, e.g. http://127.0.0.1:4568 (default: AWS)");
  app.add_option("--object_store_region", f.object_store_region, "S3 signing region")
      ->capture_default_str();
  if (std::optional<int> exit_code = common.Parse(argc, argv)) return *exit_code;

  BlockShutdownSignals();

  auto options = ToOptions(f);
  if (!options.ok()) {
    std::fprintf(stderr, "mooncake_master: %s\n", options.status().ToString().c_str());
    return 2;
  }
  options->auth_secret = common.auth_secret();
  auto server = MasterServer::Create(std::move(*options));
  if (!server.ok()) {
    std::fprintf(stderr, "mooncake_master: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("READY port=%u metrics_port=%u\n", (*server)->port(), (*server)->metrics_port());
  std::fflush(stdout);

  const int signal = WaitForShutdownSignal();
  MC_LOG_INFO("master got signal {}, shutting down", signal);
  (*server)->Shutdown();
  std::printf("STOPPED\n");
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace mooncake::master

int main(int argc, char** argv) { return mooncake::master::Run(argc, argv); }
