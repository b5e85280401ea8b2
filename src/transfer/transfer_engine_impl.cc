#include "transfer/transfer_engine_impl.h"

#include <unistd.h>

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "common/host_port.h"
#include "common/logging.h"
#include "transfer/buffer_allocator.h"
#include "transfer/host_identity.h"
#include "transfer/segment_descriptor_codec.h"
#include "transfer/slice.h"
#include "transfer/transport/tcp/handshake.h"
#include "transfer/transport/tcp/wire_format.h"
#include "transfer/transport/ucx/ucx_resources.h"

namespace mooncake::transfer {
namespace {

// Largest slice sent to a file segment: the owner stages each in memory (its TCP target
// refuses larger ones).
constexpr uint64_t kMaxFileSlice = uint64_t{64} << 20;

}  // namespace

Status TransferEngineOptions::Validate() const {
  const bool ucx = protocol == "ucx" || protocol == "rdma";
  if (protocol != "auto" && protocol != "tcp" && protocol != "shm" && !ucx) {
    return NotSupported(fmt::format(
        "protocol '{}' is not available (supported: auto, tcp, shm, ucx, rdma)", protocol));
  }
  if (ucx && !ucx::UcxTransport::Compiled()) {
    return NotSupported(
        fmt::format("protocol '{}' is not available: this build has no UCX "
                    "(libucx-dev >= 1.13 was not found when it was configured, or MC_WITH_UCX=OFF)",
                    protocol));
  }
  if (io_threads < 1 || io_threads > 64) {
    return InvalidParams(fmt::format("io_threads must be in 1..64, got {}", io_threads));
  }
  if (connections_per_peer < 1 || connections_per_peer > 64) {
    return InvalidParams(
        fmt::format("connections_per_peer must be in 1..64, got {}", connections_per_peer));
  }
  if (slice_size < 4096 || slice_size > tcp::kMaxDataPayload) {
    return InvalidParams(fmt::format("slice_size must be in 4 KiB..1 GiB, got {}", slice_size));
  }
  if (transfer_timeout.count() <= 0 || connect_timeout.count() <= 0) {
    return InvalidParams("transfer_timeout and connect_timeout must be positive");
  }
  for (const std::string& nic : nics) {
    auto parsed = ParseHostPort(nic, PortRequirement::kOptional);
    if (!parsed.ok() || parsed->port != 0) {
      return InvalidParams(fmt::format("nics: '{}' is not a NIC address (no port)", nic));
    }
  }
  if (!local_server_name.empty()) {
    MC_RETURN_IF_ERROR(ParseHostPort(local_server_name, PortRequirement::kOptional).status()
                           .WithContext("local_server_name"));
  }
  return Status::Ok();
}

Result<std::unique_ptr<TransferEngine>> TransferEngine::Create(TransferEngineOptions options) {
  return TransferEngineImpl::Create(std::move(options));
}

TransferEngineImpl::TransferEngineImpl(TransferEngineOptions options)
    : options_(std::move(options)) {}

Result<std::unique_ptr<TransferEngine>> TransferEngineImpl::Create(TransferEngineOptions options) {
  MC_RETURN_IF_ERROR(options.Validate());
  std::string name = options.local_server_name.empty() ? "127.0.0.1:0" : options.local_server_name;
  MC_ASSIGN_OR_RETURN(HostPort listen, ParseHostPort(name, PortRequirement::kOptional));

  std::unique_ptr<TransferEngineImpl> engine(new TransferEngineImpl(std::move(options)));
  const TransferEngineOptions& opts = engine->options_;
  engine->incarnation_ = std::random_device{}() ^ (static_cast<uint64_t>(getpid()) << 32) ^
                         static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  engine->host_id_ = LocalHostIdentity();

  tcp::TcpTransportOptions tcp_options;
  tcp_options.listen = listen;
  tcp_options.incarnation_tag = tcp::IncarnationTag(engine->incarnation_);
  tcp_options.nics = opts.nics;
  tcp_options.io_threads = opts.io_threads;
  tcp_options.connections_per_peer = opts.connections_per_peer;
  tcp_options.connect_timeout = opts.connect_timeout;
  tcp_options.transfer_timeout = opts.transfer_timeout;
  tcp_options.file_segments = &engine->files_;
  tcp_options.peer_counters = &engine->peers_;
  TransferEngineImpl* raw = engine.get();
  auto transport = tcp::TcpTransport::Create(
      tcp_options, &engine->registry_,
      [raw] { return EncodeSegmentDescriptor(raw->LocalDescriptor()); },
      [raw](const SegmentDescriptor& d) { raw->OnPeerDescriptor(d); });
  if (!transport.ok()) return transport.status().WithContext("starting the TCP transport");
  engine->transport_ = std::move(*transport);
  listen.port = engine->transport_->port();
  engine->local_name_ = listen.ToString();
  engine->transport_->set_local_name(engine->local_name_);

  const bool ucx_only = opts.protocol == "ucx" || opts.protocol == "rdma";
  if (opts.protocol != "tcp" && !ucx_only) {
    shm::ShmExporterOptions exporter_options;
    exporter_options.segment_name = engine->local_name_;
    exporter_options.incarnation = engine->incarnation_;
    auto exporter = shm::ShmExporter::Create(exporter_options);
    if (!exporter.ok()) return exporter.status().WithContext("starting the shm exporter");
    engine->exporter_ = std::move(*exporter);
    shm::ShmTransportOptions shm_options;
    shm_options.local_name = engine->local_name_;
    auto shm_transport = shm::ShmTransport::Create(shm_options);
    if (!shm_transport.ok()) {
      return shm_transport.status().WithContext("starting the shm transport");
    }
    engine->shm_ = std::move(*shm_transport);
  }
  MC_RETURN_IF_ERROR(engine->StartUcx());
  engine->local_transports_ =
      LocalTransports{opts.protocol, engine->host_id_, engine->shm_ != nullptr,
                      engine->ucx_ != nullptr, engine->ucx_ && engine->ucx_->offers_rdma()};

  MetadataStoreOptions metadata_options;
  metadata_options.connection_string = opts.metadata_server;
  metadata_options.local_name = engine->local_name_;
  metadata_options.timeout = opts.connect_timeout;
  metadata_options.lease_ttl = opts.metadata_lease_ttl;
  MC_ASSIGN_OR_RETURN(engine->metadata_, CreateMetadataStore(metadata_options));
  MC_RETURN_IF_ERROR(engine->metadata_->Publish(engine->PublishedDescriptor()));
  MC_LOG_INFO("transfer engine {} ready (protocol {}, {} I/O threads)", engine->local_name_,
              opts.protocol, opts.io_threads);
  return std::unique_ptr<TransferEngine>(std::move(engine));
}

Status TransferEngineImpl::StartUcx() {
  const bool forced = options_.protocol == "ucx" || options_.protocol == "rdma";
  // "auto" looks for RDMA first: on hosts without an RDMA device UCX is never started.
  if (!forced && (options_.protocol != "auto" || !ucx::UcxTransport::Compiled() ||
                  !ucx::HostHasRdmaDevice())) {
    return Status::Ok();
  }
  ucx::UcxTransportOptions ucx_options;
  ucx_options.local_name = local_name_;
  ucx_options.host_id = host_id_;
  ucx_options.transfer_timeout = options_.transfer_timeout;
  ucx_options.command_timeout = options_.connect_timeout;
  // A failed endpoint: re-read the segment's descriptor before its tasks are FAILED, so a
  // retry reaches the peer's new incarnation. Runs on a ucx helper thread; ucx_ is destroyed
  // first in ~TransferEngineImpl, so `this` outlives it.
  ucx_options.on_peer_failed = [this](const std::string& name) { RefreshDescriptor(name); };
  auto transport = ucx::UcxTransport::Create(std::move(ucx_options));
  if (!transport.ok()) {
    if (forced) return transport.status().WithContext("starting the UCX transport");
    MC_LOG_WARN("UCX unavailable, using TCP/shm only: {}", transport.status().ToString());
    return Status::Ok();
  }
  if (!forced && !(*transport)->offers_rdma()) {
    MC_LOG_INFO("UCX offers no RDMA transport here ({}): not serving UCX",
                (*transport)->resources());
    return Status::Ok();
  }
  ucx_ = std::move(*transport);
  MC_LOG_INFO("ucx transport up: {}", ucx_->resources());
  return Status::Ok();
}

TransferEngineImpl::~TransferEngineImpl() {
  if (metadata_) metadata_->Unpublish(local_name_).IgnoreError();
  ucx_.reset();        // fails its in-flight slices; its helper thread calls back into us
  shm_.reset();        // drops our mappings of peers' memory
  exporter_.reset();   // peers see their watch connections hang up
  transport_.reset();  // stops I/O before the memory it may touch goes away
  for (auto& [address, buffer] : owned_buffers_) {
    FreeOwned(reinterpret_cast<void*>(address), buffer);
  }
}

void TransferEngineImpl::FreeOwned(void* address, const OwnedBuffer& buffer) {
  if (buffer.fd >= 0) {
    FreeSharedBuffer(SharedBuffer{address, buffer.mapped_length, buffer.fd});
  } else {
    FreeHugePageBuffer(address, buffer.length);
  }
}

shm::ShmStats TransferEngineImpl::shm_stats() const {
  return shm_ ? shm_->stats() : shm::ShmStats{};
}

ucx::UcxStats TransferEngineImpl::ucx_stats() const {
  return ucx_ ? ucx_->stats() : ucx::UcxStats{};
}

SegmentDescriptor TransferEngineImpl::LocalDescriptor() const {
  SegmentDescriptor d;
  d.name = local_name_;
  d.protocol_version = tcp::kProtocolVersion;
  d.incarnation = incarnation_;
  d.host_id = host_id_;
  d.endpoints = transport_->endpoints();
  d.buffers = registry_.Snapshot();
  if (exporter_) d.shm_endpoint = exporter_->endpoint();
  if (ucx_) {
    d.ucx_address = ucx_->worker_address();
    d.ucx_rdma = ucx_->offers_rdma();
    for (BufferDescriptor& b : d.buffers) b.ucx_rkey = ucx_->RkeyOf(b.address);
  }
  for (BufferDescriptor& b : files_.Snapshot()) d.buffers.push_back(std::move(b));
  return d;
}

SegmentDescriptor TransferEngineImpl::PublishedDescriptor() const {
  SegmentDescriptor d = LocalDescriptor();
  // Keys grant remote access to our memory: readers of the metadata server get them only
  // when the deployment says so; peers otherwise take them from the HELLO exchange.
  if (!options_.publish_ucx_keys) {
    for (BufferDescriptor& b : d.buffers) b.ucx_rkey.clear();
  }
  return d;
}

Result<SegmentDescriptor> TransferEngineImpl::LookupDescriptor(const std::string& name) {
  MC_ASSIGN_OR_RETURN(SegmentDescriptor d, metadata_->Lookup(name));
  if (!ucx_ || d.ucx_address.empty() || d.endpoints.empty()) return d;
  bool keyless = false;
  for (const BufferDescriptor& b : d.buffers) {
    keyless |= b.ucx_rkey.empty() && !file::IsFileLocation(b.location);  // files have no key
  }
  if (!keyless) return d;
  // Our route to it may be UCX: ask the segment itself, as P2PHANDSHAKE would.
  auto full =
      tcp::ConnectAndHandshake(HostPort{d.endpoints[0].host, d.endpoints[0].port}, local_name_,
                               std::chrono::steady_clock::now() + options_.connect_timeout);
  if (!full.ok()) {
    MC_LOG_WARN("segment {}: cannot fetch its UCX keys over HELLO: {}", name,
                full.status().ToString());
    return d;  // transfers through UCX to keyless buffers fail, naming the segment
  }
  if (full->descriptor.name != d.name) {
    MC_LOG_WARN("segment {}: its endpoint {}:{} answers as {}; UCX keys not taken", name,
                d.endpoints[0].host, d.endpoints[0].port, full->descriptor.name);
    return d;
  }
  return std::move(full->descriptor);
}

Status TransferEngineImpl::RegisterLocalMemory(void* address, size_t length,
                                               const MemoryLocation& location) {
  if (address == nullptr) return InvalidParams("cannot register a null address");
  const uint64_t start = reinterpret_cast<uint64_t>(address);
  MC_RETURN_IF_ERROR(registry_.Register(start, length, location.name));
  if (ucx_) {
    Status mapped = ucx_->RegisterMemory(start, length);
    if (!mapped.ok()) {
      registry_.Unregister(start).IgnoreError();
      return mapped.WithContext("registering memory with UCX");
    }
  }
  if (exporter_) {
    // Shared memory when the range lies inside an engine-allocated memfd; else private
    // memory, which peers reach with process_vm_readv/writev. The lock keeps the fd open
    // until the exporter has its own copy (FreeBuffer closes it only after erasing).
    std::lock_guard lock(buffers_mutex_);
    int fd = -1;
    uint64_t fd_offset = 0;
    auto it = owned_buffers_.upper_bound(start);
    if (it != owned_buffers_.begin()) {
      --it;
      const OwnedBuffer& owned = it->second;
      if (owned.fd >= 0 && start - it->first < owned.mapped_length &&
          length <= owned.mapped_length - (start - it->first)) {
        fd = owned.fd;
        fd_offset = start - it->first;
      }
    }
    exporter_->Export(start, length, fd, fd_offset);
  }
  RepublishDescriptor();
  return Status::Ok();
}

Status TransferEngineImpl::UnregisterLocalMemory(void* address) {
  // Unexport first: from here on no same-host peer starts a copy into the range.
  if (exporter_) exporter_->Unexport(reinterpret_cast<uint64_t>(address));
  MC_RETURN_IF_ERROR(registry_.Unregister(reinterpret_cast<uint64_t>(address)));
  if (ucx_) ucx_->UnregisterMemory(reinterpret_cast<uint64_t>(address));
  RepublishDescriptor();
  return Status::Ok();
}

void TransferEngineImpl::RepublishDescriptor() {
  // Peers that look this segment up must see the buffers it serves now. (With P2PHANDSHAKE
  // the descriptor is built per HELLO and this is a no-op.) A failure is not the caller's:
  // the metadata store keeps the latest descriptor and retries in the background.
  if (!metadata_) return;
  Status s = metadata_->Publish(PublishedDescriptor());
  if (!s.ok()) MC_LOG_WARN("publishing segment descriptor failed (will retry): {}", s.ToString());
}

Result<void*> TransferEngineImpl::AllocateBuffer(size_t length) {
  const Prefault prefault = options_.prefault_buffers ? Prefault::kYes : Prefault::kNo;
  void* buffer = nullptr;
  OwnedBuffer owned;
  owned.length = length;
  if (exporter_ && options_.shareable_buffers) {
    MC_ASSIGN_OR_RETURN(SharedBuffer shared, AllocateSharedBuffer(length, prefault));
    buffer = shared.address;
    owned.mapped_length = shared.length;
    owned.fd = shared.fd;
  } else {
    MC_ASSIGN_OR_RETURN(buffer, AllocateHugePageBuffer(length, prefault));
  }
  const uintptr_t key = reinterpret_cast<uintptr_t>(buffer);
  {  // Known before it is registered, so that registration exports it as shared memory.
    std::lock_guard lock(buffers_mutex_);
    owned_buffers_[key] = owned;
  }
  Status registered = RegisterLocalMemory(buffer, length, MemoryLocation{});
  if (!registered.ok()) {
    {
      std::lock_guard lock(buffers_mutex_);
      owned_buffers_.erase(key);
    }
    FreeOwned(buffer, owned);
    return registered;
  }
  return buffer;
}

Status TransferEngineImpl::FreeBuffer(void* address) {
  OwnedBuffer owned;
  {
    std::lock_guard lock(buffers_mutex_);
    auto it = owned_buffers_.find(reinterpret_cast<uintptr_t>(address));
    if (it == owned_buffers_.end()) {
      return InvalidParams(fmt::format("{} was not allocated by AllocateBuffer", address));
    }
    owned = it->second;
    owned_buffers_.erase(it);
  }
  MC_RETURN_IF_ERROR(UnregisterLocalMemory(address));
  // Peers that mapped it keep valid (orphaned) memory until they notice; nothing of ours.
  FreeOwned(address, owned);
  return Status::Ok();
}

Result<uint64_t> TransferEngineImpl::RegisterFileSegment(const std::string& name,
                                                         const std::string& path, uint64_t size) {
  file::FileSegmentSpec spec;
  spec.name = name;
  spec.path = path;
  spec.size = size;
  MC_ASSIGN_OR_RETURN(uint64_t base, files_.Register(spec));
  RepublishDescriptor();
  return base;
}

Status TransferEngineImpl::UnregisterFileSegment(const std::string& name) {
  MC_RETURN_IF_ERROR(files_.Unregister(name));
  RepublishDescriptor();
  return Status::Ok();
}

Result<SegmentHandle> TransferEngineImpl::OpenSegment(const std::string& name) {
  {
    std::lock_guard lock(segments_mutex_);
    auto it = segment_by_name_.find(name);
    if (it != segment_by_name_.end()) return it->second;
  }
  MC_ASSIGN_OR_RETURN(SegmentDescriptor descriptor, LookupDescriptor(name));
  MC_ASSIGN_OR_RETURN(Route route, RouteFor(descriptor));
  Status connected = Status::Ok();
  if (route == Route::kUcx) {
    connected = ucx_->Connect(descriptor);
  } else if (route == Route::kShm) {
    connected = shm_->Connect(descriptor);
    if (!connected.ok() && options_.protocol != "shm") {
      // Same host, but its shared memory is not for us (another user, an exited owner...):
      // TCP serves it, as it would a remote peer.
      MC_LOG_INFO("segment {}: shm unavailable ({}); using TCP", name, connected.ToString());
      connected = transport_->Connect(descriptor);
    }
  } else {
    connected = transport_->Connect(descriptor);
  }
  MC_RETURN_IF_ERROR(connected);
  std::lock_guard lock(segments_mutex_);
  auto [it, inserted] = segment_by_name_.emplace(name, next_segment_);
  if (inserted) segments_.emplace(next_segment_++, std::move(descriptor));
  return it->second;
}

Status TransferEngineImpl::CloseSegment(SegmentHandle handle) {
  std::string name;
  {
    std::lock_guard lock(segments_mutex_);
    auto it = segments_.find(handle);
    if (it == segments_.end()) return InvalidParams(fmt::format("unknown segment handle {}", handle));
    name = it->second.name;
    segment_by_name_.erase(name);
    segments_.erase(it);
  }
  transport_->Disconnect(name);
  if (shm_) shm_->Disconnect(name);
  if (ucx_) ucx_->Disconnect(name);
  return Status::Ok();
}

Result<SegmentDescriptor> TransferEngineImpl::GetSegmentDescriptor(SegmentHandle handle) {
  std::lock_guard lock(segments_mutex_);
  auto it = segments_.find(handle);
  if (it == segments_.end()) return InvalidParams(fmt::format("unknown segment handle {}", handle));
  return it->second;
}

void TransferEngineImpl::OnPeerDescriptor(const SegmentDescriptor& descriptor) {
  std::lock_guard lock(segments_mutex_);
  auto it = segment_by_name_.find(descriptor.name);
  if (it != segment_by_name_.end()) segments_[it->second] = descriptor;
}

Result<SegmentDescriptor> TransferEngineImpl::DescriptorCovering(SegmentHandle handle,
                                                                 uint64_t address,
                                                                 uint64_t length) {
  MC_ASSIGN_OR_RETURN(SegmentDescriptor cached, GetSegmentDescriptor(handle));
  if (cached.FindBuffer(address, length) >= 0) return cached;
  auto fresh = LookupDescriptor(cached.name);
  if (fresh.ok()) {
    OnPeerDescriptor(*fresh);
    if (fresh->FindBuffer(address, length) >= 0) return *fresh;
  }
  return InvalidParams(fmt::format("target range 0x{:x}+{} is outside the registered buffers of "
                                   "segment {}",
                                   address, length, cached.name));
}

Result<Route> TransferEngineImpl::RouteFor(const SegmentDescriptor& target) const {
  return ChooseRoute(local_transports_, target);
}

void TransferEngineImpl::RefreshDescriptor(const std::string& name) {
  auto fresh = LookupDescriptor(name);
  if (fresh.ok()) OnPeerDescriptor(*fresh);
}

Status TransferEngineImpl::SubmitTcp(const SegmentDescriptor& target, std::vector<Slice>& slices) {
  Status s = transport_->Submit(target, slices);
  if (!s.ok()) {
    for (Slice& slice : slices) slice.task->SliceFailed(s);
  }
  return s;
}

void TransferEngineImpl::SubmitLocalFile(std::vector<Slice>& slices) {
  for (Slice& slice : slices) {
    // The batch stays alive (and with it the task) until the callback has run.
    files_.Submit(slice.opcode, slice.remote_address, slice.local, slice.length,
                  [batch = slice.batch, task = slice.task, length = slice.length](
                      const Status& status) {
                    if (status.ok()) {
                      task->SliceSucceeded(length);
                    } else {
                      task->SliceFailed(status);
                    }
                  });
  }
}

Result<BatchId> TransferEngineImpl::AllocateBatchId(size_t batch_size) {
  return batches_.Allocate(batch_size);
}

Status TransferEngineImpl::SubmitTransfer(BatchId batch_id,
                                          std::span<const TransferRequest> requests) {
  MC_ASSIGN_OR_RETURN(std::shared_ptr<Batch> batch, batches_.Get(batch_id));
  // Validate everything first: a bad request rejects the whole call and starts nothing.
  std::unordered_map<SegmentHandle, SegmentDescriptor> targets;
  for (size_t i = 0; i < requests.size(); ++i) {
    const TransferRequest& r = requests[i];
    if (r.length == 0) continue;
    if (!registry_.Contains(reinterpret_cast<uint64_t>(r.source), r.length)) {
      return InvalidParams(fmt::format("request {}: local range {}+{} is not registered memory", i,
                                       r.source, r.length));
    }
    auto cached = targets.find(r.target_id);
    if (cached != targets.end() && cached->second.FindBuffer(r.target_offset, r.length) >= 0) {
      continue;
    }
    auto descriptor = DescriptorCovering(r.target_id, r.target_offset, r.length);
    if (!descriptor.ok()) return descriptor.status().WithContext(fmt::format("request {}", i));
    targets[r.target_id] = std::move(*descriptor);
  }
  std::unordered_map<SegmentHandle, Route> routes;
  for (const auto& [handle, descriptor] : targets) {
    MC_ASSIGN_OR_RETURN(routes[handle], RouteFor(descriptor));
  }
  MC_ASSIGN_OR_RETURN(size_t first_task, batch->ReserveTasks(requests.size()));

  std::unordered_map<SegmentHandle, std::vector<Slice>> per_target;
  std::unordered_map<SegmentHandle, std::vector<Slice>> per_target_file;  // file segments
  std::unordered_map<SegmentHandle, PeerCounters*> counters;
  for (const auto& [handle, descriptor] : targets) counters[handle] = peers_.For(descriptor.name);
  for (size_t i = 0; i < requests.size(); ++i) {
    TaskState* task = &batch->task(first_task + i);
    const TransferRequest& r = requests[i];
    bool to_file = false;
    PeerCounters* peer = nullptr;
    if (r.length > 0) {
      peer = counters.at(r.target_id);
      const SegmentDescriptor& target = targets.at(r.target_id);
      to_file = file::IsFileLocation(
          target.buffers[target.FindBuffer(r.target_offset, r.length)].location);
    }
    std::vector<Slice>& slices = (to_file ? per_target_file : per_target)[r.target_id];
    // The target stages each file slice in memory: keep them at most kMaxFileSlice.
    const uint64_t slice_size = to_file ? std::min(options_.slice_size, kMaxFileSlice)
                                        : options_.slice_size;
    // Count the slices before any can complete: Start must precede the first completion.
    uint64_t count = r.length == 0 ? 0 : (r.length + slice_size - 1) / slice_size;
    task->Start(static_cast<uint32_t>(count), peer, r.opcode);
    const size_t first_slice = slices.size();
    SliceRequest(r, slice_size, batch, task, &slices);
    if (first_slice < slices.size()) {
      const uint32_t tag = tcp::IncarnationTag(targets.at(r.target_id).incarnation);
      for (size_t k = first_slice; k < slices.size(); ++k) slices[k].target_tag = tag;
    }
  }
  Status result;
  for (auto& [handle, slices] : per_target_file) {
    if (slices.empty()) continue;
    const SegmentDescriptor& target = targets.at(handle);
    if (target.incarnation == incarnation_ && target.name == local_name_) {
      SubmitLocalFile(slices);  // our own file: straight to io_uring, no socket
      continue;
    }
    // Shared memory and UCX reach memory only: the owner serves its files over TCP.
    Status s = SubmitTcp(target, slices);
    if (result.ok()) result = s;
  }
  for (auto& [handle, slices] : per_target) {
    if (slices.empty()) continue;
    const SegmentDescriptor& target = targets.at(handle);
    if (routes.at(handle) == Route::kUcx) {
      ucx_->Submit(target, slices).IgnoreError();  // takes every slice, reports each itself
      continue;
    }
    if (routes.at(handle) == Route::kTcp) {
      Status s = SubmitTcp(target, slices);
      if (result.ok()) result = s;
      continue;
    }
    // Same host: copied here and now; what shared memory cannot move goes to TCP ("auto")
    // or fails ("shm").
    std::vector<Slice> fallback;
    shm::MoveOutcome outcome = shm_->Submit(target, slices, &fallback);
    if (outcome.refresh_descriptor) RefreshDescriptor(target.name);
    if (fallback.empty()) continue;
    if (options_.protocol == "shm") {
      const Status why = outcome.fallback_reason.WithContext("protocol shm");
      for (Slice& slice : fallback) slice.task->SliceFailed(why);
      continue;
    }
    Status s = SubmitTcp(target, fallback);
    if (result.ok()) result = s;
  }
  return result;
}

Result<TransferStatus> TransferEngineImpl::GetTransferStatus(BatchId batch_id, size_t task_id) {
  MC_ASSIGN_OR_RETURN(std::shared_ptr<Batch> batch, batches_.Get(batch_id));
  if (task_id >= batch->submitted()) {
    return InvalidParams(fmt::format("batch {} has no task {} ({} submitted)", batch_id, task_id,
                                     batch->submitted()));
  }
  return batch->task(task_id).Snapshot();
}

Status TransferEngineImpl::FreeBatchId(BatchId batch_id) { return batches_.Free(batch_id); }

}  // namespace mooncake::transfer
