#include "transfer/transport/shm/shm_exporter.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/address_range.h"
#include "common/logging.h"

namespace mooncake::transfer::shm {
namespace {

// Peers beyond this many watch connections are refused (each pins one fd here).
constexpr size_t kMaxWatchers = 4096;

bool SameUserOrRoot(int connection) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  return cred.uid == 0 || cred.uid == geteuid();
}

// "pid 123 (uid 1000)" of the process at the other end, for logs.
std::string PeerOf(int connection) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return "unknown process";
  return fmt::format("pid {} (uid {})", cred.pid, cred.uid);
}

Reply ErrorReply(MessageType type, StatusCode code, const std::string& message) {
  Reply r;
  r.type = type;
  r.status = static_cast<int32_t>(code);
  CopyText(r.message, message);
  return r;
}

}  // namespace

ShmExporter::ShmExporter(ShmExporterOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<ShmExporter>> ShmExporter::Create(ShmExporterOptions options) {
  if (options.slots == 0) return InvalidParams("shm exporter needs at least one slot");
  std::unique_ptr<ShmExporter> e(new ShmExporter(std::move(options)));
  e->endpoint_ = EndpointName(e->options_.segment_name, e->options_.incarnation);
  MC_ASSIGN_OR_RETURN(e->listen_fd_, ListenAbstract(e->endpoint_));
  e->wake_fd_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!e->wake_fd_.valid()) return InternalError(fmt::format("eventfd: {}", std::strerror(errno)));

  const size_t table_bytes = static_cast<size_t>(e->options_.slots) * sizeof(uint64_t);
  e->table_fd_ = UniqueFd(memfd_create("mooncake-te-control", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!e->table_fd_.valid() || ftruncate(e->table_fd_.get(), table_bytes) != 0 ||
      fcntl(e->table_fd_.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return InternalError(fmt::format("creating the shm control table: {}", std::strerror(errno)));
  }
  void* table =
      mmap(nullptr, table_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, e->table_fd_.get(), 0);
  if (table == MAP_FAILED) {
    return InternalError(fmt::format("mapping the shm control table: {}", std::strerror(errno)));
  }
  e->table_ = static_cast<std::atomic<uint64_t>*>(table);  // zero-filled by the kernel
  for (uint32_t s = e->options_.slots; s > 0; --s) e->free_slots_.push_back(s - 1);
  e->server_ = std::thread([raw = e.get()] { raw->Serve(); });
  return e;
}

ShmExporter::~ShmExporter() {
  stopping_.store(true);
  uint64_t one = 1;
  if (wake_fd_.valid()) (void)!write(wake_fd_.get(), &one, sizeof(one));
  if (server_.joinable()) server_.join();
  if (table_ != nullptr) munmap(table_, static_cast<size_t>(options_.slots) * sizeof(uint64_t));
}

void ShmExporter::Export(uint64_t address, uint64_t length, int fd, uint64_t fd_offset) {
  std::shared_ptr<UniqueFd> own_fd;
  if (fd >= 0) {
    own_fd = std::make_shared<UniqueFd>(fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!own_fd->valid()) {
      MC_LOG_WARN("shm: cannot dup the fd of buffer 0x{:x}: {}; peers map it no more", address,
                  std::strerror(errno));
      own_fd.reset();
    }
  }
  std::lock_guard lock(mutex_);
  if (free_slots_.empty()) {
    if (!warned_full_) {
      MC_LOG_WARN(
          "shm: control table full ({} buffers); buffer 0x{:x} and later ones are "
          "served over TCP only",
          options_.slots, address);
    }
    warned_full_ = true;
    return;
  }
  Entry entry;
  entry.length = length;
  entry.id = next_id_++;
  entry.slot = free_slots_.back();
  free_slots_.pop_back();
  entry.fd = std::move(own_fd);
  entry.fd_offset = fd_offset;
  table_[entry.slot].store(entry.id, std::memory_order_seq_cst);
  entries_[address] = std::move(entry);
}

void ShmExporter::Unexport(uint64_t address) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(address);
  if (it == entries_.end()) return;
  // seq_cst: a peer reading the slot after this store (with a fence after its copy) sees 0.
  table_[it->second.slot].store(0, std::memory_order_seq_cst);
  free_slots_.push_back(it->second.slot);
  Notice notice;
  notice.id = it->second.id;
  entries_.erase(it);
  // Best effort: a peer that misses the notice finds the slot cleared on its next copy.
  for (const UniqueFd& w : watchers_) {
    (void)send(w.get(), &notice, sizeof(notice), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
}

size_t ShmExporter::watchers() const {
  std::lock_guard lock(mutex_);
  return watchers_.size();
}

void ShmExporter::Serve() {
  std::vector<pollfd> fds;
  while (!stopping_.load()) {
    fds.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    fds.push_back({listen_fd_.get(), POLLIN, 0});
    {
      std::lock_guard lock(mutex_);
      for (const UniqueFd& w : watchers_) fds.push_back({w.get(), POLLIN | POLLRDHUP, 0});
    }
    int n = poll(fds.data(), fds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      MC_LOG_ERROR("shm exporter: poll failed: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) return;  // stopping
    // A watcher never sends after HELLO: data, hang-up or error all end the connection.
    std::vector<int> gone;
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents != 0) gone.push_back(fds[i].fd);
    }
    if (!gone.empty()) {
      std::lock_guard lock(mutex_);
      std::erase_if(watchers_, [&](const UniqueFd& w) {
        return std::find(gone.begin(), gone.end(), w.get()) != gone.end();
      });
    }
    if (fds[1].revents & POLLIN) {
      for (int i = 0; i < 16; ++i) {
        UniqueFd c(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!c.valid()) break;
        HandleConnection(std::move(c));
      }
    }
  }
}

void ShmExporter::HandleConnection(UniqueFd connection) {
  if (!SameUserOrRoot(connection.get())) return;  // closing it is the answer
  Request request;
  UniqueFd stray;
  if (!ReceiveMessage(connection.get(), &request, sizeof(request), &stray, options_.io_timeout)
           .ok() ||
      request.magic != kShmMagic) {
    return;
  }
  if (request.version != kShmVersion) {
    Reply r = ErrorReply(
        request.type == MessageType::kFetch ? MessageType::kFetchReply : MessageType::kHelloReply,
        StatusCode::kInvalidVersion,
        fmt::format("shm protocol v{} here, v{} asked", kShmVersion, request.version));
    SendMessage(connection.get(), &r, sizeof(r), -1, options_.io_timeout).IgnoreError();
    return;
  }
  if (request.type != MessageType::kHello && request.type != MessageType::kFetch) return;
  if (options_.auth_secret != nullptr && !Authenticate(connection.get(), request)) return;
  switch (request.type) {
    case MessageType::kHello: {
      Reply r;
      r.type = MessageType::kHelloReply;
      if (request.incarnation != options_.incarnation) {
        r = ErrorReply(MessageType::kHelloReply, StatusCode::kInvalidParams,
                       fmt::format("segment {} runs incarnation {}, not {}", options_.segment_name,
                                   options_.incarnation, request.incarnation));
      } else {
        std::lock_guard lock(mutex_);
        if (watchers_.size() >= kMaxWatchers) {
          r = ErrorReply(MessageType::kHelloReply, StatusCode::kNoAvailableHandle,
                         "too many shm peers");
        }
      }
      r.incarnation = options_.incarnation;
      r.slots = options_.slots;
      const bool ok = r.status == 0;
      Status sent = SendMessage(connection.get(), &r, sizeof(r), ok ? table_fd_.get() : -1,
                                options_.io_timeout);
      if (ok && sent.ok()) {
        MC_LOG_DEBUG("shm: peer {} attached to segment {}", TextOf(request.name),
                     options_.segment_name);
        std::lock_guard lock(mutex_);
        watchers_.push_back(std::move(connection));
      }
      return;
    }
    case MessageType::kFetch: {
      std::shared_ptr<UniqueFd> fd;
      Reply r = FetchReply(request, &fd);
      SendMessage(connection.get(), &r, sizeof(r), fd ? fd->get() : -1, options_.io_timeout)
          .IgnoreError();
      return;
    }
    default:
      return;
  }
}

bool ShmExporter::Authenticate(int connection, const Request& request) {
  const std::string initiator = TextOf(request.name);
  Reply challenge;
  challenge.type = MessageType::kChallenge;
  challenge.incarnation = options_.incarnation;
  challenge.nonce = auth::RandomNonce();
  challenge.proof = ProvePeer(*options_.auth_secret, AuthStep::kShmTarget, request.nonce,
                              challenge.nonce, initiator, options_.segment_name);
  if (!SendMessage(connection, &challenge, sizeof(challenge), -1, options_.io_timeout).ok()) {
    return false;
  }
  Request answer;
  UniqueFd stray;
  Status received =
      ReceiveMessage(connection, &answer, sizeof(answer), &stray, options_.io_timeout);
  std::string why;
  if (!received.ok()) {
    why = "did not answer the challenge (" + received.message() + ")";
  } else if (answer.magic != kShmMagic || answer.type != MessageType::kProof) {
    why = "sent no proof of the cluster secret";
  } else if (!CheckPeerProof(*options_.auth_secret, AuthStep::kShmInitiator, answer.proof,
                             challenge.nonce, request.nonce, initiator, options_.segment_name)) {
    why = "wrong proof of the cluster secret";
  } else {
    return true;
  }
  if (options_.auth_refusals != nullptr) {
    options_.auth_refusals->Refused("shm", PeerOf(connection),
                                    fmt::format("'{}' {}", initiator, why));
  }
  // No detail for the peer: it learns that it failed, not why.
  Reply refused = ErrorReply(
      request.type == MessageType::kFetch ? MessageType::kFetchReply : MessageType::kHelloReply,
      StatusCode::kUnauthenticated, "authentication failed");
  SendMessage(connection, &refused, sizeof(refused), -1, options_.io_timeout).IgnoreError();
  return false;
}

Reply ShmExporter::FetchReply(const Request& request, std::shared_ptr<UniqueFd>* fd) {
  std::lock_guard lock(mutex_);
  auto it = FindContaining(entries_, request.address, request.length, [](const auto& entry) {
    return AddressRange{entry.first, entry.second.length};
  });
  if (it != entries_.end()) {
    const Entry& e = it->second;
    Reply r;
    r.type = MessageType::kFetchReply;
    r.incarnation = options_.incarnation;
    r.slot = e.slot;
    r.id = e.id;
    r.base = it->first;
    r.length = e.length;
    r.fd_offset = e.fd_offset;
    *fd = e.fd;
    return r;
  }
  return ErrorReply(MessageType::kFetchReply, StatusCode::kInvalidParams,
                    fmt::format("range 0x{:x}+{} is outside the registered buffers",
                                request.address, request.length));
}

}  // namespace mooncake::transfer::shm
