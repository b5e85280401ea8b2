#include "transfer/transport/tcp/tcp_transport.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/logging.h"
#include "transfer/transport/tcp/target_session.h"

namespace mooncake::transfer::tcp {
namespace {

// "ip:port" of an accepted peer, for logs.
std::string AddressOf(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    return fmt::format("{}:{}", text, ntohs(v4->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    return fmt::format("[{}]:{}", text, ntohs(v6->sin6_port));
  }
  return "an unknown address";
}

}  // namespace

// Accepts connections and hands each to a loop as a TargetSession.
class TcpTransport::Listener : public EventHandler {
 public:
  Listener(UniqueFd fd, TcpTransport* owner, const MemoryRegistry* registry,
           DescriptorProvider descriptor)
      : fd_(std::move(fd)),
        owner_(owner),
        registry_(registry),
        descriptor_(std::move(descriptor)) {}

  int fd() const override { return fd_.get(); }

  void OnEvents(uint32_t) override {
    for (int i = 0; i < 64; ++i) {  // bounded per wake-up; level-triggered epoll calls again
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      int fd = accept4(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len,
                       SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // The connection stays queued and level-triggered epoll reports it again at once:
          // stop watching until the next tick instead of spinning (and logging) at full speed.
          if (!starved_)
            MC_LOG_WARN("accept failed, pausing until resources free up: {}", std::strerror(errno));
          starved_ = true;
          owner_->loops_[0]->Modify(this, 0).IgnoreError();
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          starved_ = false;  // the queue drained (the waiting peers gave up)
        } else if (errno != EINTR) {
          MC_LOG_WARN("accept failed: {}", std::strerror(errno));
        }
        return;
      }
      if (starved_) MC_LOG_INFO("accepting connections again");
      starved_ = false;
      TuneSocket(fd);
      TargetIdentity identity;
      identity.name = owner_->local_name_;
      identity.secret = owner_->options_.auth_secret.get();
      identity.refusals = owner_->options_.auth_refusals;
      auto session = std::make_shared<TargetSession>(
          UniqueFd(fd), owner_->NextLoop(), AddressOf(addr), registry_,
          owner_->options_.file_segments, owner_->options_.peer_counters, descriptor_,
          owner_->options_.hello_timeout, owner_->options_.incarnation_tag, std::move(identity));
      Status attached = session->Attach();
      if (!attached.ok()) MC_LOG_WARN("cannot serve connection: {}", attached.ToString());
    }
  }

  void OnTick(std::chrono::steady_clock::time_point) override {
    if (starved_) owner_->loops_[0]->Modify(this, EPOLLIN).IgnoreError();  // try again
  }

 private:
  UniqueFd fd_;
  TcpTransport* owner_;
  const MemoryRegistry* registry_;
  DescriptorProvider descriptor_;
  bool starved_ = false;  // out of descriptors: not watched until the next tick (loop thread)
};

TcpTransport::TcpTransport(TcpTransportOptions options, DescriptorListener on_peer_restart)
    : options_(std::move(options)), on_peer_restart_(std::move(on_peer_restart)) {}

Result<std::unique_ptr<TcpTransport>> TcpTransport::Create(TcpTransportOptions options,
                                                           const MemoryRegistry* registry,
                                                           DescriptorProvider descriptor,
                                                           DescriptorListener on_peer_restart) {
  MC_ASSIGN_OR_RETURN(UniqueFd listen_fd, Listen(options.listen));
  MC_ASSIGN_OR_RETURN(uint16_t port, LocalPort(listen_fd.get()));
  std::unique_ptr<TcpTransport> transport(
      new TcpTransport(std::move(options), std::move(on_peer_restart)));
  transport->port_ = port;
  // Known before the first connection is accepted: targets name themselves in challenges.
  transport->local_name_ = HostPort{transport->options_.listen.host, port}.ToString();
  for (int i = 0; i < transport->options_.io_threads; ++i) {
    MC_ASSIGN_OR_RETURN(auto loop, EventLoop::Create(std::chrono::milliseconds(100)));
    transport->loops_.push_back(std::move(loop));
  }
  auto listener =
      std::make_shared<Listener>(std::move(listen_fd), transport.get(), registry, descriptor);
  MC_RETURN_IF_ERROR(transport->loops_[0]->Add(listener, EPOLLIN));
  // Every NIC serves on the same port, so an endpoint list is just addresses plus one port.
  for (const std::string& nic : transport->options_.nics) {
    if (nic == transport->options_.listen.host) continue;
    auto nic_fd = Listen(HostPort{nic, port});
    if (!nic_fd.ok()) return nic_fd.status().WithContext(fmt::format("NIC {}", nic));
    auto nic_listener =
        std::make_shared<Listener>(std::move(*nic_fd), transport.get(), registry, descriptor);
    MC_RETURN_IF_ERROR(transport->loops_[0]->Add(nic_listener, EPOLLIN));
  }
  return transport;
}

TcpTransport::~TcpTransport() {
  Stop();
  loops_.clear();
}

void TcpTransport::Stop() {
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, peer] : peers_) peer->Shutdown();
    peers_.clear();
  }
  // Stopping a loop closes its remaining connections, failing their slices. Idempotent.
  for (auto& loop : loops_) loop->Stop();
}

EventLoop* TcpTransport::NextLoop() {
  return loops_[next_loop_.fetch_add(1, std::memory_order_relaxed) % loops_.size()].get();
}

std::vector<EndpointDescriptor> TcpTransport::endpoints() const {
  if (options_.nics.empty()) return {EndpointDescriptor{options_.listen.host, port_}};
  std::vector<EndpointDescriptor> out;
  for (const std::string& nic : options_.nics) out.push_back({nic, port_});
  return out;
}

std::shared_ptr<TcpPeer> TcpTransport::GetOrCreatePeer(const SegmentDescriptor& target) {
  std::lock_guard lock(mutex_);
  auto it = peers_.find(target.name);
  if (it != peers_.end()) return it->second;
  TcpPeerOptions peer_options;
  peer_options.local_name = local_name_;
  peer_options.local_nics = options_.nics;
  peer_options.connections = options_.connections_per_peer;
  peer_options.connect_timeout = options_.connect_timeout;
  peer_options.transfer_timeout = options_.transfer_timeout;
  peer_options.auth_secret = options_.auth_secret;
  auto peer = std::make_shared<TcpPeer>(
      target, peer_options, [this] { return NextLoop(); }, on_peer_restart_);
  peers_.emplace(target.name, peer);
  return peer;
}

Status TcpTransport::Connect(const SegmentDescriptor& target) {
  return GetOrCreatePeer(target)->EnsureConnected();
}

Status TcpTransport::Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) {
  return GetOrCreatePeer(target)->Submit(slices);
}

void TcpTransport::Disconnect(const std::string& segment_name) {
  std::shared_ptr<TcpPeer> peer;
  {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(segment_name);
    if (it == peers_.end()) return;
    peer = std::move(it->second);
    peers_.erase(it);
  }
  peer->Shutdown();
}

}  // namespace mooncake::transfer::tcp
