#pragma once

// Everything this engine holds towards one target segment: for every path (local NIC, remote
// endpoint) a set of `connections` data connections, opened on demand and reopened after a
// loss. Slices go to the live connection with the fewest outstanding bytes, over all paths:
// a faster link drains its queue sooner and so takes a proportionally larger share (weighting
// by observed throughput without a separate estimator). A path whose connect fails backs off
// exponentially; while other paths are live it is reopened in the background, so a dead
// link never stalls submission. Slices of a lost connection are retried once on another live
// connection, then failed naming the peer and cause.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/host_port.h"
#include "mooncake/common/cluster_secret.h"
#include "transfer/slice.h"
#include "transfer/transport/tcp/event_loop.h"
#include "transfer/transport/tcp/initiator_channel.h"
#include "transfer/transport/tcp/path_plan.h"

namespace mooncake::transfer::tcp {

struct TcpPeerOptions {
  std::string local_name;               // announced in HELLO
  std::vector<std::string> local_nics;  // local addresses to send from; empty = any
  int connections = 4;                  // per path
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds transfer_timeout{10000};
  // The cluster secret proved to and demanded of the peer at HELLO (null: none).
  std::shared_ptr<const auth::ClusterSecret> auth_secret;
};

class TcpPeer : public std::enable_shared_from_this<TcpPeer> {
 public:
  // Picks the loop a new connection is served by.
  using LoopPicker = std::function<EventLoop*()>;
  // Told when a handshake shows the peer restarted (a new incarnation).
  using DescriptorListener = std::function<void(const SegmentDescriptor&)>;

  TcpPeer(SegmentDescriptor descriptor, TcpPeerOptions options, LoopPicker pick_loop,
          DescriptorListener on_descriptor);
  ~TcpPeer();

  // With no live connection: opens them now (bounded by connect_timeout per path) and fails,
  // naming the peer and each path's cause, if none opens. With some live: OK at once, and
  // missing connections are reopened in the background.
  Status EnsureConnected();
  // Hands the slices to live connections. On failure, the slices not handed over stay in
  // `slices` for the caller to fail.
  Status Submit(std::vector<Slice>& slices);
  // Closes every connection (their slices fail) and waits for a background reconnect.
  void Shutdown();
  const std::string& name() const { return name_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Path {
    PathPlan plan;
    std::vector<std::shared_ptr<InitiatorChannel>> channels;
    Clock::time_point retry_after{};
    std::chrono::milliseconds backoff{0};
    std::string last_error;
    StatusCode last_code = StatusCode::kOk;
    bool connecting = false;
  };

  // Opens missing connections of the given paths (marked `connecting` by the caller).
  void ConnectPaths(const std::vector<PathPlan>& plans);
  std::shared_ptr<InitiatorChannel> OpenChannel(const PathPlan& plan, Clock::time_point deadline,
                                                Status* error);
  // Rebuilds paths_ from descriptor_, keeping the connections of paths that remain.
  void ReplanLocked();
  std::vector<std::shared_ptr<InitiatorChannel>> LiveChannels();
  void OnLostSlices(InitiatorChannel* from, std::vector<Slice>&& slices, const Status& cause);

  const std::string name_;
  const TcpPeerOptions options_;
  LoopPicker pick_loop_;
  DescriptorListener on_descriptor_;
  std::atomic<size_t> next_channel_{0};

  std::mutex mutex_;                      // guards everything below
  std::condition_variable connected_cv_;  // a path's `connecting` turned false
  SegmentDescriptor descriptor_;
  std::vector<Path> paths_;
  bool shut_down_ = false;
  std::thread reconnector_;
  bool reconnecting_ = false;
};

}  // namespace mooncake::transfer::tcp
