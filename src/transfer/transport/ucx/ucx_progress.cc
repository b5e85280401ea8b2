// The progress thread of the ucx transport: it owns the UCP worker and every endpoint. This
// file holds the worker's creation and destruction, the loop (commands, progress, timeout scans,
// sleeping on the worker's event fd) and shutdown; ucx_operations.cc issues puts and gets and
// reports completions; ucx_peer_retirement.cc enforces the no-progress timeout, fails peers and
// closes endpoints. Nothing in them runs on any other thread (the worker is
// UCS_THREAD_MODE_SINGLE).

#include <fmt/format.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transfer/transport/ucx/ucx_hex.h"
#include "transfer/transport/ucx/ucx_progress_internal.h"
#include "transfer/transport/ucx/ucx_transport_impl.h"

namespace mooncake::transfer::ucx {
namespace {

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

}  // namespace

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

}  // namespace mooncake::transfer::ucx
