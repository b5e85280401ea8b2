// The progress thread of the ucx transport: it owns the UCP worker and every endpoint, issues
// puts and gets, reports completions, enforces the no-progress timeout and closes endpoints.
// Nothing here runs on any other thread (the worker is UCS_THREAD_MODE_SINGLE).

#include <fmt/format.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/logging.h"
#include "transfer/transport/ucx/ucx_hex.h"
#include "transfer/transport/ucx/ucx_transport_impl.h"

namespace mooncake::transfer::ucx {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using tcp::UniqueFd;

// With operations in flight the progress thread polls the worker this many times in a row
// without finding anything before it sleeps on the worker's event fd ...
constexpr int kSpinsBeforeSleep = 64;
// ... for at most this long (bounds the delay where a transport signals no event) ...
constexpr int kBusySleepMs = 1;
// ... and this long when nothing is in flight.
constexpr int kIdleSleepMs = 100;
// How often endpoints are checked for the no-progress timeout.
constexpr milliseconds kTimeoutScan{1};
// An endpoint close still running after this is left to the worker's destruction.
constexpr milliseconds kCloseTimeout{1000};
const char* OpName(TransferOpcode opcode) {
  return opcode == TransferOpcode::kRead ? "READ (get)" : "WRITE (put)";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Progress thread.

void UcxTransportImpl::Run(std::promise<Status>* started) {
  Status created = CreateWorker();
  const bool ok = created.ok();
  started->set_value(std::move(created));
  if (!ok) {
    DestroyWorker();
    return;
  }
  Loop();
  Shutdown();
  DestroyWorker();
}

Status UcxTransportImpl::CreateWorker() {
  // Created on the thread that uses it: UCS_THREAD_MODE_SINGLE is a promise about that.
  const std::string name = "mooncake-te " + options_.local_name;
  ucp_worker_params_t params{};
  params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE | UCP_WORKER_PARAM_FIELD_NAME;
  params.thread_mode = UCS_THREAD_MODE_SINGLE;
  params.name = name.c_str();
  ucs_status_t status = ucp_worker_create(context_, &params, &worker_);
  if (status != UCS_OK) {
    worker_ = nullptr;
    return InternalError(fmt::format("ucp_worker_create: {}", ucs_status_string(status)));
  }
  ucp_address_t* address = nullptr;
  size_t address_length = 0;
  status = ucp_worker_get_address(worker_, &address, &address_length);
  if (status != UCS_OK) {
    return InternalError(fmt::format("ucp_worker_get_address: {}", ucs_status_string(status)));
  }
  worker_address_ = HexEncode(address, address_length);
  ucp_worker_release_address(worker_, address);

  int worker_fd = -1;
  status = ucp_worker_get_efd(worker_, &worker_fd);
  if (status != UCS_OK) {
    return InternalError(fmt::format("ucp_worker_get_efd: {}", ucs_status_string(status)));
  }
  epoll_fd_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_.valid()) return InternalError(fmt::format("epoll: {}", std::strerror(errno)));
  for (int fd : {worker_fd, wake_fd_.get()}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
      return InternalError(fmt::format("epoll_ctl: {}", std::strerror(errno)));
    }
  }
  return Status::Ok();
}

void UcxTransportImpl::Loop() {
  int idle = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    bool worked = RunCommands();
    while (ucp_worker_progress(worker_) != 0) worked = true;
    HandleFailedPeers();
    const auto now = Clock::now();
    if (now >= next_timeout_scan_) {
      CheckTimeouts(now);
      ProgressClosing(now, /*give_up=*/false);
      next_timeout_scan_ = now + kTimeoutScan;
    }
    if (worked) {
      idle = 0;
      continue;
    }
    const bool busy = !in_flight_.empty();
    if (busy && ++idle < kSpinsBeforeSleep) continue;
    idle = 0;
    Sleep(busy || !closing_.empty() ? kBusySleepMs : kIdleSleepMs);
  }
}

bool UcxTransportImpl::RunCommands() {
  std::vector<std::function<void()>> commands;
  {
    std::lock_guard lock(queue_mutex_);
    if (queue_.empty()) return false;
    commands.swap(queue_);
  }
  for (auto& command : commands) command();
  return true;
}

void UcxTransportImpl::Sleep(int timeout_ms) {
  sleeping_.store(true);
  {
    std::lock_guard lock(queue_mutex_);
    if (!queue_.empty() || stopping_) {
      sleeping_.store(false);
      return;
    }
  }
  // Arming fails with BUSY when events are already pending: progress them instead.
  if (ucp_worker_arm(worker_) == UCS_ERR_BUSY) {
    sleeping_.store(false);
    return;
  }
  epoll_event events[2];
  int n = epoll_wait(epoll_fd_.get(), events, 2, timeout_ms);
  sleeping_.store(false);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd == wake_fd_.get()) {
      uint64_t drained;
      (void)!read(wake_fd_.get(), &drained, sizeof(drained));
    }
  }
}

void UcxTransportImpl::Shutdown() {
  RunCommands();  // late submissions fail (stop_ is set), late connects are answered
  std::vector<std::shared_ptr<UcxPeer>> peers;
  for (auto& [name, peer] : peers_) peers.push_back(peer);
  for (auto& peer : peers) {
    Retire(
        peer,
        TransferFail(fmt::format("segment {}: the transfer engine is shutting down", peer->name())),
        Report::kNow, Ending::kGraceful);
  }
  HandleFailedPeers();
  const auto deadline = Clock::now() + kCloseTimeout;
  while (!closing_.empty() && Clock::now() < deadline) {
    ucp_worker_progress(worker_);
    ProgressClosing(Clock::now(), /*give_up=*/false);
  }
  ProgressClosing(Clock::now(), /*give_up=*/true);
}

void UcxTransportImpl::DestroyWorker() {
  if (worker_ != nullptr) {
    // Abandoned endpoints (peers that stopped answering) go with the worker; their keys first.
    for (auto& peer : abandoned_) peer->DestroyKeys();
    ucp_worker_destroy(worker_);  // may still complete orphaned requests (callbacks run here)
    worker_ = nullptr;
  }
  abandoned_.clear();
  orphans_.clear();
  in_flight_.clear();
  peers_.clear();
  std::map<uint64_t, std::shared_ptr<UcxRegion>> regions;
  {
    std::lock_guard lock(regions_mutex_);
    regions.swap(regions_);
  }
  regions.clear();  // ucp_mem_unmap, before the context goes
}

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
      auto it = regions_.upper_bound(local);
      if (it != regions_.begin() && std::prev(it)->second->Contains(local, slice.length)) {
        region = std::prev(it)->second;
      }
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
      if (op->staging) std::memcpy(slice.local, op->staging.get(), slice.length);
      counter.fetch_add(slice.length, std::memory_order_relaxed);
      slice.task->SliceSucceeded(slice.length);
    }
  }
  in_flight_.erase(op->self);
}

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
