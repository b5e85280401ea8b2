#include "transfer/transport/tcp/tcp_peer.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/logging.h"
#include "transfer/transport/tcp/handshake.h"

namespace mooncake::tcp {

TcpPeer::TcpPeer(SegmentDescriptor descriptor, TcpPeerOptions options, LoopPicker pick_loop,
                 DescriptorListener on_descriptor)
    : name_(descriptor.name),
      options_(std::move(options)),
      pick_loop_(std::move(pick_loop)),
      on_descriptor_(std::move(on_descriptor)),
      descriptor_(std::move(descriptor)) {}

TcpPeer::~TcpPeer() { Shutdown(); }

std::vector<HostPort> TcpPeer::Endpoints() {
  std::lock_guard lock(mutex_);
  std::vector<HostPort> out;
  for (const auto& e : descriptor_.endpoints) out.push_back({e.host, e.port});
  return out;
}

Status TcpPeer::EnsureConnected() {
  size_t missing = 0;
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return TransferFail(fmt::format("segment {} was closed", name_));
    std::erase_if(channels_, [](const auto& c) { return c->closed(); });
    // Concurrent callers may together open more than `connections`: never let it wrap.
    const size_t wanted = static_cast<size_t>(options_.connections);
    missing = channels_.size() >= wanted ? 0 : wanted - channels_.size();
  }
  if (missing == 0) return Status::Ok();

  std::vector<HostPort> endpoints = Endpoints();
  if (endpoints.empty()) {
    return TransferFail(fmt::format("segment {} publishes no endpoint", name_));
  }
  Status last_error;
  const auto deadline = std::chrono::steady_clock::now() + options_.connect_timeout;
  for (size_t i = 0; i < missing; ++i) {
    const HostPort& endpoint = endpoints[i % endpoints.size()];
    auto hs = ConnectAndHandshake(endpoint, options_.local_name, deadline);
    if (!hs.ok()) {
      last_error = hs.status();
      break;  // the peer is down or refusing: do not wait out the deadline once per slot
    }
    bool restarted;
    {
      std::lock_guard lock(mutex_);
      restarted = hs->descriptor.incarnation != descriptor_.incarnation;
      if (restarted) descriptor_ = hs->descriptor;
    }
    if (restarted) {
      MC_LOG_INFO("segment {} restarted (incarnation {}), descriptor refreshed", name_,
                  hs->descriptor.incarnation);
      on_descriptor_(hs->descriptor);
    }
    std::weak_ptr<TcpPeer> weak = weak_from_this();
    auto channel = std::make_shared<InitiatorChannel>(
        std::move(hs->fd), pick_loop_(), name_, options_.transfer_timeout,
        [weak](InitiatorChannel* from, std::vector<Slice>&& slices, const Status& cause) {
          if (auto self = weak.lock()) {
            self->OnLostSlices(from, std::move(slices), cause);
            return;
          }
          for (Slice& s : slices) s.task->SliceFailed(cause);
        });
    Status attached = channel->Attach();
    if (!attached.ok()) {
      last_error = attached;
      break;
    }
    std::lock_guard lock(mutex_);
    channels_.push_back(std::move(channel));
  }
  std::lock_guard lock(mutex_);
  if (!channels_.empty()) return Status::Ok();
  return last_error.WithContext(fmt::format("segment {}", name_));
}

std::vector<std::shared_ptr<InitiatorChannel>> TcpPeer::LiveChannels() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<InitiatorChannel>> live;
  for (const auto& c : channels_) {
    if (!c->closed()) live.push_back(c);
  }
  return live;
}

Status TcpPeer::Submit(std::vector<Slice>& slices) {
  // A lost connection may leave slots empty: reopen before spreading the batch.
  MC_RETURN_IF_ERROR(EnsureConnected());
  for (int attempt = 0; attempt < 2 && !slices.empty(); ++attempt) {
    auto live = LiveChannels();
    if (live.empty()) break;
    // Assign each slice to the channel with the least outstanding bytes, counting what this
    // call already assigned, then send per channel in one vectored write.
    std::vector<uint64_t> load(live.size());
    for (size_t i = 0; i < live.size(); ++i) load[i] = live[i]->inflight_bytes();
    std::vector<std::vector<Slice>> per_channel(live.size());
    size_t rotate = next_channel_++;
    for (Slice& s : slices) {
      size_t best = rotate % live.size();
      for (size_t k = 0; k < live.size(); ++k) {
        size_t i = (rotate + k) % live.size();
        if (load[i] < load[best]) best = i;
      }
      load[best] += s.length + 64;  // + a frame's cost, so tiny slices spread too
      per_channel[best].push_back(std::move(s));
    }
    slices.clear();
    for (size_t i = 0; i < live.size(); ++i) {
      if (per_channel[i].empty()) continue;
      if (!live[i]->Submit(per_channel[i])) {
        // Closed in the meantime: try again with the channels still alive.
        for (Slice& s : per_channel[i]) slices.push_back(std::move(s));
      }
    }
  }
  if (slices.empty()) return Status::Ok();
  return TransferFail(fmt::format("segment {}: every connection was lost", name_));
}

void TcpPeer::OnLostSlices(InitiatorChannel* from, std::vector<Slice>&& slices,
                           const Status& cause) {
  std::vector<std::shared_ptr<InitiatorChannel>> others;
  for (auto& c : LiveChannels()) {
    if (c.get() != from) others.push_back(c);
  }
  std::vector<Slice> retry;
  for (Slice& s : slices) {
    if (s.retries_left > 0 && !others.empty()) {
      --s.retries_left;
      retry.push_back(std::move(s));
    } else {
      s.task->SliceFailed(cause.WithContext(fmt::format("transfer to segment {}", name_)));
    }
  }
  if (retry.empty()) return;
  MC_LOG_WARN("segment {}: connection lost ({}); retrying {} slices on another connection", name_,
              cause.ToString(), retry.size());
  size_t rr = 0;
  for (size_t attempt = 0; attempt < others.size() && !retry.empty(); ++attempt) {
    if (others[rr++ % others.size()]->Submit(retry)) return;
  }
  for (Slice& s : retry) {
    s.task->SliceFailed(cause.WithContext(fmt::format("transfer to segment {}", name_)));
  }
}

void TcpPeer::Shutdown() {
  std::vector<std::shared_ptr<InitiatorChannel>> channels;
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
    channels.swap(channels_);
  }
  for (auto& c : channels) c->Close(TransferFail(fmt::format("segment {} was closed", name_)));
}

}  // namespace mooncake::tcp
