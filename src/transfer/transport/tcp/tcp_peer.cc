#include "transfer/transport/tcp/tcp_peer.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/logging.h"
#include "transfer/transport/tcp/handshake.h"

namespace mooncake::transfer::tcp {
namespace {

constexpr std::chrono::milliseconds kMinBackoff{250};
constexpr std::chrono::milliseconds kMaxBackoff{10000};

bool SamePlan(const PathPlan& a, const PathPlan& b) {
  return a.local == b.local && a.remote.host == b.remote.host && a.remote.port == b.remote.port;
}

std::string PathLabel(const PathPlan& p) {
  return p.local.empty() ? p.remote.ToString()
                         : fmt::format("{}->{}", p.local, p.remote.ToString());
}

}  // namespace

TcpPeer::TcpPeer(SegmentDescriptor descriptor, TcpPeerOptions options, LoopPicker pick_loop,
                 DescriptorListener on_descriptor)
    : name_(descriptor.name),
      options_(std::move(options)),
      pick_loop_(std::move(pick_loop)),
      on_descriptor_(std::move(on_descriptor)),
      descriptor_(std::move(descriptor)) {
  std::lock_guard lock(mutex_);
  ReplanLocked();
}

TcpPeer::~TcpPeer() { Shutdown(); }

void TcpPeer::ReplanLocked() {
  std::vector<Path> next;
  for (const PathPlan& plan : PlanPaths(options_.local_nics, descriptor_.endpoints)) {
    auto old = std::find_if(paths_.begin(), paths_.end(),
                            [&](const Path& p) { return SamePlan(p.plan, plan); });
    if (old != paths_.end()) {
      next.push_back(std::move(*old));
      paths_.erase(old);
    } else {
      Path fresh;
      fresh.plan = plan;
      next.push_back(std::move(fresh));
    }
  }
  // Paths no longer published keep nothing worth keeping; their slices are retried elsewhere.
  for (Path& gone : paths_) {
    for (auto& c : gone.channels)
      c->Close(TransferFail(fmt::format("{} left segment {}", PathLabel(gone.plan), name_)));
  }
  paths_ = std::move(next);
}

Status TcpPeer::EnsureConnected() {
  std::vector<PathPlan> mine;
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return TransferFail(fmt::format("segment {} was closed", name_));
    if (paths_.empty()) return TransferFail(fmt::format("segment {} publishes no endpoint", name_));
    bool any_live = false;
    for (Path& p : paths_) {
      std::erase_if(p.channels, [](const auto& c) { return c->closed(); });
      any_live = any_live || !p.channels.empty();
    }
    const auto now = Clock::now();
    const size_t wanted = static_cast<size_t>(options_.connections);
    for (Path& p : paths_) {
      // With nothing live, try every path regardless of back-off: the caller waits anyway.
      if (p.channels.size() < wanted && !p.connecting && (!any_live || now >= p.retry_after)) {
        p.connecting = true;
        mine.push_back(p.plan);
      }
    }
    if (any_live) {
      if (!mine.empty()) {
        if (reconnecting_) {
          for (Path& p : paths_) {
            for (const PathPlan& m : mine) {
              if (SamePlan(p.plan, m)) p.connecting = false;
            }
          }
        } else {
          if (reconnector_.joinable()) reconnector_.join();  // finished: reconnecting_ is false
          reconnecting_ = true;
          reconnector_ = std::thread([this, mine] { ConnectPaths(mine); });
        }
      }
      return Status::Ok();
    }
  }
  if (!mine.empty()) ConnectPaths(mine);

  std::unique_lock lock(mutex_);
  // Another caller may be connecting the paths we skipped: wait for it, bounded.
  connected_cv_.wait_for(lock, options_.connect_timeout + std::chrono::seconds(1), [&] {
    return shut_down_ ||
           std::none_of(paths_.begin(), paths_.end(), [](const Path& p) { return p.connecting; });
  });
  std::string causes;
  bool all_unauthenticated = true;
  for (const Path& p : paths_) {
    if (!p.channels.empty()) return Status::Ok();
    causes += fmt::format("{}{}: {}", causes.empty() ? "" : "; ", PathLabel(p.plan),
                          p.last_error.empty() ? "not connected" : p.last_error);
    all_unauthenticated = all_unauthenticated && p.last_code == StatusCode::kUnauthenticated;
  }
  // Callers (and users) branch on an authentication failure: keep its code.
  return Status(all_unauthenticated ? StatusCode::kUnauthenticated : StatusCode::kTransferFail,
                fmt::format("segment {} unreachable: {}", name_, causes));
}

void TcpPeer::ConnectPaths(const std::vector<PathPlan>& plans) {
  for (const PathPlan& plan : plans) {
    const auto deadline = Clock::now() + options_.connect_timeout;
    for (int k = 0; k < options_.connections; ++k) {
      {
        std::lock_guard lock(mutex_);
        auto path = std::find_if(paths_.begin(), paths_.end(),
                                 [&](const Path& p) { return SamePlan(p.plan, plan); });
        if (shut_down_ || path == paths_.end() ||
            path->channels.size() >= static_cast<size_t>(options_.connections)) {
          break;
        }
      }
      Status error;
      auto channel = OpenChannel(plan, deadline, &error);
      std::lock_guard lock(mutex_);
      auto path = std::find_if(paths_.begin(), paths_.end(),
                               [&](const Path& p) { return SamePlan(p.plan, plan); });
      if (!channel) {
        if (path != paths_.end()) {
          path->backoff = std::clamp(path->backoff * 2, kMinBackoff, kMaxBackoff);
          path->retry_after = Clock::now() + path->backoff;
          path->last_error = error.message();
          path->last_code = error.code();
        }
        break;  // the path is down: do not wait out the deadline once per connection
      }
      if (shut_down_ || path == paths_.end()) {
        channel->Close(TransferFail(fmt::format("segment {} was closed", name_)));
        break;
      }
      path->channels.push_back(std::move(channel));
      path->backoff = std::chrono::milliseconds(0);
      path->last_error.clear();
      path->last_code = StatusCode::kOk;
    }
  }
  std::lock_guard lock(mutex_);
  for (Path& p : paths_) {
    for (const PathPlan& plan : plans) {
      if (SamePlan(p.plan, plan)) p.connecting = false;
    }
  }
  if (std::this_thread::get_id() == reconnector_.get_id()) reconnecting_ = false;
  connected_cv_.notify_all();
}

std::shared_ptr<InitiatorChannel> TcpPeer::OpenChannel(const PathPlan& plan,
                                                       Clock::time_point deadline, Status* error) {
  auto hs = ConnectAndHandshake(plan.remote, options_.local_name, options_.auth_secret.get(),
                                deadline, plan.local);
  if (!hs.ok()) {
    *error = hs.status();
    return nullptr;
  }
  bool restarted;
  {
    std::lock_guard lock(mutex_);
    restarted = hs->descriptor.incarnation != descriptor_.incarnation;
    if (restarted) {
      descriptor_ = hs->descriptor;
      ReplanLocked();
    }
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
    *error = attached;
    return nullptr;
  }
  return channel;
}

std::vector<std::shared_ptr<InitiatorChannel>> TcpPeer::LiveChannels() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<InitiatorChannel>> live;
  for (const Path& p : paths_) {
    for (const auto& c : p.channels) {
      if (!c->closed()) live.push_back(c);
    }
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
    size_t rotate = next_channel_.fetch_add(1, std::memory_order_relaxed);
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
  for (size_t attempt = 0; attempt < others.size() && !retry.empty(); ++attempt) {
    if (others[attempt]->Submit(retry)) return;
  }
  for (Slice& s : retry) {
    s.task->SliceFailed(cause.WithContext(fmt::format("transfer to segment {}", name_)));
  }
}

void TcpPeer::Shutdown() {
  std::vector<std::shared_ptr<InitiatorChannel>> channels;
  std::thread reconnector;
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
    for (Path& p : paths_) {
      for (auto& c : p.channels) channels.push_back(std::move(c));
      p.channels.clear();
    }
    reconnector = std::move(reconnector_);
    connected_cv_.notify_all();
  }
  for (auto& c : channels) c->Close(TransferFail(fmt::format("segment {} was closed", name_)));
  // A background connect is bounded by connect_timeout; its channels are closed on arrival.
  if (reconnector.joinable()) {
    if (reconnector.get_id() == std::this_thread::get_id()) {
      reconnector.detach();
    } else {
      reconnector.join();
    }
  }
}

}  // namespace mooncake::transfer::tcp
