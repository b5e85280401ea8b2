// StorageNode: options validation, creation (engine, segment, SSD file, copy worker,
// uploader, first mount, heartbeat thread), the accessors and stats, Drain and Stop. The state
// behind it, and its heartbeat, manifest and task plumbing: storage_node_state.h.

#include "node/storage_node.h"

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "master/client/master_client.h"
#include "mooncake/transfer/transfer_engine.h"
#include "node/copy_worker.h"
#include "node/storage_node_state.h"
#include "node/uploader.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::node {

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
  if (upload_memory == 0) return InvalidParams("node: upload_memory must be > 0");
  if (upload_parallelism < 1 || upload_parallelism > 64) {
    return InvalidParams("node: upload_parallelism " + std::to_string(upload_parallelism) +
                         " outside 1..64");
  }
  if (!ssd_path.empty() && (ssd_size == 0 || ssd_size % kSsdBlockBytes != 0)) {
    return InvalidParams("node: ssd_size " + std::to_string(ssd_size) + " for ssd_path '" +
                         ssd_path + "' must be > 0 and a multiple of 4096");
  }
  return Status::Ok();
}

StorageNode::StorageNode(std::unique_ptr<State> state) : state_(std::move(state)) {}

StorageNode::~StorageNode() { Stop(); }

StorageNode::CreateRollback::~CreateRollback() {
  if (!armed) return;
  if (state->copier) state->copier->Stop();
  if (state->uploader) state->uploader->Stop();
  for (size_t i = mounted; i-- > 0;) {
    const SegmentSpec& spec = state->mounted[i].spec;
    state->master->UnmountSegment(spec.name, spec.node_id, spec.epoch).IgnoreError();
  }
  if (borrowed == nullptr) return;  // the node's own engine goes with the state, and its memory
  if (state->ssd_file) borrowed->UnregisterFileSegment(kSsdFileSegment).IgnoreError();
  borrowed->FreeBuffer(base).IgnoreError();
}

Result<std::unique_ptr<StorageNode>> StorageNode::Create(StorageNodeOptions options) {
  MC_RETURN_IF_ERROR(options.Validate());
  auto state = std::make_unique<State>();
  state->clock = options.clock != nullptr ? options.clock : &SystemClock::Instance();
  master::MasterClientOptions master_options;
  master_options.master_address = options.master_address;
  master_options.rpc_timeout = options.rpc_timeout;
  master_options.client_id = options.listen;
  // Calls wait for a restarting master (up to rpc_timeout) instead of failing at once: a
  // channel whose calls fail fast may keep failing from gRPC's cached connection error for
  // seconds after a new master listens.
  master_options.wait_for_master = true;
  master_options.auth_secret = options.auth_secret;
  MC_ASSIGN_OR_RETURN(state->master, master::MasterClient::Create(master_options));

  if (options.engine == nullptr) {
    transfer::TransferEngineOptions engine_options;
    engine_options.local_server_name = options.listen;
    engine_options.metadata_server = options.metadata_server;
    engine_options.protocol = options.protocol;
    engine_options.auth_secret = options.auth_secret;
    MC_ASSIGN_OR_RETURN(state->engine, transfer::TransferEngine::Create(engine_options));
  }
  transfer::TransferEngine& engine = options.engine != nullptr ? *options.engine : *state->engine;
  state->engine_used = &engine;
  MC_ASSIGN_OR_RETURN(void* base, engine.AllocateBuffer(options.segment_size));
  // Until Create succeeds, a failure undoes what it did so far: a borrowed engine (the
  // client's own, which lives on) gets its memory back and loses the SSD file segment, and the
  // master forgets the segments already mounted.
  CreateRollback rollback{state.get(), options.engine, base};

  const std::string name = engine.local_server_name();
  state->spec.name = name;
  state->spec.node_id = options.node_id.empty() ? name : options.node_id;
  // Wall-clock nanoseconds: grows across restarts of the process, which is all an epoch needs.
  // Not the injected Clock: a steady clock starts again at every boot.
  state->spec.epoch = static_cast<Epoch>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  state->spec.medium = Medium::kDram;
  state->spec.base = reinterpret_cast<uint64_t>(base);
  state->spec.size = options.segment_size;
  state->spec.track_manifest = true;
  state->mounted.push_back({state->spec, ManifestApplier(SegmentRecords::kNone)});
  std::vector<CopyDestination> destinations{{name, state->spec.base, state->spec.size}};
  if (!options.ssd_path.empty()) {
    MC_RETURN_IF_ERROR(state->OpenSsd(options.ssd_path, options.ssd_size, engine, name));
    const SegmentSpec& ssd = state->mounted.back().spec;
    destinations.push_back({ssd.name, ssd.base, ssd.size, CopyDestination::Kind::kFileSegment});
  }
  CopyWorkerOptions copy_options;
  copy_options.parallelism = options.copy_parallelism;
  state->options = std::move(options);
  MC_ASSIGN_OR_RETURN(state->copier,
                      CopyWorker::Create(engine, std::move(destinations), copy_options,
                                         [s = state.get()] { s->ReportCopies(); }));
  auto [store, store_error] = state->OpenObjectStore();
  UploaderOptions upload_options;
  upload_options.parallelism = state->options.upload_parallelism;
  upload_options.memory_budget = state->options.upload_memory;
  upload_options.clock = state->clock;
  MC_ASSIGN_OR_RETURN(state->uploader,
                      Uploader::Create(
                          std::move(store), std::move(store_error),
                          [s = state.get()](const Allocation& source, std::span<char> out) {
                            return s->ReadLocal(source, out);
                          },
                          upload_options, [s = state.get()] { s->ReportUploads(); }));
  // As State::Mount, counting the segments mounted for the rollback (nothing is queued yet).
  for (State::Mounted& m : state->mounted) {
    MC_RETURN_IF_ERROR(state->MountOne(m).WithContext("mounting segment '" + m.spec.name + "'"));
    ++rollback.mounted;
  }
  rollback.armed = false;
  state->heartbeat = std::thread([s = state.get()] { s->HeartbeatLoop(); });
  MC_LOG_INFO("node '{}' mounted segment '{}' ({} bytes, epoch {})", state->spec.node_id, name,
              state->spec.size, state->spec.epoch);
  return std::unique_ptr<StorageNode>(new StorageNode(std::move(state)));
}

const std::string& StorageNode::node_id() const { return state_->spec.node_id; }
const std::string& StorageNode::segment_name() const { return state_->spec.name; }
std::string StorageNode::ssd_segment_name() const {
  return state_->mounted.size() > 1 ? state_->mounted[1].spec.name : std::string();
}
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
  const Uploader::Stats uploads = s.uploader->stats();
  stats.uploads_ok = uploads.uploads_ok;
  stats.uploads_failed = uploads.uploads_failed;
  stats.upload_bytes = uploads.bytes_uploaded;
  stats.uploads_queued = uploads.queued + uploads.running;
  stats.ssd_scanned_records = s.ssd_scanned_records;
  stats.ssd_scan_ms = s.ssd_scan_ms;
  if (s.ssd_records) {
    stats.ssd_header_errors = s.ssd_records->errors();
    stats.ssd_syncs = s.ssd_records->syncs();
  }
  std::lock_guard lock(state_->manifest_mutex);
  stats.objects = s.mounted[0].manifest.size();
  stats.object_bytes = s.mounted[0].manifest.bytes();
  if (s.mounted.size() > 1) {
    stats.ssd_bytes = s.mounted[1].spec.size;
    stats.ssd_objects = s.mounted[1].manifest.size();
    stats.ssd_object_bytes = s.mounted[1].manifest.bytes();
  }
  stats.manifest_changes = s.manifest_changes;
  return stats;
}

std::vector<transfer::PeerTransferStats> StorageNode::peer_stats() const {
  State& s = *state_;  // the state is not const: its mutex is taken
  // Under the lock Stop() takes first: once it has run, the engine may be gone.
  std::lock_guard lock(s.mutex);
  if (s.stopping) return {};
  const transfer::TransferEngine* engine =
      s.options.engine != nullptr ? s.options.engine : s.engine.get();
  return engine != nullptr ? engine->GetPeerStats() : std::vector<transfer::PeerTransferStats>{};
}

size_t StorageNode::manifest_size() const {
  std::lock_guard lock(state_->manifest_mutex);
  size_t n = 0;
  for (const State::Mounted& m : state_->mounted) n += m.manifest.size();
  return n;
}

Result<uint64_t> StorageNode::Drain(std::chrono::milliseconds timeout) {
  State& s = *state_;
  s.draining = true;
  const Clock& clock = *s.clock;
  const auto deadline = clock.Now() + timeout;
  Result<uint64_t> remaining = Status(StatusCode::kRpcTimeout, "drain: no answer from the master");
  std::optional<uint64_t> last;
  auto answered = clock.Now();  // the last answer (or the start)
  // Bounded by the deadline; each round costs one RPC (itself bounded by rpc_timeout).
  while (!s.Stopping()) {
    remaining = s.master->Drain(s.spec.node_id, s.spec.epoch);
    const auto now = clock.Now();
    if (remaining.ok()) {
      last = *remaining;
      answered = now;
      if (*remaining == 0) return uint64_t{0};
    } else {
      MC_LOG_WARN("drain of node '{}': {}", s.spec.node_id, remaining.status().ToString());
      if (now - answered >= State::kDrainUnreachableGrace) {
        MC_LOG_WARN("drain of node '{}': the master has not answered for {} ms; giving up",
                    s.spec.node_id, State::kDrainUnreachableGrace.count());
        break;
      }
    }
    if (now + State::kDrainPoll >= deadline) break;
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
    // No copy may write into the segment once it is unmounted and freed, nor an upload read it.
    s.copier->Stop();
    s.uploader->Stop();
    // Unmounting first also ends a heartbeat waiting on the master for changes; the loop
    // sees `stopping` and does not mount again. A re-mount that raced with it (begun just
    // before `stopping` was set) is undone after the join.
    const uint64_t remounts_before = s.remounts.load();
    auto unmount_all = [&] {
      Status status;
      // SSD first: its objects' headers stay on disk for the next start to find.
      for (auto m = s.mounted.rbegin(); m != s.mounted.rend(); ++m) {
        Status one = s.master->UnmountSegment(m->spec.name, s.spec.node_id, s.spec.epoch);
        if (!one.ok()) status = one.WithContext("unmount of '" + m->spec.name + "'");
      }
      return status;
    };
    Status unmounted = unmount_all();
    if (s.heartbeat.joinable()) s.heartbeat.join();
    if (!unmounted.ok() || s.remounts.load() != remounts_before) unmounted = unmount_all();
    if (!unmounted.ok()) MC_LOG_WARN("{}", unmounted.ToString());
    if (s.ssd_file) s.engine_used->UnregisterFileSegment(kSsdFileSegment).IgnoreError();
    if (s.options.engine != nullptr) {
      // A borrowed engine lives on: give the segment's memory back to it.
      s.options.engine->FreeBuffer(reinterpret_cast<void*>(s.spec.base)).IgnoreError();
    }
    s.engine.reset();
  });
}

}  // namespace mooncake::node
