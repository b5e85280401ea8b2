// The transfer engine's segments: its own (memory and file segments registered, buffers it
// allocates, the descriptor it publishes) and its peers' (looked up, opened, closed, their
// descriptors cached and refreshed).

#include <fmt/format.h>

#include "common/address_range.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "transfer/buffer_allocator.h"
#include "transfer/transfer_engine_impl.h"
#include "transfer/transport/tcp/handshake.h"
#include "transfer/transport/tcp/wire_format.h"

namespace mooncake::transfer {

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
  auto full = tcp::ConnectAndHandshake(HostPort{d.endpoints[0].host, d.endpoints[0].port},
                                       local_name_, options_.auth_secret.get(),
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
    auto owned = FindContaining(owned_buffers_, start, length, [](const auto& entry) {
      return AddressRange{entry.first, entry.second.mapped_length};
    });
    if (owned != owned_buffers_.end() && owned->second.fd >= 0) {
      fd = owned->second.fd;
      fd_offset = start - owned->first;
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

void TransferEngineImpl::FreeOwned(void* address, const OwnedBuffer& buffer) {
  if (buffer.fd >= 0) {
    FreeSharedBuffer(SharedBuffer{address, buffer.mapped_length, buffer.fd});
  } else {
    FreeHugePageBuffer(address, buffer.length);
  }
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
  MC_RETURN_IF_ERROR(router_->Connect(descriptor));
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
    if (it == segments_.end())
      return InvalidParams(fmt::format("unknown segment handle {}", handle));
    name = it->second.name;
    segment_by_name_.erase(name);
    segments_.erase(it);
  }
  router_->Disconnect(name);
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
  return InvalidParams(
      fmt::format("target range 0x{:x}+{} is outside the registered buffers of "
                  "segment {}",
                  address, length, cached.name));
}

void TransferEngineImpl::RefreshDescriptor(const std::string& name) {
  auto fresh = LookupDescriptor(name);
  if (fresh.ok()) OnPeerDescriptor(*fresh);
}

}  // namespace mooncake::transfer
