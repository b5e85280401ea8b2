#include "node/node_metrics.h"

#include <string>
#include <utility>

namespace mooncake::node {

Result<std::unique_ptr<NodeMetricsServer>> NodeMetricsServer::Start(const std::string& host,
                                                                    uint16_t port,
                                                                    const StorageNode& node) {
  std::unique_ptr<NodeMetricsServer> metrics(new NodeMetricsServer());
  const Labels segment{{"segment", node.segment_name()}};
  // The SSD segment's series (--ssd_path) carry its own name.
  const std::string ssd_name = node.ssd_segment_name();
  metrics->registry_.AddGaugeCallback(
      "mooncake_node_bytes", "Segment capacity and bytes held by the objects in its manifest.",
      [&node, segment, ssd_name](GaugeEmitter& out) {
        const StorageNode::Stats stats = node.stats();
        auto emit = [&out](const Labels& labels, uint64_t capacity_bytes, uint64_t object_bytes) {
          Labels capacity = labels;
          capacity.emplace_back("kind", "capacity");
          out.Emit(std::move(capacity), static_cast<double>(capacity_bytes));
          Labels used = labels;
          used.emplace_back("kind", "objects");
          out.Emit(std::move(used), static_cast<double>(object_bytes));
        };
        emit(segment, stats.segment_bytes, stats.object_bytes);
        if (!ssd_name.empty())
          emit({{"segment", ssd_name}}, stats.ssd_bytes, stats.ssd_object_bytes);
      });
  metrics->registry_.AddGaugeCallback(
      "mooncake_node_objects", "Objects in the node's manifest.",
      [&node, segment, ssd_name](GaugeEmitter& out) {
        const StorageNode::Stats stats = node.stats();
        out.Emit(segment, static_cast<double>(stats.objects));
        if (!ssd_name.empty()) {
          out.Emit({{"segment", ssd_name}}, static_cast<double>(stats.ssd_objects));
        }
      });
  if (!ssd_name.empty()) {
    metrics->registry_.AddGaugeCallback(
        "mooncake_node_ssd",
        "SSD tier: records the start-up scan found, its duration, and "
        "header writes/erasures that failed since start, and the fdatasync calls that made "
        "applied header changes durable (--ssd_sync).",
        [&node](GaugeEmitter& out) {
          const StorageNode::Stats stats = node.stats();
          out.Emit({{"what", "scanned_records"}}, static_cast<double>(stats.ssd_scanned_records));
          out.Emit({{"what", "scan_ms"}}, static_cast<double>(stats.ssd_scan_ms));
          out.Emit({{"what", "header_errors"}}, static_cast<double>(stats.ssd_header_errors));
          out.Emit({{"what", "syncs"}}, static_cast<double>(stats.ssd_syncs));
        });
  }
  metrics->registry_.AddGaugeCallback(
      "mooncake_node_events_total",
      "Since start: heartbeats answered / failed, re-mounts, manifest changes applied.",
      [&node](GaugeEmitter& out) {
        const StorageNode::Stats stats = node.stats();
        out.Emit({{"event", "heartbeat_ok"}}, static_cast<double>(stats.heartbeats_ok));
        out.Emit({{"event", "heartbeat_failed"}}, static_cast<double>(stats.heartbeats_failed));
        out.Emit({{"event", "remount"}}, static_cast<double>(stats.remounts));
        out.Emit({{"event", "manifest_change"}}, static_cast<double>(stats.manifest_changes));
      });

  metrics->registry_.AddGaugeCallback(
      "mooncake_node_copies_total",
      "Copy tasks (re-replication, drain) run since start, by result.", [&node](GaugeEmitter& out) {
        const StorageNode::Stats stats = node.stats();
        out.Emit({{"result", "ok"}}, static_cast<double>(stats.copies_ok));
        out.Emit({{"result", "failed"}}, static_cast<double>(stats.copies_failed));
      });
  metrics->registry_.AddGaugeCallback(
      "mooncake_node_copy_bytes_total", "Object bytes copied into the segment by copy tasks.",
      [&node](GaugeEmitter& out) { out.Emit({}, static_cast<double>(node.stats().copy_bytes)); });
  metrics->registry_.AddGaugeCallback(
      "mooncake_node_uploads",
      "Write-back uploads to the object store: run since start by result, bytes uploaded, and "
      "waiting or running now (queue depth).",
      [&node](GaugeEmitter& out) {
        const StorageNode::Stats stats = node.stats();
        out.Emit({{"what", "ok"}}, static_cast<double>(stats.uploads_ok));
        out.Emit({{"what", "failed"}}, static_cast<double>(stats.uploads_failed));
        out.Emit({{"what", "bytes"}}, static_cast<double>(stats.upload_bytes));
        out.Emit({{"what", "queued"}}, static_cast<double>(stats.uploads_queued));
      });
  metrics->registry_.AddGaugeCallback(
      "mooncake_node_peer_bytes_total",
      "Bytes moved per peer since start: served_read/served_write = what the peer read from / "
      "wrote to this node over TCP; read/write = what this node's copies read from / wrote to "
      "the peer. Shared-memory (same host) and UCX transfers are one-sided and not seen here.",
      [&node](GaugeEmitter& out) {
        for (const transfer::PeerTransferStats& p : node.peer_stats()) {
          const std::pair<const char*, uint64_t> values[] = {
              {"served_read", p.served_bytes_read},
              {"served_write", p.served_bytes_written},
              {"read", p.bytes_read},
              {"write", p.bytes_written}};
          for (const auto& [direction, bytes] : values) {
            if (bytes == 0) continue;
            out.Emit({{"peer", p.peer}, {"direction", direction}}, static_cast<double>(bytes));
          }
        }
      });
  metrics->registry_.AddGaugeCallback(
      "mooncake_node_peer_transfers_total",
      "Transfers this node started to each peer (copy tasks' reads), by outcome.",
      [&node](GaugeEmitter& out) {
        for (const transfer::PeerTransferStats& p : node.peer_stats()) {
          if (p.tasks_completed + p.tasks_failed == 0) continue;
          out.Emit({{"peer", p.peer}, {"result", "ok"}}, static_cast<double>(p.tasks_completed));
          out.Emit({{"peer", p.peer}, {"result", "failed"}}, static_cast<double>(p.tasks_failed));
        }
      });
  metrics->registry_.AddGaugeCallback(
      "mooncake_node_draining", "1 once the node has begun draining (leaving), else 0.",
      [&node](GaugeEmitter& out) { out.Emit({}, node.stats().draining ? 1.0 : 0.0); });

  HttpServerOptions options;
  options.host = host;
  options.port = port;
  options.name = "node metrics";
  MC_ASSIGN_OR_RETURN(metrics->server_, HttpServer::Create(options));
  MetricsRegistry& registry = metrics->registry_;
  metrics->server_->Handle("/metrics", [&registry](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                        registry.RenderPrometheus()};
  });
  metrics->server_->Handle("/health", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
  });
  MC_RETURN_IF_ERROR(metrics->server_->Start());
  return metrics;
}

NodeMetricsServer::~NodeMetricsServer() {
  if (server_) server_->Stop();
}

uint16_t NodeMetricsServer::port() const { return server_->port(); }

}  // namespace mooncake::node
