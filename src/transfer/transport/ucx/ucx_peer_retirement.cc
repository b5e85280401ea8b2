// How the ucx transport lets go of a peer, on the progress thread: a failed endpoint or the
// no-progress timeout retires it, its in-flight operations are settled and their slices reported
// failed (at once, or after the engine re-read the segment's descriptor), and its endpoint is
// closed: gracefully, by force, or left to the worker's destruction.

#include <fmt/format.h>

#include "transfer/transport/ucx/ucx_progress_internal.h"
#include "transfer/transport/ucx/ucx_transport_impl.h"

namespace mooncake::transfer::ucx {

void UcxTransportImpl::MarkFailed(const std::shared_ptr<UcxPeer>& peer, Status why) {
  if (peer->retired || !peer->failure.ok()) return;
  peer->failure = std::move(why);
  failed_peers_.push_back(peer);
}

void UcxTransportImpl::HandleFailedPeers() {
  while (!failed_peers_.empty()) {
    std::vector<std::shared_ptr<UcxPeer>> failed;
    failed.swap(failed_peers_);
    for (auto& peer : failed) Retire(peer, peer->failure, Report::kAfterRefresh, Ending::kForce);
  }
}

void UcxTransportImpl::CheckTimeouts(Clock::time_point now) {
  std::vector<std::shared_ptr<UcxPeer>> stalled;
  for (auto& [name, peer] : peers_) {
    if (peer->pending > 0 && now - peer->last_progress > options_.transfer_timeout) {
      stalled.push_back(peer);
    }
  }
  for (auto& peer : stalled) {
    Retire(peer,
           Status(StatusCode::kRpcTimeout,
                  fmt::format("segment {}: no UCX progress for {} ms (endpoint dropped)",
                              peer->name(), options_.transfer_timeout.count())),
           Report::kAfterRefresh, Ending::kForce);
  }
}

void UcxTransportImpl::Retire(std::shared_ptr<UcxPeer> peer, const Status& why, Report report,
                              Ending ending) {
  if (peer->retired) return;
  peer->retired = true;
  if (peer->failure.ok()) peer->failure = why;
  auto it = peers_.find(peer->name());
  if (it != peers_.end() && it->second == peer) peers_.erase(it);
  if (report == Report::kAfterRefresh) endpoints_failed_.fetch_add(1, std::memory_order_relaxed);

  std::vector<Slice> failed;
  for (auto op_it = in_flight_.begin(); op_it != in_flight_.end();) {
    UcxOp* op = (op_it++)->get();  // Settle may move or erase it
    if (op->peer == peer) Settle(op, why, &failed);
  }
  // Even with nothing in flight, a failed peer is looked up again (it may have restarted).
  if (!failed.empty() || report == Report::kAfterRefresh) {
    Deliver(std::move(failed), why, report, peer->name());
  }
  CloseEndpoint(peer, ending);
}

void UcxTransportImpl::Settle(UcxOp* op, const Status& why, std::vector<Slice>* failed) {
  op->settled = true;
  if (op->probe) op->probe->set_value(why);
  for (Slice& slice : op->slices) failed->push_back(std::move(slice));
  op->slices.clear();
  if (op->pending == 0) {
    in_flight_.erase(op->self);
  } else {
    orphans_.splice(orphans_.end(), in_flight_, op->self);  // `self` stays valid
  }
}

void UcxTransportImpl::CloseEndpoint(const std::shared_ptr<UcxPeer>& peer, Ending ending) {
  const bool can_force = peer->mode() == UcxPeer::ErrorMode::kPeer;
  if (ending == Ending::kForce && can_force) {
    ForceClose(peer);
    return;
  }
  if (ending == Ending::kForce && peer->pending > 0) {
    // Requests that may never complete and no failure reporting: nothing can close this
    // endpoint safely but the worker's destruction.
    abandoned_.push_back(peer);
    return;
  }
  // Graceful: let what is outstanding finish (the keys stay until then), then close.
  ucp_request_param_t param{};
  ucs_status_ptr_t request = ucp_ep_flush_nbx(peer->ep(), &param);
  if (UCS_PTR_IS_ERR(request)) {
    if (can_force) {
      ForceClose(peer);
    } else {
      abandoned_.push_back(peer);
    }
    return;
  }
  closing_.push_back(
      {peer, request, /*flushing=*/true, /*forced=*/false, Clock::now() + kCloseTimeout});
}

void UcxTransportImpl::ForceClose(const std::shared_ptr<UcxPeer>& peer) {
  // Outstanding requests complete as canceled (their callbacks may run right here).
  void* request = peer->Close(UcxPeer::CloseMode::kForce);
  if (request == nullptr) {
    peer->DestroyKeys();
    return;
  }
  closing_.push_back(
      {peer, request, /*flushing=*/false, /*forced=*/true, Clock::now() + kCloseTimeout});
}

void UcxTransportImpl::ProgressClosing(Clock::time_point now, bool give_up) {
  for (size_t i = 0; i < closing_.size();) {
    Closing& c = closing_[i];
    const bool done = c.request == nullptr || ucp_request_check_status(c.request) != UCS_INPROGRESS;
    if (done) {
      if (c.request != nullptr) ucp_request_free(c.request);
      c.request = nullptr;
      if (c.flushing) {
        // Step 2: nothing uses the keys any more; destroy them, then close telling the peer.
        c.peer->DestroyKeys();
        c.flushing = false;
        c.request = c.peer->Close(UcxPeer::CloseMode::kFlush);
        c.deadline = now + kCloseTimeout;
        if (c.request != nullptr) {
          ++i;
          continue;
        }
      } else if (c.forced) {
        c.peer->DestroyKeys();
      }
    } else if (give_up || now >= c.deadline) {
      ucp_request_free(c.request);  // released by UCX when it completes
      std::shared_ptr<UcxPeer> peer = c.peer;
      const bool was_flushing = c.flushing;
      closing_[i] = std::move(closing_.back());
      closing_.pop_back();
      if (was_flushing && peer->mode() == UcxPeer::ErrorMode::kPeer) {
        ForceClose(peer);  // the peer stopped answering: cancel what it never answered
      } else {
        abandoned_.push_back(std::move(peer));
      }
      continue;
    } else {
      ++i;
      continue;
    }
    closing_[i] = std::move(closing_.back());
    closing_.pop_back();
  }
}

void UcxTransportImpl::Deliver(std::vector<Slice> slices, const Status& why, Report report,
                               const std::string& segment) {
  failed_slices_.fetch_add(slices.size(), std::memory_order_relaxed);
  if (report == Report::kAfterRefresh && options_.on_peer_failed && !stop_.load()) {
    {
      std::lock_guard lock(notify_mutex_);
      failures_.push_back({segment, std::move(slices), why});
    }
    notify_cv_.notify_one();
    return;
  }
  for (Slice& slice : slices) slice.task->SliceFailed(why);
}

}  // namespace mooncake::transfer::ucx
