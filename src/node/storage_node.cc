#include "node/storage_node.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/logging.h"
#include "master/client/master_client.h"
#include "mooncake/transfer/transfer_engine.h"

namespace mooncake {

Status StorageNodeOptions::Validate() const {
  if (master_address.empty()) return InvalidParams("node: master address is empty");
  if (listen.empty()) return InvalidParams("node: listen address is empty");
  if (segment_size == 0) return InvalidParams("node: segment_size must be > 0");
  if (heartbeat_interval.count() <= 0) return InvalidParams("node: heartbeat_interval must be > 0");
  if (rpc_timeout.count() <= 0) return InvalidParams("node: rpc_timeout must be > 0");
  return Status::Ok();
}

struct StorageNode::State {
  StorageNodeOptions options;
  std::unique_ptr<MasterClient> master;
  std::unique_ptr<TransferEngine> engine;
  SegmentSpec spec;
  std::atomic<uint64_t> remounts{0};

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread heartbeat;
  std::once_flag stop_once;

  // The objects in the segment, as the master journaled them (heartbeat thread only, except
  // under manifest_mutex for readers).
  std::mutex manifest_mutex;
  std::unordered_map<std::string, ManifestEntry> manifest;
  uint64_t manifest_bytes = 0;  // sum of the entries' lengths
  uint64_t acked_seq = 0;
  uint64_t manifest_changes = 0;
  std::atomic<uint64_t> heartbeats_ok{0};
  std::atomic<uint64_t> heartbeats_failed{0};

  bool Stopping() {
    std::lock_guard lock(mutex);
    return stopping;
  }

  // Mounts the segment announcing every object the manifest holds (none at first start; all
  // of them after a master restart), and forgets the entries the master did not adopt.
  Status Mount() {
    std::vector<ManifestEntry> entries;
    {
      std::lock_guard lock(manifest_mutex);
      entries.reserve(manifest.size());
      for (const auto& [key, entry] : manifest) entries.push_back(entry);
    }
    MC_ASSIGN_OR_RETURN(MountReport report, master->MountSegment(spec, entries));
    std::lock_guard lock(manifest_mutex);
    for (const std::string& key : report.rejected_keys) Forget(key, std::nullopt);
    acked_seq = 0;  // the master journals anew for every mount
    if (!entries.empty()) {
      MC_LOG_INFO("segment '{}' re-announced {} objects: {} adopted, {} rejected", spec.name,
                  entries.size(), report.adopted, report.rejected_keys.size());
    }
    return Status::Ok();
  }

  void Apply(const ManifestBatch& batch) {
    std::lock_guard lock(manifest_mutex);
    if (batch.first_seq > acked_seq + 1) {
      // Cannot happen with a correct master: it keeps every change until acknowledged.
      MC_LOG_ERROR("segment '{}': manifest changes {}..{} were never delivered", spec.name,
                   acked_seq + 1, batch.first_seq - 1);
    }
    // A change already applied (its acknowledgement was lost) is skipped.
    for (size_t i = 0; i < batch.changes.size(); ++i) {
      const uint64_t seq = batch.first_seq + i;
      if (seq <= acked_seq) continue;
      const ManifestChange& change = batch.changes[i];
      if (change.removed) {
        Forget(change.entry.key, change.entry.address);
      } else {
        Forget(change.entry.key, std::nullopt);
        manifest[change.entry.key] = change.entry;
        manifest_bytes += change.entry.length;
      }
      acked_seq = seq;
      ++manifest_changes;
    }
  }

  // Drops `key` from the manifest (only at `address` when given). manifest_mutex held.
  void Forget(const std::string& key, std::optional<uint64_t> address) {
    auto it = manifest.find(key);
    if (it == manifest.end() || (address && it->second.address != *address)) return;
    manifest_bytes -= it->second.length;
    manifest.erase(it);
  }

  // Heartbeats double as the manifest feed: each is a long poll that returns as soon as the
  // master journals a change for this segment, or after heartbeat_interval.
  void HeartbeatLoop() {
    const auto interval = options.heartbeat_interval;
    const auto retry_pause = std::min<std::chrono::milliseconds>(interval, kRetryPause);
    while (!Stopping()) {
      uint64_t acked;
      {
        std::lock_guard lock(manifest_mutex);
        acked = acked_seq;
      }
      const auto sent = std::chrono::steady_clock::now();
      auto deltas = master->Heartbeat(spec.node_id, spec.epoch, {{spec.name, acked}}, interval);
      if (deltas.ok()) {
        heartbeats_ok.fetch_add(1, std::memory_order_relaxed);
        for (const ManifestDelta& delta : *deltas) {
          if (delta.segment == spec.name) Apply(delta.batch);
        }
        // Changes came: let the next ones gather on the master for a moment, so a busy
        // segment costs ~100 heartbeats a second, not one per put.
        if (!deltas->empty()) {
          Pause(kManifestBatchPause);
          continue;
        }
        // A master that did not wait (nothing to say at once) must not make this spin.
        if (std::chrono::steady_clock::now() - sent < interval / 2) {
          Pause(interval);
        }
        continue;
      }
      heartbeats_failed.fetch_add(1, std::memory_order_relaxed);
      const StatusCode code = deltas.status().code();
      if (code == StatusCode::kClientNotFound || code == StatusCode::kSegmentNotFound) {
        if (Stopping()) break;  // Stop unmounted the segment
        MC_LOG_WARN(
            "master does not know node '{}' (restarted, or declared it dead): mounting "
            "segment '{}' again",
            spec.node_id, spec.name);
        if (Status mounted = Mount(); mounted.ok()) {
          remounts.fetch_add(1);
          continue;
        } else {
          MC_LOG_WARN("re-mount failed: {}", mounted.ToString());
        }
      } else {
        MC_LOG_WARN("heartbeat failed: {}", deltas.status().ToString());
      }
      Pause(retry_pause);
    }
  }

  // Sleeps up to `how_long`, returning early when Stop is called.
  void Pause(std::chrono::milliseconds how_long) {
    std::unique_lock lock(mutex);
    wake.wait_for(lock, how_long, [&] { return stopping; });
  }

  // Pause after a heartbeat that brought manifest changes (see HeartbeatLoop).
  static constexpr std::chrono::milliseconds kManifestBatchPause{10};
  // Pause between retries while the master is unreachable.
  static constexpr std::chrono::milliseconds kRetryPause{100};
};

StorageNode::StorageNode(std::unique_ptr<State> state) : state_(std::move(state)) {}

StorageNode::~StorageNode() { Stop(); }

Result<std::unique_ptr<StorageNode>> StorageNode::Create(StorageNodeOptions options) {
  MC_RETURN_IF_ERROR(options.Validate());
  auto state = std::make_unique<State>();
  MasterClientOptions master_options;
  master_options.master_address = options.master_address;
  master_options.rpc_timeout = options.rpc_timeout;
  master_options.client_id = options.listen;
  // Calls wait for a restarting master (up to rpc_timeout) instead of failing at once: a
  // channel whose calls fail fast may keep failing from gRPC's cached connection error for
  // seconds after a new master listens.
  master_options.wait_for_master = true;
  MC_ASSIGN_OR_RETURN(state->master, MasterClient::Create(master_options));

  if (options.engine == nullptr) {
    TransferEngineOptions engine_options;
    engine_options.local_server_name = options.listen;
    engine_options.metadata_server = options.metadata_server;
    engine_options.protocol = options.protocol;
    MC_ASSIGN_OR_RETURN(state->engine, TransferEngine::Create(engine_options));
  }
  TransferEngine& engine = options.engine != nullptr ? *options.engine : *state->engine;
  MC_ASSIGN_OR_RETURN(void* base, engine.AllocateBuffer(options.segment_size));

  const std::string name = engine.local_server_name();
  state->spec.name = name;
  state->spec.node_id = options.node_id.empty() ? name : options.node_id;
  // Wall-clock nanoseconds: grows across restarts of the process, which is all an epoch needs.
  state->spec.epoch = static_cast<Epoch>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  state->spec.medium = Medium::kDram;
  state->spec.base = reinterpret_cast<uint64_t>(base);
  state->spec.size = options.segment_size;
  state->spec.track_manifest = true;
  state->options = std::move(options);
  MC_RETURN_IF_ERROR(state->Mount().WithContext("mounting segment '" + name + "'"));
  state->heartbeat = std::thread([s = state.get()] { s->HeartbeatLoop(); });
  MC_LOG_INFO("node '{}' mounted segment '{}' ({} bytes, epoch {})", state->spec.node_id, name,
              state->spec.size, state->spec.epoch);
  return std::unique_ptr<StorageNode>(new StorageNode(std::move(state)));
}

const std::string& StorageNode::node_id() const { return state_->spec.node_id; }
const std::string& StorageNode::segment_name() const { return state_->spec.name; }
uint64_t StorageNode::epoch() const { return state_->spec.epoch; }
uint64_t StorageNode::remounts() const { return state_->remounts.load(); }

StorageNode::Stats StorageNode::stats() const {
  const State& s = *state_;
  Stats stats;
  stats.segment_bytes = s.spec.size;
  stats.remounts = s.remounts.load();
  stats.heartbeats_ok = s.heartbeats_ok.load(std::memory_order_relaxed);
  stats.heartbeats_failed = s.heartbeats_failed.load(std::memory_order_relaxed);
  std::lock_guard lock(state_->manifest_mutex);
  stats.objects = s.manifest.size();
  stats.object_bytes = s.manifest_bytes;
  stats.manifest_changes = s.manifest_changes;
  return stats;
}

size_t StorageNode::manifest_size() const {
  std::lock_guard lock(state_->manifest_mutex);
  return state_->manifest.size();
}

void StorageNode::Stop() {
  State& s = *state_;
  std::call_once(s.stop_once, [&] {
    {
      std::lock_guard lock(s.mutex);
      s.stopping = true;
    }
    s.wake.notify_all();
    // Unmounting first also ends a heartbeat waiting on the master for changes; the loop
    // sees `stopping` and does not mount again. A re-mount that raced with it (begun just
    // before `stopping` was set) is undone after the join.
    const uint64_t remounts_before = s.remounts.load();
    Status unmounted = s.master->UnmountSegment(s.spec.name, s.spec.node_id, s.spec.epoch);
    if (s.heartbeat.joinable()) s.heartbeat.join();
    if (!unmounted.ok() || s.remounts.load() != remounts_before) {
      unmounted = s.master->UnmountSegment(s.spec.name, s.spec.node_id, s.spec.epoch);
    }
    if (!unmounted.ok()) {
      MC_LOG_WARN("unmount of '{}' failed: {}", s.spec.name, unmounted.ToString());
    }
    if (s.options.engine != nullptr) {
      // A borrowed engine lives on: give the segment's memory back to it.
      s.options.engine->FreeBuffer(reinterpret_cast<void*>(s.spec.base)).IgnoreError();
    }
    s.engine.reset();
  });
}

}  // namespace mooncake
