#include "transfer/transport/shm/shm_transport.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/logging.h"

namespace mooncake::transfer::shm {

Result<std::unique_ptr<ShmTransport>> ShmTransport::Create(ShmTransportOptions options) {
  std::unique_ptr<ShmTransport> t(new ShmTransport(std::move(options)));
  t->wake_fd_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!t->wake_fd_.valid()) return InternalError(fmt::format("eventfd: {}", std::strerror(errno)));
  t->watcher_ = std::thread([raw = t.get()] { raw->Watch(); });
  return t;
}

ShmTransport::~ShmTransport() {
  stopping_.store(true);
  Wake();
  if (watcher_.joinable()) watcher_.join();
  std::lock_guard lock(mutex_);
  peers_.clear();
}

bool ShmTransport::Reachable(const SegmentDescriptor& target, const std::string& local_host_id) {
  return !target.shm_endpoint.empty() && !target.host_id.empty() && target.host_id == local_host_id;
}

void ShmTransport::Wake() {
  uint64_t one = 1;
  (void)!write(wake_fd_.get(), &one, sizeof(one));
}

Result<std::shared_ptr<ShmPeer>> ShmTransport::PeerFor(const SegmentDescriptor& target) {
  {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(target.name);
    if (it != peers_.end() && it->second->incarnation() == target.incarnation &&
        !it->second->dead()) {
      return it->second;
    }
  }
  ShmPeerOptions peer_options;
  peer_options.local_name = options_.local_name;
  peer_options.io_timeout = options_.io_timeout;
  peer_options.auth_secret = options_.auth_secret;
  MC_ASSIGN_OR_RETURN(std::shared_ptr<ShmPeer> peer,
                      ShmPeer::Connect(target, peer_options, &counters_));
  {
    std::lock_guard lock(mutex_);
    auto& slot = peers_[target.name];
    // A racing thread attached first: keep one peer per incarnation.
    if (slot && slot->incarnation() == target.incarnation && !slot->dead()) return slot;
    slot = peer;
  }
  Wake();  // the watcher picks the new watch connection up
  return peer;
}

Status ShmTransport::Connect(const SegmentDescriptor& target) { return PeerFor(target).status(); }

Status ShmTransport::Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) {
  std::vector<Slice> fallback;
  const MoveOutcome outcome = Move(target, slices, &fallback);
  slices = std::move(fallback);
  if (outcome.refresh_descriptor && options_.on_stale_descriptor) {
    options_.on_stale_descriptor(target.name);
  }
  return outcome.fallback_reason;
}

MoveOutcome ShmTransport::Move(const SegmentDescriptor& target, std::vector<Slice>& slices,
                               std::vector<Slice>* fallback) {
  MoveOutcome outcome;
  auto peer = PeerFor(target);
  if (!peer.ok()) {
    if (peer.status().code() == StatusCode::kSegmentNotFound) {
      // Nobody listens under that incarnation's name: it exited (or restarted elsewhere).
      outcome.refresh_descriptor = true;
      const Status gone =
          TransferFail(fmt::format("segment {} (incarnation {}) exited: {}", target.name,
                                   target.incarnation, peer.status().message()));
      for (Slice& s : slices) s.task->SliceFailed(gone);
    } else {
      outcome.fallback_reason = peer.status();
      counters_.fallback_slices.fetch_add(slices.size(), std::memory_order_relaxed);
      for (Slice& s : slices) fallback->push_back(std::move(s));
    }
    slices.clear();
    return outcome;
  }
  return (*peer)->Move(slices, fallback);
}

void ShmTransport::Disconnect(const std::string& segment_name) {
  std::shared_ptr<ShmPeer> peer;
  {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(segment_name);
    if (it == peers_.end()) return;
    peer = std::move(it->second);
    peers_.erase(it);
  }
  peer->MarkDead();
  Wake();
}

ShmStats ShmTransport::stats() const {
  ShmStats s;
  s.memcpy_bytes = counters_.memcpy_bytes.load();
  s.process_vm_bytes = counters_.process_vm_bytes.load();
  s.fallback_slices = counters_.fallback_slices.load();
  s.fetches = counters_.fetches.load();
  s.mappings = counters_.mappings.load();
  return s;
}

void ShmTransport::Watch() {
  std::vector<pollfd> fds;
  std::vector<std::shared_ptr<ShmPeer>> watched;
  while (!stopping_.load()) {
    fds.assign(1, pollfd{wake_fd_.get(), POLLIN, 0});
    watched.clear();
    {
      std::lock_guard lock(mutex_);
      for (const auto& [name, peer] : peers_) {
        if (peer->dead()) continue;
        fds.push_back({peer->watch_fd(), POLLIN | POLLRDHUP, 0});
        watched.push_back(peer);  // keeps its fd open while we poll it
      }
    }
    int n = poll(fds.data(), fds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      MC_LOG_ERROR("shm watcher: poll failed: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) {
      uint64_t drained;
      (void)!read(wake_fd_.get(), &drained, sizeof(drained));
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) watched[i - 1]->OnWatchReadable();
    }
  }
}

}  // namespace mooncake::transfer::shm
