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
#include "node/copy_worker.h"

namespace mooncake {

Status StorageNodeOptions::Validate() const {
  if (master_address.empty()) return InvalidParams("node: master address is empty");
  if (listen.empty()) return InvalidParams("node: listen address is empty");
  if (segment_size == 0) return InvalidParams("node: segment_size must be > 0");
  if (heartbeat_interval.count() <= 0) return InvalidParams("node: heartbeat_interval must be > 0");
  if (rpc_timeout.count() <= 0) return InvalidParams("node: rpc_timeout must be > 0");
  if (copy_parallelism < 1 || copy_parallelism > 64) {
    return InvalidParams("node: copy_parallelism " + std::to_string(copy_parallelism) +
                         " outside 1..64");
  }
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
  std::atomic<bool> draining{false};
  // Runs the master's copy tasks into the segment (created once the segment is mounted).
  std::unique_ptr<CopyWorker> copier;

  // Sends finished copy results at once, in a heartbeat that does not wait (the long poll
  // may be parked on the master for up to heartbeat_interval); new tasks in its reply are
  // queued. Called by copy worker threads; results whose report failed go back for the
  // heartbeat loop to carry.
  void ReportCopies() {
    if (Stopping()) return;
    std::vector<CopyResult> results = copier->TakeResults();
    if (results.empty()) return;
    auto reply =
        master->Heartbeat(spec.node_id, spec.epoch, {}, results, std::chrono::milliseconds(0));
    if (!reply.ok()) {
      copier->PutBack(std::move(results));
      return;
    }
    copier->Submit(std::move(reply->copy_tasks));
  }

  bool Stopping() {
    std::lock_guard lock(mutex);
    return stopping;
  }

  // Mounts the segment announcing every object the manifest holds (none at first start; all
  // of them after a master restart), and forgets the entries the master did not adopt.
  Status Mount() {
    // Copies for the master that forgot us must not write into ranges the new mount may hand
    // out: drop the queued ones and let the running ones end first.
    if (copier && !copier->Quiesce(kQuiesceTimeout)) {
      MC_LOG_WARN("segment '{}': copies still running after {} ms; mounting anyway", spec.name,
                  kQuiesceTimeout.count());
    }
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
      std::vector<CopyResult> results = copier->TakeResults();
      auto reply =
          master->Heartbeat(spec.node_id, spec.epoch, {{spec.name, acked}}, results, interval);
      if (reply.ok()) {
        heartbeats_ok.fetch_add(1, std::memory_order_relaxed);
        for (const ManifestDelta& delta : reply->deltas) {
          if (delta.segment == spec.name) Apply(delta.batch);
        }
        copier->Submit(std::move(reply->copy_tasks));
        // Changes came: let the next ones gather on the master for a moment, so a busy
        // segment costs ~100 heartbeats a second, not one per put.
        if (!reply->deltas.empty()) {
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
      // The master may not have seen them: report again (a repeat is harmless). A re-mount
      // below drops them instead (Quiesce): the master that scheduled them is gone.
      copier->PutBack(std::move(results));
      const StatusCode code = reply.status().code();
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
        MC_LOG_WARN("heartbeat failed: {}", reply.status().ToString());
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
  // Longest a re-mount waits for running copies to end.
  static constexpr std::chrono::milliseconds kQuiesceTimeout{10000};
  // Pause between Drain calls while objects are still being copied away.
  static constexpr std::chrono::milliseconds kDrainPoll{100};
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
  CopyWorkerOptions copy_options;
  copy_options.parallelism = options.copy_parallelism;
  state->options = std::move(options);
  MC_ASSIGN_OR_RETURN(state->copier,
                      CopyWorker::Create(engine, {name, state->spec.base, state->spec.size},
                                         copy_options, [s = state.get()] { s->ReportCopies(); }));
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
  stats.draining = s.draining.load();
  const CopyWorker::Stats copies = s.copier->stats();
  stats.copies_ok = copies.copies_ok;
  stats.copies_failed = copies.copies_failed;
  stats.copy_bytes = copies.bytes_copied;
  std::lock_guard lock(state_->manifest_mutex);
  stats.objects = s.manifest.size();
  stats.object_bytes = s.manifest_bytes;
  stats.manifest_changes = s.manifest_changes;
  return stats;
}

std::vector<PeerTransferStats> StorageNode::peer_stats() const {
  State& s = *state_;  // the state is not const: its mutex is taken
  // Under the lock Stop() takes first: once it has run, the engine may be gone.
  std::lock_guard lock(s.mutex);
  if (s.stopping) return {};
  const TransferEngine* engine = s.options.engine != nullptr ? s.options.engine : s.engine.get();
  return engine != nullptr ? engine->GetPeerStats() : std::vector<PeerTransferStats>{};
}

size_t StorageNode::manifest_size() const {
  std::lock_guard lock(state_->manifest_mutex);
  return state_->manifest.size();
}

Result<uint64_t> StorageNode::Drain(std::chrono::milliseconds timeout) {
  State& s = *state_;
  s.draining = true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Result<uint64_t> remaining = Status(StatusCode::kRpcTimeout, "drain: no answer from the master");
  std::optional<uint64_t> last;
  // Bounded by the deadline; each round costs one RPC (itself bounded by rpc_timeout).
  while (!s.Stopping()) {
    remaining = s.master->Drain(s.spec.node_id, s.spec.epoch);
    if (remaining.ok()) {
      last = *remaining;
      if (*remaining == 0) return uint64_t{0};
    } else {
      MC_LOG_WARN("drain of node '{}': {}", s.spec.node_id, remaining.status().ToString());
    }
    if (std::chrono::steady_clock::now() + State::kDrainPoll >= deadline) break;
    s.Pause(State::kDrainPoll);
  }
  if (last) return *last;
  return remaining;
}

void StorageNode::Stop() {
  State& s = *state_;
  std::call_once(s.stop_once, [&] {
    {
      std::lock_guard lock(s.mutex);
      s.stopping = true;
    }
    s.wake.notify_all();
    // No copy may write into the segment once it is unmounted and freed.
    s.copier->Stop();
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
