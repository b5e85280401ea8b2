#include "node/storage_node.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
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
#include "node/ssd_file.h"
#include "node/uploader.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::node {

namespace {
// The Transfer Engine file segment serving the SSD tier, and the suffix of its master segment.
constexpr char kSsdFileSegment[] = "ssd";
constexpr char kSsdSuffix[] = "/ssd";
}  // namespace

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

struct StorageNode::State {
  StorageNodeOptions options;
  std::unique_ptr<master::MasterClient> master;
  std::unique_ptr<transfer::TransferEngine> engine;
  transfer::TransferEngine* engine_used = nullptr;  // engine.get() or options.engine
  // The DRAM segment (mounted[0].spec, the node's identity and epoch); aliases mounted[0].
  SegmentSpec spec;
  std::atomic<uint64_t> remounts{0};

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread heartbeat;
  std::once_flag stop_once;

  // One mounted segment and the objects in it, as the master journaled them.
  struct Mounted {
    SegmentSpec spec;
    std::unordered_map<std::string, ManifestEntry> manifest;
    uint64_t manifest_bytes = 0;  // sum of the entries' lengths
    uint64_t acked_seq = 0;
  };
  // [0]: DRAM; [1]: SSD when ssd_path is set. Fixed after Create; the manifests are changed
  // by the heartbeat thread (and Create) under manifest_mutex.
  std::mutex manifest_mutex;
  std::vector<Mounted> mounted;
  uint64_t manifest_changes = 0;
  // The SSD file, for header writes, erasures and the start-up scan (null: no SSD segment).
  std::unique_ptr<SsdFile> ssd_file;
  uint64_t ssd_scanned_records = 0;
  uint64_t ssd_scan_ms = 0;
  std::atomic<uint64_t> ssd_header_errors{0};
  std::atomic<uint64_t> ssd_syncs{0};
  std::atomic<uint64_t> heartbeats_ok{0};
  std::atomic<uint64_t> heartbeats_failed{0};
  std::atomic<bool> draining{false};
  // Runs the master's copy tasks into the segment (created once the segment is mounted).
  std::unique_ptr<CopyWorker> copier;
  // Runs the master's write-back uploads (created before the first mount).
  std::unique_ptr<Uploader> uploader;

  // Sends finished upload results at once, as ReportCopies does for copies.
  void ReportUploads() {
    if (Stopping()) return;
    std::vector<UploadResult> results = uploader->TakeResults();
    if (results.empty()) return;
    NoteUploaded(results);
    auto reply = master->Heartbeat(spec.node_id, spec.epoch, {}, {}, std::chrono::milliseconds(0),
                                   results);
    if (!reply.ok()) {
      uploader->PutBack(std::move(results));
      return;
    }
    copier->Submit(std::move(reply->copy_tasks));
    uploader->Submit(std::move(reply->upload_tasks));
  }

  // Marks the manifest entries whose version an upload put in the object store, so that a
  // restarted master adopting them schedules no upload again.
  void NoteUploaded(const std::vector<UploadResult>& results) {
    std::lock_guard lock(manifest_mutex);
    for (const UploadResult& r : results) {
      if (r.version == 0) continue;
      for (Mounted& m : mounted) {
        auto it = m.manifest.find(r.key);
        if (it != m.manifest.end() && it->second.version == r.version) {
          it->second.in_object_store = true;
        }
      }
    }
  }

  // Reads `source`, a range of one of this node's segments, for an upload.
  Status ReadLocal(const Allocation& source, std::span<char> out) {
    for (const Mounted& m : mounted) {
      if (source.segment != m.spec.name) continue;
      if (source.address < m.spec.base || source.address - m.spec.base > m.spec.size ||
          out.size() > m.spec.size - (source.address - m.spec.base)) {
        break;
      }
      if (IsSsd(m)) return ssd_file->ReadData(source.address - m.spec.base, out);
      std::memcpy(out.data(), reinterpret_cast<const void*>(source.address), out.size());
      return Status::Ok();
    }
    return InvalidParams("range " + std::to_string(out.size()) + " bytes at " +
                         std::to_string(source.address) + " of segment '" + source.segment +
                         "' is not in this node's segments");
  }

  // The object store for write-back uploads, as the master names it (null, with the reason,
  // when the master's policy is not write-back or the store cannot be opened).
  std::pair<std::unique_ptr<tier::ObjectStore>, Status> OpenObjectStore() {
    auto ping = master->Ping();
    if (!ping.ok()) return {nullptr, ping.status().WithContext("asking the master for its object tier")};
    const ObjectTierConfig& tier = ping->object_tier;
    if (tier.url.empty() || tier.policy != ObjectTierPolicy::kWriteBack) {
      return {nullptr, Status(StatusCode::kNotSupported,
                              "the master's object tier is not write-back")};
    }
    tier::ObjectStoreOptions store_options;
    store_options.url = tier.url;
    store_options.endpoint = tier.endpoint;
    store_options.region = tier.region;
    store_options.access_key_id = options.object_store_credentials.access_key_id;
    store_options.secret_access_key = options.object_store_credentials.secret_access_key;
    store_options.session_token = options.object_store_credentials.session_token;
    auto store = tier::ObjectStore::Create(std::move(store_options));
    if (!store.ok()) {
      MC_LOG_ERROR("write-back uploads will fail: opening object store '{}': {}", tier.url,
                   store.status().ToString());
      return {nullptr, store.status().WithContext("opening object store '" + tier.url + "'")};
    }
    MC_LOG_INFO("write-back uploads to {}", tier.url);
    return {std::move(*store), Status::Ok()};
  }

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

  // Opens and registers the SSD file, scans it and adds its segment to `mounted` with the
  // records found as its manifest.
  Status OpenSsd(const std::string& path, uint64_t size, transfer::TransferEngine& engine,
                 const std::string& name);

  // Mounts the segment announcing every object the manifest holds (none at first start; all
  // of them after a master restart), and forgets the entries the master did not adopt.
  Status Mount() {
    // Copies for the master that forgot us must not write into ranges the new mount may hand
    // out: drop the queued ones and let the running ones end first.
    if (copier && !copier->Quiesce(kQuiesceTimeout)) {
      MC_LOG_WARN("segment '{}': copies still running after {} ms; mounting anyway", spec.name,
                  kQuiesceTimeout.count());
    }
    // Uploads only read: the running ones may finish, but nobody wants their results.
    if (uploader) uploader->Forget();
    // DRAM first: a mount from a new epoch drops every segment of the old one, SSD included.
    for (Mounted& m : mounted) MC_RETURN_IF_ERROR(MountOne(m));
    return Status::Ok();
  }

  Status MountOne(Mounted& m) {
    std::vector<ManifestEntry> entries;
    {
      std::lock_guard lock(manifest_mutex);
      entries.reserve(m.manifest.size());
      for (const auto& [key, entry] : m.manifest) entries.push_back(entry);
    }
    MC_ASSIGN_OR_RETURN(MountReport report, master->MountSegment(m.spec, entries));
    std::lock_guard lock(manifest_mutex);
    if (IsSsd(m) && !report.rejected_keys.empty()) EraseRejected(m, report.rejected_keys);
    for (const std::string& key : report.rejected_keys) Forget(m, key, std::nullopt);
    m.acked_seq = 0;  // the master journals anew for every mount
    if (!entries.empty()) {
      MC_LOG_INFO("segment '{}' announced {} objects: {} adopted, {} rejected", m.spec.name,
                  entries.size(), report.adopted, report.rejected_keys.size());
    }
    return Status::Ok();
  }

  static bool IsSsd(const Mounted& m) { return m.spec.medium == Medium::kSsd; }

  // Erases the headers of SSD records the master did not adopt (older versions, overlaps), so
  // that no later scan announces them again; a header inside an adopted record's range is
  // left alone (it cannot be a record then). manifest_mutex held.
  void EraseRejected(Mounted& m, const std::vector<std::string>& rejected) {
    std::map<uint64_t, uint64_t> kept;  // address -> length of the adopted entries
    std::unordered_map<std::string, bool> is_rejected;
    for (const std::string& key : rejected) is_rejected[key] = true;
    for (const auto& [key, entry] : m.manifest) {
      if (!is_rejected.contains(key)) kept[entry.address] = entry.length;
    }
    for (const std::string& key : rejected) {
      auto it = m.manifest.find(key);
      if (it == m.manifest.end()) continue;
      const uint64_t address = it->second.address;
      auto after = kept.upper_bound(address);
      if (after != kept.begin() && std::prev(after)->first + std::prev(after)->second > address) {
        continue;
      }
      EraseSsd(m, address, kSsdHeaderBytes);
    }
  }

  // Writes the header of `entry`, a COMPLETE replica on the SSD segment m. A failure is
  // counted and logged: the object is served, but a restart will not find it.
  void WriteSsdHeader(const Mounted& m, const ManifestEntry& entry) {
    if (Status s = ssd_file->WriteHeader(entry.address - m.spec.base, entry); !s.ok()) {
      ssd_header_errors.fetch_add(1);
      MC_LOG_WARN("SSD object '{}' is served but will not survive a restart: {}", entry.key,
                  s.ToString());
    }
  }

  // Erases [address, address + length) of the SSD segment m (its header, so a scan skips it).
  void EraseSsd(const Mounted& m, uint64_t address, uint64_t length) {
    if (address < m.spec.base) return;
    if (Status s = ssd_file->Erase(address - m.spec.base, length); !s.ok()) {
      ssd_header_errors.fetch_add(1);
      MC_LOG_WARN("segment '{}': {}", m.spec.name, s.ToString());
    }
  }

  void Apply(Mounted& m, const ManifestBatch& batch) {
    std::lock_guard lock(manifest_mutex);
    if (batch.first_seq > m.acked_seq + 1) {
      // Cannot happen with a correct master: it keeps every change until acknowledged.
      MC_LOG_ERROR("segment '{}': manifest changes {}..{} were never delivered", m.spec.name,
                   m.acked_seq + 1, batch.first_seq - 1);
    }
    // A change already applied (its acknowledgement was lost) is skipped. On SSD the header is
    // written or erased before the change is acknowledged: the master reuses an erased range
    // only after that.
    bool ssd_changed = false;
    for (size_t i = 0; i < batch.changes.size(); ++i) {
      const uint64_t seq = batch.first_seq + i;
      if (seq <= m.acked_seq) continue;
      ssd_changed |= IsSsd(m);
      const ManifestChange& change = batch.changes[i];
      if (change.removed) {
        if (IsSsd(m)) {
          auto it = m.manifest.find(change.entry.key);
          const uint64_t length =
              it != m.manifest.end() && it->second.address == change.entry.address
                  ? it->second.length
                  : change.entry.length;
          EraseSsd(m, change.entry.address, std::max<uint64_t>(length, kSsdHeaderBytes));
        }
        Forget(m, change.entry.key, change.entry.address);
      } else {
        Forget(m, change.entry.key, std::nullopt);
        if (IsSsd(m)) WriteSsdHeader(m, change.entry);
        m.manifest[change.entry.key] = change.entry;
        m.manifest_bytes += change.entry.length;
      }
      m.acked_seq = seq;
      ++manifest_changes;
    }
    if (ssd_changed && options.ssd_sync) SyncSsd(m);
  }

  // Makes the headers written and erased so far durable (fdatasync; the objects' bytes went
  // with O_DIRECT before): after a power loss the scan finds what the node acknowledged to the
  // master, and no removed object comes back. One sync per applied batch, not per object.
  void SyncSsd(const Mounted& m) {
    if (Status s = ssd_file->Sync(); !s.ok()) {
      ssd_header_errors.fetch_add(1);
      MC_LOG_WARN("segment '{}': {}", m.spec.name, s.ToString());
      return;
    }
    ssd_syncs.fetch_add(1, std::memory_order_relaxed);
  }

  // Drops `key` from m's manifest (only at `address` when given). manifest_mutex held.
  static void Forget(Mounted& m, const std::string& key, std::optional<uint64_t> address) {
    auto it = m.manifest.find(key);
    if (it == m.manifest.end() || (address && it->second.address != *address)) return;
    m.manifest_bytes -= it->second.length;
    m.manifest.erase(it);
  }

  std::vector<master::ManifestAck> Acks() {
    std::lock_guard lock(manifest_mutex);
    std::vector<master::ManifestAck> acks;
    for (const Mounted& m : mounted) acks.push_back({m.spec.name, m.acked_seq});
    return acks;
  }

  // Heartbeats double as the manifest feed: each is a long poll that returns as soon as the
  // master journals a change for this segment, or after heartbeat_interval.
  void HeartbeatLoop() {
    const auto interval = options.heartbeat_interval;
    const auto retry_pause = std::min<std::chrono::milliseconds>(interval, kRetryPause);
    while (!Stopping()) {
      const std::vector<master::ManifestAck> acks = Acks();
      const auto sent = std::chrono::steady_clock::now();
      std::vector<CopyResult> results = copier->TakeResults();
      std::vector<UploadResult> uploads = uploader->TakeResults();
      NoteUploaded(uploads);
      auto reply = master->Heartbeat(spec.node_id, spec.epoch, acks, results, interval, uploads);
      if (reply.ok()) {
        heartbeats_ok.fetch_add(1, std::memory_order_relaxed);
        for (const master::ManifestDelta& delta : reply->deltas) {
          for (Mounted& m : mounted) {
            if (delta.segment == m.spec.name) Apply(m, delta.batch);
          }
        }
        // Tasks came: the master answered at once, so the next beat must not wait a whole
        // interval (tasks scheduled meanwhile, and the manifest changes their completion
        // brings, would wait with it).
        const bool brought_tasks = !reply->copy_tasks.empty() || !reply->upload_tasks.empty();
        copier->Submit(std::move(reply->copy_tasks));
        uploader->Submit(std::move(reply->upload_tasks));
        // Changes came: let the next ones gather on the master for a moment, so a busy
        // segment costs ~100 heartbeats a second, not one per put.
        if (!reply->deltas.empty() || brought_tasks) {
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
      uploader->PutBack(std::move(uploads));
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
  master::MasterClientOptions master_options;
  master_options.master_address = options.master_address;
  master_options.rpc_timeout = options.rpc_timeout;
  master_options.client_id = options.listen;
  // Calls wait for a restarting master (up to rpc_timeout) instead of failing at once: a
  // channel whose calls fail fast may keep failing from gRPC's cached connection error for
  // seconds after a new master listens.
  master_options.wait_for_master = true;
  MC_ASSIGN_OR_RETURN(state->master, master::MasterClient::Create(master_options));

  if (options.engine == nullptr) {
    transfer::TransferEngineOptions engine_options;
    engine_options.local_server_name = options.listen;
    engine_options.metadata_server = options.metadata_server;
    engine_options.protocol = options.protocol;
    MC_ASSIGN_OR_RETURN(state->engine, transfer::TransferEngine::Create(engine_options));
  }
  transfer::TransferEngine& engine = options.engine != nullptr ? *options.engine : *state->engine;
  state->engine_used = &engine;
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
  state->mounted.push_back({state->spec, {}, 0, 0});
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
  MC_ASSIGN_OR_RETURN(
      state->uploader,
      Uploader::Create(
          std::move(store), std::move(store_error),
          [s = state.get()](const Allocation& source, std::span<char> out) {
            return s->ReadLocal(source, out);
          },
          upload_options, [s = state.get()] { s->ReportUploads(); }));
  MC_RETURN_IF_ERROR(state->Mount().WithContext("mounting segment '" + name + "'"));
  state->heartbeat = std::thread([s = state.get()] { s->HeartbeatLoop(); });
  MC_LOG_INFO("node '{}' mounted segment '{}' ({} bytes, epoch {})", state->spec.node_id, name,
              state->spec.size, state->spec.epoch);
  return std::unique_ptr<StorageNode>(new StorageNode(std::move(state)));
}

Status StorageNode::State::OpenSsd(const std::string& path, uint64_t size, transfer::TransferEngine& engine,
                                   const std::string& name) {
  MC_ASSIGN_OR_RETURN(ssd_file, SsdFile::Open(path, size));
  // Registering creates or extends the file (sparse) and checks a device is large enough.
  MC_ASSIGN_OR_RETURN(uint64_t base, engine.RegisterFileSegment(kSsdFileSegment, path, size));
  Mounted ssd;
  ssd.spec = spec;
  ssd.spec.name = name + kSsdSuffix;
  ssd.spec.medium = Medium::kSsd;
  ssd.spec.base = base;
  ssd.spec.size = size;
  // What the file already holds: announced with the first mount under this new epoch.
  MC_ASSIGN_OR_RETURN(SsdFile::ScanResult scan, ssd_file->Scan(base));
  for (ManifestEntry& entry : scan.entries) {
    ssd.manifest_bytes += entry.length;
    std::string key = entry.key;
    ssd.manifest.emplace(std::move(key), std::move(entry));
  }
  ssd_scan_ms = static_cast<uint64_t>(scan.took.count());
  ssd_scanned_records = ssd.manifest.size();
  MC_LOG_INFO("SSD path '{}': {} objects found by the scan in {} ms ({} bytes read)", path,
              ssd_scanned_records, ssd_scan_ms, scan.bytes_read);
  mounted.push_back(std::move(ssd));
  return Status::Ok();
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
  stats.ssd_header_errors = s.ssd_header_errors.load();
  stats.ssd_syncs = s.ssd_syncs.load();
  std::lock_guard lock(state_->manifest_mutex);
  stats.objects = s.mounted[0].manifest.size();
  stats.object_bytes = s.mounted[0].manifest_bytes;
  if (s.mounted.size() > 1) {
    stats.ssd_bytes = s.mounted[1].spec.size;
    stats.ssd_objects = s.mounted[1].manifest.size();
    stats.ssd_object_bytes = s.mounted[1].manifest_bytes;
  }
  stats.manifest_changes = s.manifest_changes;
  return stats;
}

std::vector<transfer::PeerTransferStats> StorageNode::peer_stats() const {
  State& s = *state_;  // the state is not const: its mutex is taken
  // Under the lock Stop() takes first: once it has run, the engine may be gone.
  std::lock_guard lock(s.mutex);
  if (s.stopping) return {};
  const transfer::TransferEngine* engine = s.options.engine != nullptr ? s.options.engine : s.engine.get();
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
