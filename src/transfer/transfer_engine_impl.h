#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/host_port.h"
#include "mooncake/transfer/transfer_engine.h"
#include "transfer/batch_table.h"
#include "transfer/memory_registry.h"
#include "transfer/metadata/metadata_store.h"
#include "transfer/peer_auth.h"
#include "transfer/peer_counters.h"
#include "transfer/protocol.h"
#include "transfer/slice_router.h"
#include "transfer/transport/file/file_segments.h"
#include "transfer/transport/file/local_file_transport.h"
#include "transfer/transport/shm/shm_exporter.h"
#include "transfer/transport/shm/shm_transport.h"
#include "transfer/transport/tcp/tcp_transport.h"
#include "transfer/transport/ucx/ucx_transport.h"

namespace mooncake::transfer {

class TransferEngineImpl : public TransferEngine {
 public:
  static Result<std::unique_ptr<TransferEngine>> Create(TransferEngineOptions options);
  ~TransferEngineImpl() override;

  std::string local_server_name() const override { return local_name_; }
  Status RegisterLocalMemory(void* address, size_t length, const MemoryLocation& location) override;
  Status UnregisterLocalMemory(void* address) override;
  Result<void*> AllocateBuffer(size_t length) override;
  Status FreeBuffer(void* address) override;
  Result<uint64_t> RegisterFileSegment(const std::string& name, const std::string& path,
                                       uint64_t size) override;
  Status UnregisterFileSegment(const std::string& name) override;
  Result<SegmentHandle> OpenSegment(const std::string& name) override;
  Status CloseSegment(SegmentHandle handle) override;
  Result<SegmentDescriptor> GetSegmentDescriptor(SegmentHandle handle) override;
  Result<BatchId> AllocateBatchId(size_t batch_size) override;
  Status SubmitTransfer(BatchId batch, std::span<const TransferRequest> requests) override;
  Result<TransferStatus> GetTransferStatus(BatchId batch, size_t task_id) override;
  Status WaitBatch(BatchId batch, std::chrono::steady_clock::time_point deadline) override;
  Status FreeBatchId(BatchId batch) override;
  std::vector<PeerTransferStats> GetPeerStats() const override { return peers_.Snapshot(); }

  // Counters of the shm transport (zero when it is off); for tests and benchmarks.
  shm::ShmStats shm_stats() const;
  // Counters of the ucx transport (zero when it is off); for tests and benchmarks.
  ucx::UcxStats ucx_stats() const;
  // Peers refused because they did not prove the cluster secret (TCP and shm); for tests.
  uint64_t auth_refusals() const { return auth_refusals_.count(); }
  // Counters of the file-segment I/O thread (zero before the first file segment).
  file::FileIoStats file_stats() const { return files_.stats(); }

 private:
  // An engine-allocated buffer: private THP memory (fd -1) or a shared memfd.
  struct OwnedBuffer {
    size_t length = 0;         // as requested (registered length)
    size_t mapped_length = 0;  // shared: the memfd's length
    int fd = -1;
  };
  TransferEngineImpl(TransferEngineOptions options, Protocol protocol);
  // This segment's descriptor as peers get it in the HELLO exchange (with UCX keys) ...
  SegmentDescriptor LocalDescriptor() const;
  // ... and as it is published to the metadata store (keys only if publish_ucx_keys).
  SegmentDescriptor PublishedDescriptor() const;
  // Looks `name` up in the metadata store; when it serves UCX to us but the store left its
  // keys out, fetches the full descriptor from the segment itself (HELLO exchange).
  Result<SegmentDescriptor> LookupDescriptor(const std::string& name);
  // Logs once how this engine is protected: the secret's key id, or a WARNING naming the
  // non-loopback addresses it serves without one.
  void LogExposure(const HostPort& listen) const;
  // Starts the ucx transport when the protocol asks for it (or "auto" finds RDMA).
  Status StartUcx();
  void RepublishDescriptor();
  void OnPeerDescriptor(const SegmentDescriptor& descriptor);
  // The cached descriptor of `handle`, refreshed from metadata when it does not cover
  // [address, address + length) (the target may have registered more memory, or restarted).
  Result<SegmentDescriptor> DescriptorCovering(SegmentHandle handle, uint64_t address,
                                               uint64_t length);
  // Re-reads a segment's descriptor (best effort) after shm found it stale.
  void RefreshDescriptor(const std::string& name);
  void FreeOwned(void* address, const OwnedBuffer& buffer);

  const TransferEngineOptions options_;
  const Protocol protocol_;  // options_.protocol, parsed
  std::string local_name_;
  uint64_t incarnation_ = 0;
  std::string host_id_;
  MemoryRegistry registry_;
  // These three outlive transport_ (declared before it): target sessions use them.
  file::FileSegments files_;
  PeerCounterTable peers_;
  AuthRefusals auth_refusals_;
  BatchTable batches_;
  std::unique_ptr<MetadataStore> metadata_;
  std::unique_ptr<tcp::TcpTransport> transport_;
  // Both null unless protocol "auto" or "shm".
  std::unique_ptr<shm::ShmExporter> exporter_;  // serves our buffers to same-host peers
  std::unique_ptr<shm::ShmTransport> shm_;      // reaches same-host peers
  // Null unless protocol "ucx"/"rdma", or "auto" on a host where UCX offers RDMA.
  std::unique_ptr<ucx::UcxTransport> ucx_;
  // This engine's own file segments, for its own requests (after files_: it refers to them).
  std::unique_ptr<file::LocalFileTransport> local_files_;
  // Which of the transports above takes a target's slices (set last in Create).
  std::unique_ptr<SliceRouter> router_;

  std::mutex buffers_mutex_;                        // taken before the exporter's lock, never after
  std::map<uintptr_t, OwnedBuffer> owned_buffers_;  // AllocateBuffer'd, by address

  std::mutex segments_mutex_;
  SegmentHandle next_segment_ = 1;
  std::unordered_map<std::string, SegmentHandle> segment_by_name_;
  std::unordered_map<SegmentHandle, SegmentDescriptor> segments_;
};

}  // namespace mooncake::transfer
