#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "mooncake/transfer/transfer_engine.h"
#include "transfer/batch_table.h"
#include "transfer/memory_registry.h"
#include "transfer/metadata/metadata_store.h"
#include "transfer/transport/tcp/tcp_transport.h"

namespace mooncake {

class TransferEngineImpl : public TransferEngine {
 public:
  static Result<std::unique_ptr<TransferEngine>> Create(TransferEngineOptions options);
  ~TransferEngineImpl() override;

  std::string local_server_name() const override { return local_name_; }
  Status RegisterLocalMemory(void* address, size_t length, const MemoryLocation& location) override;
  Status UnregisterLocalMemory(void* address) override;
  Result<void*> AllocateBuffer(size_t length) override;
  Status FreeBuffer(void* address) override;
  Result<SegmentHandle> OpenSegment(const std::string& name) override;
  Status CloseSegment(SegmentHandle handle) override;
  Result<SegmentDescriptor> GetSegmentDescriptor(SegmentHandle handle) override;
  Result<BatchId> AllocateBatchId(size_t batch_size) override;
  Status SubmitTransfer(BatchId batch, std::span<const TransferRequest> requests) override;
  Result<TransferStatus> GetTransferStatus(BatchId batch, size_t task_id) override;
  Status FreeBatchId(BatchId batch) override;

 private:
  explicit TransferEngineImpl(TransferEngineOptions options);
  SegmentDescriptor LocalDescriptor() const;
  void RepublishDescriptor();
  void OnPeerDescriptor(const SegmentDescriptor& descriptor);
  // The cached descriptor of `handle`, refreshed from metadata when it does not cover
  // [address, address + length) (the target may have registered more memory, or restarted).
  Result<SegmentDescriptor> DescriptorCovering(SegmentHandle handle, uint64_t address,
                                               uint64_t length);

  const TransferEngineOptions options_;
  std::string local_name_;
  uint64_t incarnation_ = 0;
  std::string host_id_;
  MemoryRegistry registry_;
  BatchTable batches_;
  std::unique_ptr<MetadataStore> metadata_;
  std::unique_ptr<tcp::TcpTransport> transport_;

  std::mutex buffers_mutex_;
  std::unordered_map<void*, size_t> owned_buffers_;  // AllocateBuffer'd: address → length

  std::mutex segments_mutex_;
  SegmentHandle next_segment_ = 1;
  std::unordered_map<std::string, SegmentHandle> segment_by_name_;
  std::unordered_map<SegmentHandle, SegmentDescriptor> segments_;
};

}  // namespace mooncake
