// The transfer engine's lifecycle: options validation, creation (the TCP transport, the shm
// and ucx transports when the protocol asks for them, then the published descriptor), teardown
// and the transports' counters. Segments and registration: transfer_engine_segments.cc;
// batches, submission and routing: transfer_engine_batches.cc.

#include "transfer/transfer_engine_impl.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <random>

#include "common/auth/open_bind.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "transfer/host_identity.h"
#include "transfer/peer_auth.h"
#include "transfer/segment_descriptor_codec.h"
#include "transfer/transport/tcp/wire_format.h"
#include "transfer/transport/ucx/ucx_resources.h"

namespace mooncake::transfer {

Status TransferEngineOptions::Validate() const {
  MC_ASSIGN_OR_RETURN(Protocol parsed, ParseProtocol(protocol));
  if (parsed == Protocol::kUcx && !ucx::UcxTransport::Compiled()) {
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
    MC_RETURN_IF_ERROR(ParseHostPort(local_server_name, PortRequirement::kOptional)
                           .status()
                           .WithContext("local_server_name"));
  }
  if (auth_secret != nullptr && publish_ucx_keys) {
    return InvalidParams(
        "publish_ucx_keys cannot be combined with a cluster secret: readers of the metadata "
        "server are not authenticated, and the keys would let any of them read and write this "
        "engine's memory (peers fetch the keys through the authenticated HELLO instead)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<TransferEngine>> TransferEngine::Create(TransferEngineOptions options) {
  return TransferEngineImpl::Create(std::move(options));
}

TransferEngineImpl::TransferEngineImpl(TransferEngineOptions options, Protocol protocol)
    : options_(std::move(options)), protocol_(protocol) {}

Result<std::unique_ptr<TransferEngine>> TransferEngineImpl::Create(TransferEngineOptions options) {
  MC_RETURN_IF_ERROR(options.Validate());
  std::string name = options.local_server_name.empty() ? "127.0.0.1:0" : options.local_server_name;
  MC_ASSIGN_OR_RETURN(HostPort listen, ParseHostPort(name, PortRequirement::kOptional));

  MC_ASSIGN_OR_RETURN(const Protocol protocol, ParseProtocol(options.protocol));
  std::unique_ptr<TransferEngineImpl> engine(new TransferEngineImpl(std::move(options), protocol));
  const TransferEngineOptions& opts = engine->options_;
  engine->incarnation_ =
      std::random_device{}() ^ (static_cast<uint64_t>(getpid()) << 32) ^
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
  tcp_options.auth_secret = opts.auth_secret;
  tcp_options.auth_refusals = &engine->auth_refusals_;
  TransferEngineImpl* raw = engine.get();
  auto transport = tcp::TcpTransport::Create(
      tcp_options, &engine->registry_,
      [raw] { return EncodeSegmentDescriptor(raw->LocalDescriptor()); },
      [raw](const SegmentDescriptor& d) { raw->OnPeerDescriptor(d); });
  if (!transport.ok()) return transport.status().WithContext("starting the TCP transport");
  engine->transport_ = std::move(*transport);
  listen.port = engine->transport_->port();
  engine->local_name_ = engine->transport_->local_name();
  engine->LogExposure(listen);

  if (protocol == Protocol::kAuto || protocol == Protocol::kShm) {
    shm::ShmExporterOptions exporter_options;
    exporter_options.segment_name = engine->local_name_;
    exporter_options.incarnation = engine->incarnation_;
    exporter_options.auth_secret = opts.auth_secret;
    exporter_options.auth_refusals = &engine->auth_refusals_;
    auto exporter = shm::ShmExporter::Create(exporter_options);
    if (!exporter.ok()) return exporter.status().WithContext("starting the shm exporter");
    engine->exporter_ = std::move(*exporter);
    shm::ShmTransportOptions shm_options;
    shm_options.local_name = engine->local_name_;
    shm_options.auth_secret = opts.auth_secret;
    // Runs on the submitting thread; the engine outlives its shm transport.
    shm_options.on_stale_descriptor = [raw](const std::string& name) {
      raw->RefreshDescriptor(name);
    };
    auto shm_transport = shm::ShmTransport::Create(shm_options);
    if (!shm_transport.ok()) {
      return shm_transport.status().WithContext("starting the shm transport");
    }
    engine->shm_ = std::move(*shm_transport);
  }
  MC_RETURN_IF_ERROR(engine->StartUcx());
  engine->local_files_ = std::make_unique<file::LocalFileTransport>(engine->files_);
  engine->router_ = std::make_unique<SliceRouter>(
      LocalTransports{protocol, engine->host_id_, engine->shm_ != nullptr, engine->ucx_ != nullptr,
                      engine->ucx_ && engine->ucx_->offers_rdma()},
      RouterTransports{engine->transport_.get(), engine->shm_.get(), engine->ucx_.get(),
                       engine->local_files_.get()},
      engine->local_name_, engine->incarnation_);

  MetadataStoreOptions metadata_options;
  metadata_options.connection_string = opts.metadata_server;
  metadata_options.local_name = engine->local_name_;
  metadata_options.timeout = opts.connect_timeout;
  metadata_options.lease_ttl = opts.metadata_lease_ttl;
  metadata_options.auth_secret = opts.auth_secret;
  MC_ASSIGN_OR_RETURN(engine->metadata_, CreateMetadataStore(metadata_options));
  MC_RETURN_IF_ERROR(engine->metadata_->Publish(engine->PublishedDescriptor()));
  MC_LOG_INFO("transfer engine {} ready (protocol {}, {} I/O threads)", engine->local_name_,
              opts.protocol, opts.io_threads);
  return std::unique_ptr<TransferEngine>(std::move(engine));
}

void TransferEngineImpl::LogExposure(const HostPort& listen) const {
  if (options_.auth_secret != nullptr) {
    MC_LOG_INFO("transfer engine {}: peers must prove the cluster secret (key id {})", local_name_,
                options_.auth_secret->KeyId());
    return;
  }
  std::vector<std::string> open;
  if (!auth::IsLoopbackHost(listen.host)) open.push_back(listen.host.empty() ? "*" : listen.host);
  for (const std::string& nic : options_.nics) {
    if (!auth::IsLoopbackHost(nic) && nic != listen.host) open.push_back(nic);
  }
  if (open.empty()) return;
  MC_LOG_WARN(
      "transfer engine {} listens on {} (port {}) with no cluster secret: anyone who can reach "
      "that port can read and write every buffer it registers (set --auth_secret_file; "
      "docs/transfer_engine.md#authentication)",
      local_name_, fmt::join(open, ", "), listen.port);
}

Status TransferEngineImpl::StartUcx() {
  const bool forced = protocol_ == Protocol::kUcx;
  // "auto" looks for RDMA first: on hosts without an RDMA device UCX is never started.
  if (!forced && (protocol_ != Protocol::kAuto || !ucx::UcxTransport::Compiled() ||
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
  // No TCP I/O thread may answer a peer's HELLO while the members our descriptor reads
  // (transport_, exporter_, ucx_, the registry) are torn down below: a HELLO handled during
  // transport_.reset() found transport_ already null (seen as a SIGSEGV in a node stopped
  // while clients connected).
  if (transport_) transport_->Stop();
  router_.reset();     // points at the transports below
  ucx_.reset();        // fails its in-flight slices; its helper thread calls back into us
  shm_.reset();        // drops our mappings of peers' memory
  exporter_.reset();   // peers see their watch connections hang up
  transport_.reset();  // stops I/O before the memory it may touch goes away
  for (auto& [address, buffer] : owned_buffers_) {
    FreeOwned(reinterpret_cast<void*>(address), buffer);
  }
}

shm::ShmStats TransferEngineImpl::shm_stats() const {
  return shm_ ? shm_->stats() : shm::ShmStats{};
}

ucx::UcxStats TransferEngineImpl::ucx_stats() const {
  return ucx_ ? ucx_->stats() : ucx::UcxStats{};
}

}  // namespace mooncake::transfer
