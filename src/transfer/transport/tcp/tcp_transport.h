#pragma once

// The TCP transport: a listener serving this engine's segment, a small fixed set of epoll
// threads shared by all connections, and one TcpPeer per target segment.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/host_port.h"
#include "mooncake/common/cluster_secret.h"
#include "transfer/memory_registry.h"
#include "transfer/peer_auth.h"
#include "transfer/peer_counters.h"
#include "transfer/transport/file/file_segments.h"
#include "transfer/transport/tcp/event_loop.h"
#include "transfer/transport/tcp/tcp_peer.h"
#include "transfer/transport/transport.h"

namespace mooncake::transfer::tcp {

struct TcpTransportOptions {
  HostPort listen;  // the segment's name address; port 0: any free port
  // NIC addresses: each also listens on the same port and is published as an endpoint, and
  // outgoing connections are spread over them. Empty: the `listen` host only.
  std::vector<std::string> nics;
  int io_threads = 2;
  int connections_per_peer = 4;
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds transfer_timeout{10000};
  // An accepted connection that sends no HELLO for this long is dropped (default 10 s).
  std::chrono::milliseconds hello_timeout{10000};
  // IncarnationTag of this engine's incarnation: requests tagged otherwise are refused.
  uint32_t incarnation_tag = 0;
  // File segments served besides registered memory (not owned; may be null: none).
  file::FileSegments* file_segments = nullptr;
  // Where bytes served to each peer are counted (not owned; may be null: not counted).
  PeerCounterTable* peer_counters = nullptr;
  // The cluster secret (null: none). Set: peers connecting to us must prove it before they are
  // served anything, and we prove it to the peers we connect to (peer_auth.h).
  std::shared_ptr<const auth::ClusterSecret> auth_secret;
  // Where peers that failed to prove the secret are counted (not owned; may be null).
  AuthRefusals* auth_refusals = nullptr;
};

class TcpTransport : public Transport {
 public:
  using DescriptorProvider = std::function<std::string()>;
  using DescriptorListener = std::function<void(const SegmentDescriptor&)>;

  // Listens at once, so the actual port is known before the segment is published.
  static Result<std::unique_ptr<TcpTransport>> Create(TcpTransportOptions options,
                                                      const MemoryRegistry* registry,
                                                      DescriptorProvider descriptor,
                                                      DescriptorListener on_peer_restart);
  ~TcpTransport() override;

  // Stops serving and initiating: shuts every peer down and joins the I/O threads, failing
  // slices in flight. Idempotent; the destructor calls it. After it, no callback (descriptor
  // provider, peer listener) runs any more, so an owner can stop the transport first and then
  // tear down what those callbacks read.
  void Stop();

  // This segment's name: the listen host and the port actually bound.
  const std::string& local_name() const { return local_name_; }
  uint16_t port() const { return port_; }

  std::vector<EndpointDescriptor> endpoints() const override;
  Status Connect(const SegmentDescriptor& target) override;
  Status Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) override;
  void Disconnect(const std::string& segment_name) override;

 private:
  class Listener;
  TcpTransport(TcpTransportOptions options, DescriptorListener on_peer_restart);
  std::shared_ptr<TcpPeer> GetOrCreatePeer(const SegmentDescriptor& target);
  EventLoop* NextLoop();

  const TcpTransportOptions options_;
  DescriptorListener on_peer_restart_;
  std::string local_name_;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::atomic<size_t> next_loop_{0};

  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<TcpPeer>> peers_;
};

}  // namespace mooncake::transfer::tcp
