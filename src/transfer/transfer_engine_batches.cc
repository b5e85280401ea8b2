// The transfer engine's batches: allocating them, submitting transfers (every request checked
// before any starts, cut into slices, each target's slices routed to TCP, shared memory, UCX or
// this engine's own file I/O thread) and reading each task's status.

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

Result<Route> TransferEngineImpl::RouteFor(const SegmentDescriptor& target) const {
  return ChooseRoute(local_transports_, target);
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
    files_.Submit(
        slice.opcode, slice.remote_address, slice.local, slice.length,
        [batch = slice.batch, task = slice.task, length = slice.length](const Status& status) {
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
    const uint64_t slice_size =
        to_file ? std::min(options_.slice_size, kMaxFileSlice) : options_.slice_size;
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

Status TransferEngineImpl::WaitBatch(BatchId batch_id,
                                     std::chrono::steady_clock::time_point deadline) {
  MC_ASSIGN_OR_RETURN(std::shared_ptr<Batch> batch, batches_.Get(batch_id));
  if (batch->WaitAllFinished(deadline)) return Status::Ok();
  return Status(StatusCode::kTransferFail,
                fmt::format("batch {}: tasks still in flight at the deadline", batch_id));
}

Status TransferEngineImpl::FreeBatchId(BatchId batch_id) { return batches_.Free(batch_id); }

}  // namespace mooncake::transfer
