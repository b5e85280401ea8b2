#pragma once

// Everything this engine holds towards one target segment: a set of data connections
// (connections_per_peer per endpoint path), opened on demand and reopened after a loss.
// Slices are spread over live connections by least outstanding bytes; slices of a lost
// connection are retried once on another live one, then failed naming the peer and cause.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/host_port.h"
#include "transfer/slice.h"
#include "transfer/transport/tcp/event_loop.h"
#include "transfer/transport/tcp/initiator_channel.h"

namespace mooncake::tcp {

struct TcpPeerOptions {
  std::string local_name;  // announced in HELLO
  int connections = 4;
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds transfer_timeout{10000};
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

  // Opens missing connections (blocking, bounded by connect_timeout). OK when at least one
  // connection is live; otherwise the error names the peer and the cause.
  Status EnsureConnected();
  // Hands the slices to live connections. On failure, the slices not handed over stay in
  // `slices` for the caller to fail.
  Status Submit(std::vector<Slice>& slices);
  // Closes every connection; their slices fail.
  void Shutdown();
  const std::string& name() const { return name_; }

 private:
  std::vector<std::shared_ptr<InitiatorChannel>> LiveChannels();
  void OnLostSlices(InitiatorChannel* from, std::vector<Slice>&& slices, const Status& cause);
  std::vector<HostPort> Endpoints();

  const std::string name_;
  const TcpPeerOptions options_;
  LoopPicker pick_loop_;
  DescriptorListener on_descriptor_;

  std::mutex mutex_;
  SegmentDescriptor descriptor_;
  std::vector<std::shared_ptr<InitiatorChannel>> channels_;
  bool shut_down_ = false;
  std::atomic<size_t> next_channel_{0};
};

}  // namespace mooncake::tcp
