// mooncake_node: contributes one DRAM segment (and optionally an SSD one) to a Mooncake Store
// pool.
//   mooncake_node --master=127.0.0.1:50051 --listen=127.0.0.1:13001 --segment_size=4GiB
//       [--ssd_path=/data/mc.ssd --ssd_size=64GiB]
// Prints "READY node=… segment=… size=… epoch=… metrics_port=…" once mounted (metrics_port 0:
// no metrics server). SIGTERM/SIGINT drain first (the master copies away every object only
// this node holds; bounded by --drain_timeout; prints "DRAINED remaining=N ms=T"), then
// unmount and exit ("STOPPED").

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "apps/common/app_flags.h"
#include "common/auth/open_bind.h"
#include "common/logging.h"
#include "common/shutdown_signals.h"
#include "mooncake/common/size.h"
#include "node/node_metrics.h"
#include "node/storage_node.h"
#include "tier/object_store_credentials.h"

namespace mooncake::node {
namespace {

int Run(int argc, char** argv) {
  StorageNodeOptions options;
  options.listen = "127.0.0.1:0";
  std::string segment_size = "1GiB";
  int heartbeat_ms = 500;
  double drain_timeout_s = 30;
  int copy_parallelism = 4;
  int upload_parallelism = 4;
  int metrics_port = -1;
  std::string metrics_host;  // "": 127.0.0.1 without a cluster secret, 0.0.0.0 with one
  CLI::App app{"Mooncake Store storage node: contributes DRAM to the pool"};
  app::AppFlags common(app, "mooncake_node", LogLevel::kInfo);
  app.add_option("--master", options.master_address, "host:port of mooncake_master")->required();
  app.add_option("--listen", options.listen, "Transfer Engine host:port (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--segment_size", segment_size, "DRAM contributed, e.g. 4GiB")
      ->capture_default_str();
  app.add_option("--node_id", options.node_id, "Stable node id (default: the listen address)");
  std::string ssd_size = "0";
  app.add_option("--ssd_path", options.ssd_path,
                 "SSD tier: a file (created, sparse) or block device mounted as a second "
                 "segment, medium SSD; objects on it survive a restart on the same path");
  app.add_option("--ssd_size", ssd_size, "Bytes of --ssd_path used, e.g. 64GiB (4 KiB multiple)")
      ->capture_default_str();
  app.add_option("--ssd_sync", options.ssd_sync,
                 "fdatasync the SSD file after each batch of object headers written or erased, "
                 "before the master hears of it (false: page cache only; a power loss may then "
                 "lose recent objects or bring removed ones back)")
      ->capture_default_str();
  app.add_option("--metadata_server", options.metadata_server, "P2PHANDSHAKE or etcd://host:port")
      ->capture_default_str();
  app.add_option("--protocol", options.protocol, "Transfer Engine protocol")->capture_default_str();
  app.add_option("--heartbeat_interval_ms", heartbeat_ms, "Heartbeat period")
      ->check(CLI::Range(10, 60000))
      ->capture_default_str();
  app.add_option("--drain_timeout", drain_timeout_s,
                 "On SIGTERM/SIGINT, wait up to this long (s) for the master to copy away what "
                 "only this node holds before unmounting (0: leave at once)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--copy_parallelism", copy_parallelism,
                 "Re-replication copies this node runs at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--upload_parallelism", upload_parallelism,
                 "Write-back uploads this node runs at once (the master's "
                 "--object_store_policy=write-back; credentials from AWS_ACCESS_KEY_ID, "
                 "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  std::string upload_memory = "1GiB";
  app.add_option("--upload_memory", upload_memory,
                 "Object bytes the running write-back uploads may hold in memory together "
                 "(one larger object still runs, alone)")
      ->capture_default_str();
  app.add_option("--metrics_port", metrics_port,
                 "HTTP port of /metrics and /health (-1: off, the default; 0: any free port)")
      ->check(CLI::Range(-1, 65535))
      ->capture_default_str();
  app.add_option("--metrics_host", metrics_host,
                 "Address the metrics server listens on (default: 127.0.0.1 without "
                 "--auth_secret_file, 0.0.0.0 with it)");
  if (std::optional<int> exit_code = common.Parse(argc, argv)) return *exit_code;

  auto size = ParseSize(segment_size);
  if (!size.ok()) {
    std::fprintf(stderr, "mooncake_node: --segment_size: %s\n", size.status().ToString().c_str());
    return 2;
  }
  options.segment_size = *size;
  if (!options.ssd_path.empty()) {
    auto ssd = ParseSize(ssd_size);
    if (!ssd.ok()) {
      std::fprintf(stderr, "mooncake_node: --ssd_size: %s\n", ssd.status().ToString().c_str());
      return 2;
    }
    options.ssd_size = *ssd;
  }
  options.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  options.copy_parallelism = static_cast<size_t>(copy_parallelism);
  options.upload_parallelism = static_cast<size_t>(upload_parallelism);
  auto upload_bytes = ParseSize(upload_memory);
  if (!upload_bytes.ok() || *upload_bytes == 0) {
    std::fprintf(stderr, "mooncake_node: --upload_memory '%s': %s\n", upload_memory.c_str(),
                 upload_bytes.ok() ? "must be > 0" : upload_bytes.status().ToString().c_str());
    return 2;
  }
  options.upload_memory = *upload_bytes;
  options.object_store_credentials = tier::CredentialsFromEnvironment();
  options.auth_secret = common.auth_secret();
  if (metrics_host.empty()) metrics_host = auth::DefaultListenHost(options.auth_secret.get());

  BlockShutdownSignals();

  auto node = StorageNode::Create(options);
  if (!node.ok()) {
    std::fprintf(stderr, "mooncake_node: %s\n", node.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<NodeMetricsServer> metrics;
  if (metrics_port >= 0) {
    auto started =
        NodeMetricsServer::Start(metrics_host, static_cast<uint16_t>(metrics_port), **node);
    if (!started.ok()) {
      std::fprintf(stderr, "mooncake_node: %s\n", started.status().ToString().c_str());
      (*node)->Stop();
      return 1;
    }
    metrics = std::move(*started);
  }
  // One warning for every address this node serves on, when it has no secret.
  std::vector<std::string> listening = {(*node)->segment_name()};
  if (metrics) listening.push_back(metrics_host + ":" + std::to_string(metrics->port()));
  auth::WarnIfOpen("mooncake_node", listening, options.auth_secret.get());
  const StorageNode::Stats stats = (*node)->stats();
  std::printf(
      "READY node=%s segment=%s size=%llu epoch=%llu metrics_port=%u ssd_segment=%s "
      "ssd_size=%llu ssd_recovered=%llu ssd_scan_ms=%llu\n",
      (*node)->node_id().c_str(), (*node)->segment_name().c_str(),
      static_cast<unsigned long long>(options.segment_size),
      static_cast<unsigned long long>((*node)->epoch()),
      metrics ? static_cast<unsigned>(metrics->port()) : 0u,
      options.ssd_path.empty() ? "-" : (*node)->ssd_segment_name().c_str(),
      static_cast<unsigned long long>(options.ssd_size),
      static_cast<unsigned long long>(stats.ssd_objects),
      static_cast<unsigned long long>(stats.ssd_scan_ms));
  std::fflush(stdout);
  const int signal = WaitForShutdownSignal();
  if (drain_timeout_s > 0) {
    MC_LOG_INFO("node got signal {}, draining (up to {} s)", signal, drain_timeout_s);
    const auto began = std::chrono::steady_clock::now();
    auto left =
        (*node)->Drain(std::chrono::milliseconds(static_cast<int64_t>(drain_timeout_s * 1000)));
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - began);
    if (!left.ok()) {
      MC_LOG_WARN("drain failed: {}; unmounting anyway", left.status().ToString());
    } else if (*left > 0) {
      MC_LOG_WARN("drain timed out with {} objects only this node holds; they are lost", *left);
    }
    std::printf("DRAINED remaining=%lld ms=%lld\n",
                left.ok() ? static_cast<long long>(*left) : -1LL,
                static_cast<long long>(took.count()));
    std::fflush(stdout);
  } else {
    MC_LOG_INFO("node got signal {}, unmounting", signal);
  }
  metrics.reset();
  (*node)->Stop();
  std::printf("STOPPED\n");
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace mooncake::node

int main(int argc, char** argv) { return mooncake::node::Run(argc, argv); }
