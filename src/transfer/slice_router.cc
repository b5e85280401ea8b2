#include "transfer/slice_router.h"

#include <utility>

#include "common/logging.h"

namespace mooncake::transfer {

void FailSlices(std::vector<Slice>& slices, const Status& why) {
  for (Slice& slice : slices) slice.task->SliceFailed(why);
  slices.clear();
}

SliceRouter::SliceRouter(LocalTransports local, RouterTransports transports, std::string self,
                         uint64_t incarnation)
    : local_(std::move(local)),
      transports_(transports),
      self_(std::move(self)),
      incarnation_(incarnation) {}

Result<Route> SliceRouter::RouteFor(const SegmentDescriptor& target) const {
  return ChooseRoute(local_, target);
}

Status SliceRouter::Connect(const SegmentDescriptor& target) {
  MC_ASSIGN_OR_RETURN(Route route, RouteFor(target));
  if (route == Route::kUcx) return transports_.ucx->Connect(target);
  if (route == Route::kTcp) return transports_.tcp->Connect(target);
  Status connected = transports_.shm->Connect(target);
  if (connected.ok() || local_.protocol == Protocol::kShm) return connected;
  // Same host, but its shared memory is not for us (another user, an exited owner...): TCP
  // serves it, as it would a remote peer.
  MC_LOG_INFO("segment {}: shm unavailable ({}); using TCP", target.name, connected.ToString());
  return transports_.tcp->Connect(target);
}

void SliceRouter::Disconnect(const std::string& segment) {
  for (Transport* transport : {transports_.tcp, transports_.shm, transports_.ucx}) {
    if (transport != nullptr) transport->Disconnect(segment);
  }
}

Status SliceRouter::SubmitTcp(const SegmentDescriptor& target, std::vector<Slice>& slices) {
  Status submitted = transports_.tcp->Submit(target, slices);
  if (!submitted.ok()) FailSlices(slices, submitted);
  return submitted;
}

Status SliceRouter::DispatchFile(const SegmentDescriptor& target, std::vector<Slice>& slices) {
  if (slices.empty()) return Status::Ok();
  if (target.incarnation == incarnation_ && target.name == self_) {
    transports_.local_files->Submit(target, slices).IgnoreError();  // reports each slice
    return Status::Ok();
  }
  // Shared memory and UCX reach memory only: the owner serves its files over TCP.
  return SubmitTcp(target, slices);
}

Status SliceRouter::DispatchMemory(const SegmentDescriptor& target, Route route,
                                   std::vector<Slice>& slices) {
  if (slices.empty()) return Status::Ok();
  switch (route) {
    case Route::kTcp:
      return SubmitTcp(target, slices);
    case Route::kUcx:
      transports_.ucx->Submit(target, slices).IgnoreError();  // takes every slice, reports each
      return Status::Ok();
    case Route::kShm:
      break;
  }
  // Same host: copied here and now; what shared memory cannot move goes to TCP (auto) or
  // fails (shm).
  const Status handed_back = transports_.shm->Submit(target, slices);
  if (slices.empty()) return Status::Ok();
  if (local_.protocol == Protocol::kShm) {
    FailSlices(slices, handed_back.WithContext("protocol shm"));
    return Status::Ok();
  }
  return SubmitTcp(target, slices);
}

}  // namespace mooncake::transfer
