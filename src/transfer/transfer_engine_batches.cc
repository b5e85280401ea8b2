// The transfer engine's batches: allocating them, submitting transfers (every request checked
// before any starts, cut into slices, each target's slices handed to the SliceRouter, which
// picks the transport) and reading or waiting for each task's status.

#include <fmt/format.h>

#include <algorithm>

#include "transfer/slice.h"
#include "transfer/transfer_engine_impl.h"
#include "transfer/transport/tcp/wire_format.h"

namespace mooncake::transfer {
namespace {

// Largest slice sent to a file segment: the owner stages each in memory (its TCP target
// refuses larger ones).
constexpr uint64_t kMaxFileSlice = uint64_t{64} << 20;

}  // namespace

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
    if (r.crc32c != nullptr && r.opcode != TransferOpcode::kRead) {
      return InvalidParams(fmt::format("request {}: crc32c is for reads only, not writes", i));
    }
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
    MC_ASSIGN_OR_RETURN(routes[handle], router_->RouteFor(descriptor));
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
    const uint64_t slice_size =
        to_file ? std::min(options_.slice_size, kMaxFileSlice) : options_.slice_size;
    // Count the slices before any can complete: Start must precede the first completion.
    uint64_t count = r.length == 0 ? 0 : (r.length + slice_size - 1) / slice_size;
    task->Start(static_cast<uint32_t>(count), peer, r.opcode, r.crc32c);
    const size_t first_slice = slices.size();
    SliceRequest(r, slice_size, batch, task, &slices);
    if (first_slice < slices.size()) {
      const uint32_t tag = tcp::IncarnationTag(targets.at(r.target_id).incarnation);
      for (size_t k = first_slice; k < slices.size(); ++k) slices[k].target_tag = tag;
    }
  }
  // Every slice is taken (started, handed on or failed); the first refusal by TCP is the
  // call's error, as it always was.
  Status result;
  // (A zero-length request leaves an empty group under a handle that may not be in `targets`.)
  for (auto& [handle, slices] : per_target_file) {
    if (slices.empty()) continue;
    Status s = router_->DispatchFile(targets.at(handle), slices);
    if (result.ok()) result = s;
  }
  for (auto& [handle, slices] : per_target) {
    if (slices.empty()) continue;
    Status s = router_->DispatchMemory(targets.at(handle), routes.at(handle), slices);
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

Status TransferEngineImpl::WaitBatch(BatchId batch_id,
                                     std::chrono::steady_clock::time_point deadline) {
  MC_ASSIGN_OR_RETURN(std::shared_ptr<Batch> batch, batches_.Get(batch_id));
  if (batch->WaitAllFinished(deadline)) return Status::Ok();
  return Status(StatusCode::kTransferFail,
                fmt::format("batch {}: tasks still in flight at the deadline", batch_id));
}

Status TransferEngineImpl::FreeBatchId(BatchId batch_id) { return batches_.Free(batch_id); }

}  // namespace mooncake::transfer
