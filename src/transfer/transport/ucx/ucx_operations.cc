// The ucx transport's operations, on the progress thread: endpoints opened per segment, gets and
// puts issued for submitted slices (remote keys looked up, local regions pinned), Connect's
// probe, and the completions UCX reports back.

#include <fmt/format.h>

#include <cstring>

#include "common/address_range.h"
#include "common/logging.h"
#include "mooncake/common/crc32c.h"
#include "transfer/transport/ucx/ucx_progress_internal.h"
#include "transfer/transport/ucx/ucx_transport_impl.h"

namespace mooncake::transfer::ucx {
namespace {

const char* OpName(TransferOpcode opcode) {
  return opcode == TransferOpcode::kRead ? "READ (get)" : "WRITE (put)";
}

}  // namespace

Result<std::shared_ptr<UcxPeer>> UcxTransportImpl::PeerFor(const SegmentDescriptor& target) {
  auto it = peers_.find(target.name);
  if (it != peers_.end()) {
    std::shared_ptr<UcxPeer> peer = it->second;
    if (peer->incarnation() == target.incarnation && peer->failure.ok()) return peer;
    // Restarted (another incarnation), or failed in this round: a fresh endpoint.
    if (peer->failure.ok()) {
      Retire(peer,
             TransferFail(fmt::format("segment {} restarted (incarnation {} -> {})", target.name,
                                      peer->incarnation(), target.incarnation)),
             Report::kNow, Ending::kGraceful);
    } else {
      Retire(peer, peer->failure, Report::kAfterRefresh, Ending::kForce);
    }
  }
  const bool same_host = !options_.host_id.empty() && target.host_id == options_.host_id;
  const UcxPeer::ErrorMode first = same_host || without_failure_reporting_.contains(target.name)
                                       ? UcxPeer::ErrorMode::kNone
                                       : UcxPeer::ErrorMode::kPeer;
  MC_ASSIGN_OR_RETURN(std::shared_ptr<UcxPeer> peer,
                      UcxPeer::Open(worker_, target, first, &OnEndpointError, this));
  if (peer->mode() == UcxPeer::ErrorMode::kNone && first == UcxPeer::ErrorMode::kPeer) {
    without_failure_reporting_.insert(target.name);
    MC_LOG_INFO(
        "ucx: segment {} is reachable only through UCX transports without peer-failure "
        "reporting (shared memory?): a dead peer is detected by the transfer timeout",
        target.name);
  }
  peer->last_progress = Clock::now();
  endpoints_opened_.fetch_add(1, std::memory_order_relaxed);
  peers_[target.name] = peer;
  return peer;
}

UcxOp* UcxTransportImpl::NewOp(UcxOp::Kind kind, const std::shared_ptr<UcxPeer>& peer) {
  auto op = std::make_unique<UcxOp>();
  op->kind = kind;
  op->owner = this;
  op->peer = peer;
  op->pending = 1;  // the issuing guard, dropped by Release
  UcxOp* raw = op.get();
  in_flight_.push_back(std::move(op));
  raw->self = std::prev(in_flight_.end());
  if (peer->pending == 0) peer->last_progress = Clock::now();  // idle until now
  return raw;
}

ucp_request_param_t UcxTransportImpl::RequestParam(UcxOp* op, const UcxRegion* region) const {
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.send = &UcxTransportImpl::OnRequestDone;
  param.user_data = op;
  if (region != nullptr) {
    param.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
    param.memh = region->memh();
  }
  return param;
}

void UcxTransportImpl::Track(UcxOp* op, ucs_status_ptr_t request) {
  if (request == nullptr) return;  // done at once
  if (UCS_PTR_IS_ERR(request)) {
    if (op->error == UCS_OK) op->error = UCS_PTR_STATUS(request);
    return;
  }
  ++op->pending;
  ++op->peer->pending;
}

void UcxTransportImpl::Release(UcxOp* op) {
  if (--op->pending == 0) OnOpDone(op);
}

void UcxTransportImpl::OnRequestDone(void* request, ucs_status_t status, void* user_data) {
  auto* op = static_cast<UcxOp*>(user_data);
  ucp_request_free(request);
  UcxPeer& peer = *op->peer;
  --peer.pending;
  peer.last_progress = Clock::now();
  if (status != UCS_OK && op->error == UCS_OK) op->error = status;
  op->owner->Release(op);
}

void UcxTransportImpl::OnEndpointError(void* context, UcxPeer* raw, ucs_status_t status) {
  auto* self = static_cast<UcxTransportImpl*>(context);
  auto it = self->peers_.find(raw->name());
  if (it == self->peers_.end() || it->second.get() != raw) return;  // already retired
  self->MarkFailed(it->second, TransferFail(fmt::format("UCX endpoint to segment {} failed: {}",
                                                        raw->name(), ucs_status_string(status))));
}

void UcxTransportImpl::DoConnect(const SegmentDescriptor& target,
                                 std::shared_ptr<std::promise<Status>> done) {
  if (stop_.load()) {
    done->set_value(InternalError("the UCX transport is shutting down"));
    return;
  }
  auto peer = PeerFor(target);
  if (!peer.ok()) {
    done->set_value(peer.status());
    return;
  }
  // A flush completes once the peer answered: the endpoint is wired up and the peer alive.
  UcxOp* op = NewOp(UcxOp::Kind::kProbe, *peer);
  op->probe = std::move(done);
  ucp_request_param_t param = RequestParam(op, nullptr);
  Track(op, ucp_ep_flush_nbx((*peer)->ep(), &param));
  Release(op);
}

void UcxTransportImpl::DoSubmit(const SegmentDescriptor& target, std::vector<Slice>& slices) {
  if (stop_.load()) {
    Deliver(
        std::move(slices),
        TransferFail(fmt::format("segment {}: the transfer engine is shutting down", target.name)),
        Report::kNow, target.name);
    return;
  }
  auto peer_or = PeerFor(target);
  if (!peer_or.ok()) {
    Deliver(std::move(slices), peer_or.status(), Report::kAfterRefresh, target.name);
    return;
  }
  const std::shared_ptr<UcxPeer>& peer = *peer_or;

  struct Prepared {
    Slice* slice;
    ucp_rkey_h rkey;
    std::shared_ptr<UcxRegion> region;  // null: not mapped (UCX registers it itself)
  };
  std::vector<Prepared> gets, puts;
  std::vector<Slice> unkeyed;
  Status keys_added;
  bool keys_synced = false;
  {
    std::lock_guard lock(regions_mutex_);
    for (Slice& slice : slices) {
      ucp_rkey_h rkey = peer->KeyFor(slice.remote_address, slice.length);
      if (rkey == nullptr && !keys_synced) {
        // The owner may have registered more memory since the endpoint was opened.
        keys_synced = true;
        keys_added = peer->AddKeys(target);
        rkey = peer->KeyFor(slice.remote_address, slice.length);
      }
      if (rkey == nullptr) {
        unkeyed.push_back(std::move(slice));
        continue;
      }
      std::shared_ptr<UcxRegion> region;
      const uint64_t local = reinterpret_cast<uint64_t>(slice.local);
      auto it = FindContaining(regions_, local, slice.length,
                               [](const auto& entry) { return entry.second->range(); });
      if (it != regions_.end()) region = it->second;
      (slice.opcode == TransferOpcode::kRead ? gets : puts).push_back({&slice, rkey, region});
    }
  }
  if (!unkeyed.empty()) {
    // The engine validated the ranges against the descriptor: what is missing is the key (a
    // descriptor from a metadata server that leaves keys out and no handshake got them, or
    // one taken while the buffer was being registered). Looked up again before reporting.
    const Status why =
        keys_added.ok()
            ? TransferFail(fmt::format(
                  "segment {}: 0x{:x}+{} is not inside a buffer whose UCX key this engine holds",
                  target.name, unkeyed[0].remote_address, unkeyed[0].length))
            : keys_added;
    Deliver(std::move(unkeyed), why, Report::kAfterRefresh, target.name);
  }

  // Without failure reporting an endpoint cannot be closed by force, so a get we report
  // FAILED (timeout, closed segment) may still be answered later: it reads into a staging
  // buffer the op owns, copied to the destination only on success.
  const bool stage_gets = peer->mode() == UcxPeer::ErrorMode::kNone;
  for (Prepared& p : gets) {
    UcxOp* op = NewOp(UcxOp::Kind::kGet, peer);
    Slice& slice = *p.slice;
    void* destination = slice.local;
    if (stage_gets) {
      op->staging.reset(new char[slice.length]);
      destination = op->staging.get();
      p.region.reset();  // the staging buffer is not mapped
    }
    ucp_request_param_t param = RequestParam(op, p.region.get());
    if (p.region) op->pins.push_back(std::move(p.region));
    Track(op,
          ucp_get_nbx(peer->ep(), destination, slice.length, slice.remote_address, p.rkey, &param));
    op->slices.push_back(std::move(slice));
    Release(op);
  }
  if (!puts.empty()) {
    // One group: the puts, then a flush; the slices complete when the flush does, i.e. when
    // the data is at the target.
    UcxOp* op = NewOp(UcxOp::Kind::kPutGroup, peer);
    for (Prepared& p : puts) {
      Slice& slice = *p.slice;
      ucp_request_param_t param = RequestParam(op, p.region.get());
      if (p.region && (op->pins.empty() || op->pins.back() != p.region)) {
        op->pins.push_back(std::move(p.region));
      }
      if (op->error == UCS_OK) {  // after a failure the rest are not issued, only reported
        Track(op, ucp_put_nbx(peer->ep(), slice.local, slice.length, slice.remote_address, p.rkey,
                              &param));
      }
      op->slices.push_back(std::move(slice));
    }
    if (op->error == UCS_OK) {
      ucp_request_param_t param = RequestParam(op, nullptr);
      Track(op, ucp_ep_flush_nbx(peer->ep(), &param));
    }
    Release(op);
  }
}

void UcxTransportImpl::OnOpDone(UcxOp* op) {
  if (op->settled) {
    orphans_.erase(op->self);  // UCX is done with a reported op: free it
    return;
  }
  if (op->error != UCS_OK) {
    // Reported with every other op of the peer when it is retired, after this round.
    const char* what = op->kind == UcxOp::Kind::kProbe
                           ? "probe (flush)"
                           : OpName(op->kind == UcxOp::Kind::kGet ? TransferOpcode::kRead
                                                                  : TransferOpcode::kWrite);
    MarkFailed(op->peer, TransferFail(fmt::format("UCX {} on segment {} failed: {}", what,
                                                  op->peer->name(), ucs_status_string(op->error))));
    return;
  }
  if (op->kind == UcxOp::Kind::kProbe) {
    op->probe->set_value(Status::Ok());
  } else {
    std::atomic<uint64_t>& counter = op->kind == UcxOp::Kind::kGet ? get_bytes_ : put_bytes_;
    for (Slice& slice : op->slices) {
      if (op->staging && slice.want_crc) {
        slice.crc = Crc32cCopy(slice.local, op->staging.get(), slice.length, 0);
        slice.crc_ready = true;
      } else if (op->staging) {
        std::memcpy(slice.local, op->staging.get(), slice.length);
      }
      counter.fetch_add(slice.length, std::memory_order_relaxed);
      ReportSliceSucceeded(slice);
    }
  }
  in_flight_.erase(op->self);
}

}  // namespace mooncake::transfer::ucx
