#include "transfer/transport/shm/shm_peer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "common/address_range.h"
#include "common/logging.h"
#include "mooncake/common/crc32c.h"
#include "transfer/peer_auth.h"

namespace mooncake::transfer::shm {
namespace {

// Liveness and slot re-checks happen at least once per this many copied bytes.
constexpr uint64_t kCheckBytes = 4 << 20;
// A control table larger than this is refused (a sane owner has 8192 slots).
constexpr uint64_t kMaxSlots = 1 << 20;

// True when `fd` is a file sealed against shrinking and at least `end` bytes long: a mapping
// of [0, end) can then never raise SIGBUS, whatever its owner does.
bool SafeToMap(int fd, uint64_t end) {
  int seals = fcntl(fd, F_GET_SEALS);
  struct stat st {};
  return seals >= 0 && (seals & F_SEAL_SHRINK) != 0 && fstat(fd, &st) == 0 && st.st_size >= 0 &&
         static_cast<uint64_t>(st.st_size) >= end;
}

// The address range of a `buffers_` entry.
constexpr auto RangeOfEntry = [](const auto& entry) { return entry.second->range(); };

// Sends `request` to the owner of segment `target` and receives its reply (and fd), going
// through the challenge–response of shm_socket.h when the owner asks for it. With a secret
// here, a reply that came without the owner proving the secret is refused (its fd dropped).
Status Exchange(int socket, Request request, const ShmPeerOptions& options,
                const std::string& target, Reply* reply, UniqueFd* fd) {
  request.nonce = auth::RandomNonce();
  CopyText(request.name, options.local_name);
  const std::string me = TextOf(request.name);
  MC_RETURN_IF_ERROR(SendMessage(socket, &request, sizeof(request), -1, options.io_timeout));
  MC_RETURN_IF_ERROR(ReceiveMessage(socket, reply, sizeof(*reply), fd, options.io_timeout));
  const auth::ClusterSecret* secret = options.auth_secret.get();
  if (reply->magic != kShmMagic || reply->type != MessageType::kChallenge) {
    if (secret != nullptr && reply->status == 0) {
      *fd = UniqueFd();
      return Unauthenticated(fmt::format(
          "authentication failed: segment {} does not prove the cluster secret (it answered "
          "without a challenge: is it running without --auth_secret_file?)",
          target));
    }
    return Status::Ok();
  }
  if (secret == nullptr) {
    return Unauthenticated(fmt::format(
        "authentication failed: segment {} requires the cluster secret and this process has "
        "none (--auth_secret_file / MC_AUTH_SECRET_FILE)",
        target));
  }
  if (!CheckPeerProof(*secret, AuthStep::kShmTarget, reply->proof, request.nonce, reply->nonce, me,
                      target)) {
    return Unauthenticated(
        fmt::format("authentication failed: segment {} does not prove the cluster secret", target));
  }
  Request proof;
  proof.type = MessageType::kProof;
  CopyText(proof.name, me);
  proof.proof =
      ProvePeer(*secret, AuthStep::kShmInitiator, reply->nonce, request.nonce, me, target);
  MC_RETURN_IF_ERROR(SendMessage(socket, &proof, sizeof(proof), -1, options.io_timeout));
  MC_RETURN_IF_ERROR(ReceiveMessage(socket, reply, sizeof(*reply), fd, options.io_timeout));
  if (reply->status == static_cast<int32_t>(StatusCode::kUnauthenticated)) {
    return Unauthenticated(fmt::format(
        "authentication failed: segment {} refused our proof of the cluster secret (the two "
        "sides hold different secrets)",
        target));
  }
  return Status::Ok();
}

}  // namespace

struct ShmPeer::RemoteBuffer {
  uint64_t id = 0;
  uint32_t slot = 0;
  uint64_t base = 0;
  uint64_t length = 0;
  char* mapped = nullptr;  // `base` maps here; null: private memory, moved with process_vm
  void* map_start = nullptr;
  size_t map_length = 0;
  ShmCounters* counters = nullptr;

  AddressRange range() const { return {base, length}; }
  ~RemoteBuffer() {
    if (map_start != nullptr) {
      munmap(map_start, map_length);
      counters->mappings.fetch_sub(1, std::memory_order_relaxed);
    }
  }
};

ShmPeer::ShmPeer(const SegmentDescriptor& target, const ShmPeerOptions& options,
                 ShmCounters* counters)
    : name_(target.name),
      endpoint_(target.shm_endpoint),
      incarnation_(target.incarnation),
      options_(options),
      counters_(counters) {}

ShmPeer::~ShmPeer() {
  {
    std::unique_lock lock(buffers_mutex_);
    buffers_.clear();
  }
  if (table_ != nullptr) munmap(const_cast<uint64_t*>(table_), slots_ * sizeof(uint64_t));
}

Result<std::shared_ptr<ShmPeer>> ShmPeer::Connect(const SegmentDescriptor& target,
                                                  const ShmPeerOptions& options,
                                                  ShmCounters* counters) {
  std::shared_ptr<ShmPeer> peer(new ShmPeer(target, options, counters));
  const std::string where = fmt::format("shm handshake with segment {}", target.name);
  auto watch = ConnectAbstract(target.shm_endpoint);
  if (!watch.ok()) return watch.status().WithContext(where);
  peer->watch_ = std::move(*watch);
  Request hello;
  hello.type = MessageType::kHello;
  hello.incarnation = target.incarnation;
  Reply reply;
  UniqueFd table_fd;
  MC_RETURN_IF_ERROR(Exchange(peer->watch_.get(), hello, options, target.name, &reply, &table_fd)
                         .WithContext(where));
  if (reply.magic != kShmMagic || reply.type != MessageType::kHelloReply) {
    return InvalidParams(where + ": not a HELLO reply");
  }
  if (reply.status != 0) {
    return Status(static_cast<StatusCode>(reply.status),
                  fmt::format("{}: refused: {}", where, TextOf(reply.message)));
  }
  if (reply.incarnation != target.incarnation || reply.slots == 0 || reply.slots > kMaxSlots ||
      !table_fd.valid() || !SafeToMap(table_fd.get(), reply.slots * sizeof(uint64_t))) {
    return InvalidParams(where + ": malformed HELLO reply (incarnation, table size or seals)");
  }
  void* table =
      mmap(nullptr, reply.slots * sizeof(uint64_t), PROT_READ, MAP_SHARED, table_fd.get(), 0);
  if (table == MAP_FAILED) {
    return InternalError(
        fmt::format("{}: mapping the control table: {}", where, std::strerror(errno)));
  }
  peer->table_ = static_cast<const uint64_t*>(table);
  peer->slots_ = reply.slots;

  // The owner's pid as seen from our pid namespace (0: not visible), for process_vm. The
  // pidfd pins the process: checked alive right before each process_vm batch, the pid cannot
  // name another process (it could only after the owner exited and was reaped).
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(peer->watch_.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0) {
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, cred.pid, 0)));
    // Opened after the owner was known alive and before its connection hung up: same process.
    if (pidfd.valid() && !PeerHungUp(peer->watch_.get())) {
      peer->pid_ = cred.pid;
      peer->pidfd_ = std::move(pidfd);
    }
  }
  if (fcntl(peer->watch_.get(), F_SETFL, O_NONBLOCK) != 0) {
    return InternalError(fmt::format("{}: {}", where, std::strerror(errno)));
  }
  return peer;
}

bool ShmPeer::SlotHolds(const RemoteBuffer& buffer) const {
  return __atomic_load_n(&table_[buffer.slot], __ATOMIC_ACQUIRE) == buffer.id;
}

bool ShmPeer::OwnerAlive() const {
  if (dead()) return false;
  pollfd fds[2] = {{watch_.get(), POLLRDHUP, 0}, {pidfd_.get(), POLLIN, 0}};
  const nfds_t n = pidfd_.valid() ? 2 : 1;
  if (poll(fds, n, 0) <= 0) return true;
  if (fds[0].revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) return false;
  return n == 1 || (fds[1].revents & POLLIN) == 0;  // a pidfd is readable once it exited
}

void ShmPeer::MarkDead() {
  dead_.store(true, std::memory_order_release);
  std::unique_lock lock(buffers_mutex_);
  buffers_.clear();  // mappings in use by a copy go when that copy ends
}

void ShmPeer::DropBuffer(uint64_t id) {
  std::unique_lock lock(buffers_mutex_);
  std::erase_if(buffers_, [id](const auto& entry) { return entry.second->id == id; });
}

size_t ShmPeer::cached_buffers() const {
  std::shared_lock lock(buffers_mutex_);
  return buffers_.size();
}

void ShmPeer::OnWatchReadable() {
  for (;;) {
    Notice notice;
    ssize_t n = recv(watch_.get(), &notice, sizeof(notice), MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(sizeof(notice)) && notice.magic == kShmMagic &&
        notice.type == MessageType::kReleased) {
      DropBuffer(notice.id);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    // EOF, error, or garbage: the owner is gone (or not one we can trust any more).
    if (!dead()) MC_LOG_INFO("shm: segment {} (incarnation {}) exited", name_, incarnation_);
    MarkDead();
    return;
  }
}

Result<ShmPeer::BufferRef> ShmPeer::BufferFor(uint64_t address, uint64_t length) {
  {
    std::shared_lock lock(buffers_mutex_);
    auto it = FindContaining(buffers_, address, length, RangeOfEntry);
    if (it != buffers_.end() && SlotHolds(*it->second)) return it->second;
  }
  return Fetch(address, length);
}

Result<ShmPeer::BufferRef> ShmPeer::Fetch(uint64_t address, uint64_t length) {
  std::lock_guard fetch_lock(fetch_mutex_);
  {  // Another thread may have fetched it while we waited.
    std::unique_lock lock(buffers_mutex_);
    auto it = FindStartingAtOrBefore(buffers_, address, RangeOfEntry);
    if (it != buffers_.end()) {
      const BufferRef& b = it->second;
      if (b->range().Contains(address, length) && SlotHolds(*b)) return b;
      if (!SlotHolds(*b)) buffers_.erase(it);  // unregistered: drop the mapping
    }
  }
  const std::string where =
      fmt::format("shm fetch of 0x{:x}+{} from segment {}", address, length, name_);
  const auto now = std::chrono::steady_clock::now();
  if (now < fetch_retry_after_) {
    return Status(StatusCode::kRpcTimeout, where + ": the owner did not answer the last fetch");
  }
  counters_->fetches.fetch_add(1, std::memory_order_relaxed);
  auto connected = ConnectAbstract(endpoint_);
  if (!connected.ok()) return connected.status().WithContext(where);
  UniqueFd c = std::move(*connected);
  Request fetch;
  fetch.type = MessageType::kFetch;
  fetch.incarnation = incarnation_;
  fetch.address = address;
  fetch.length = length;
  Reply reply;
  UniqueFd fd;
  Status exchanged = Exchange(c.get(), fetch, options_, name_, &reply, &fd);
  if (exchanged.code() == StatusCode::kUnauthenticated) return exchanged.WithContext(where);
  if (!exchanged.ok()) {
    // Do not make every following slice wait out the timeout again.
    fetch_retry_after_ = std::chrono::steady_clock::now() + options_.io_timeout;
    return exchanged.WithContext(where);
  }
  if (reply.magic != kShmMagic || reply.type != MessageType::kFetchReply) {
    return InvalidParams(where + ": not a FETCH reply");
  }
  if (reply.status != 0) {
    return Status(static_cast<StatusCode>(reply.status),
                  fmt::format("{} of segment {}", TextOf(reply.message), name_));
  }
  auto buffer = std::make_shared<RemoteBuffer>();
  buffer->id = reply.id;
  buffer->slot = reply.slot;
  buffer->base = reply.base;
  buffer->length = reply.length;
  buffer->counters = counters_;
  // Never trust the reply's bounds further than the table and the range we asked for.
  if (reply.incarnation != incarnation_ || reply.slot >= slots_ || reply.id == 0 ||
      reply.base + reply.length < reply.base || !buffer->range().Contains(address, length)) {
    return InvalidParams(where + ": malformed FETCH reply");
  }
  if (fd.valid()) {
    const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    const uint64_t delta = reply.fd_offset % page;
    const uint64_t map_length = reply.length + delta;
    if (reply.fd_offset + reply.length >= reply.fd_offset && map_length >= reply.length &&
        SafeToMap(fd.get(), reply.fd_offset + reply.length)) {
      // MAP_POPULATE: page tables are filled now, not by faults on the transfer path.
      void* m = mmap(nullptr, map_length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                     fd.get(), static_cast<off_t>(reply.fd_offset - delta));
      if (m != MAP_FAILED) {
        buffer->map_start = m;
        buffer->map_length = map_length;
        buffer->mapped = static_cast<char*>(m) + delta;
        counters_->mappings.fetch_add(1, std::memory_order_relaxed);
      } else {
        MC_LOG_WARN("{}: mmap failed ({}); using process_vm", where, std::strerror(errno));
      }
    } else {
      MC_LOG_WARN("{}: the memfd is not sealed or too short; not mapping it", where);
    }
  }
  std::unique_lock lock(buffers_mutex_);
  if (dead()) return TransferFail(fmt::format("segment {} exited", name_));
  buffers_[buffer->base] = buffer;
  return BufferRef(buffer);
}

int ShmPeer::CopyProcessVm(const Slice& slice) {
  if (!pidfd_.valid()) return ENOSYS;
  iovec local{slice.local, slice.length};
  iovec remote{reinterpret_cast<void*>(static_cast<uintptr_t>(slice.remote_address)), slice.length};
  ssize_t n = slice.opcode == TransferOpcode::kRead
                  ? process_vm_readv(pid_, &local, 1, &remote, 1, 0)
                  : process_vm_writev(pid_, &local, 1, &remote, 1, 0);
  if (n < 0) return errno;
  if (static_cast<uint64_t>(n) != slice.length) return EFAULT;
  return 0;
}

MoveOutcome ShmPeer::Move(std::vector<Slice>& slices, std::vector<Slice>* fallback) {
  MoveOutcome outcome;
  if (!OwnerAlive()) {
    MarkDead();
    outcome.refresh_descriptor = true;
    const Status gone =
        TransferFail(fmt::format("segment {} (incarnation {}) exited", name_, incarnation_));
    for (Slice& s : slices) s.task->SliceFailed(gone);
    return outcome;
  }
  struct Pending {
    Slice* slice;
    const RemoteBuffer* buffer;  // kept alive by `held`
  };
  std::vector<Pending> pending;
  std::vector<BufferRef> held;  // every buffer a pending slice copied through
  uint64_t unchecked = 0;
  // Settles the pending slices: after a fence, a slot that still holds its id and an owner
  // still alive mean the copy happened while the buffer was registered.
  auto settle = [&] {
    if (pending.empty()) return;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const bool alive = OwnerAlive();
    for (const Pending& p : pending) {
      if (!alive) {
        p.slice->task->SliceFailed(TransferFail(fmt::format(
            "segment {} (incarnation {}) exited during the transfer", name_, incarnation_)));
      } else if (p.buffer != nullptr && !SlotHolds(*p.buffer)) {
        p.slice->task->SliceFailed(TransferFail(
            fmt::format("buffer 0x{:x} of segment {} was unregistered during the transfer",
                        p.buffer->base, name_)));
      } else {
        ReportSliceSucceeded(*p.slice);
      }
    }
    if (!alive) {
      MarkDead();
      outcome.refresh_descriptor = true;
    }
    pending.clear();
    held.clear();
    unchecked = 0;
  };

  BufferRef last;  // consecutive slices usually hit the same buffer
  for (Slice& s : slices) {
    if (dead()) {
      s.task->SliceFailed(
          TransferFail(fmt::format("segment {} (incarnation {}) exited", name_, incarnation_)));
      outcome.refresh_descriptor = true;
      continue;
    }
    BufferRef buffer;
    if (last && last->range().Contains(s.remote_address, s.length) && SlotHolds(*last)) {
      buffer = last;
    } else {
      auto found = BufferFor(s.remote_address, s.length);
      if (!found.ok()) {
        const StatusCode code = found.status().code();
        if (code == StatusCode::kInvalidParams || code == StatusCode::kSegmentNotFound) {
          // The owner no longer serves the range (our descriptor is stale), or exited.
          outcome.refresh_descriptor = true;
          s.task->SliceFailed(found.status());
        } else {
          // It did not answer (frozen, overloaded): another transport may still get through.
          if (outcome.fallback_reason.ok()) outcome.fallback_reason = found.status();
          counters_->fallback_slices.fetch_add(1, std::memory_order_relaxed);
          fallback->push_back(std::move(s));
        }
        continue;
      }
      buffer = std::move(*found);
      last = buffer;
    }
    if (buffer->mapped != nullptr) {
      char* remote = buffer->mapped + buffer->range().OffsetOf(s.remote_address);
      if (s.opcode == TransferOpcode::kRead && s.want_crc) {
        // Checksummed while copying, each step while it is still in L1.
        s.crc = Crc32cCopy(s.local, remote, s.length, 0);
        s.crc_ready = true;
      } else if (s.opcode == TransferOpcode::kRead) {
        std::memcpy(s.local, remote, s.length);
      } else {
        std::memcpy(remote, s.local, s.length);
      }
      counters_->memcpy_bytes.fetch_add(s.length, std::memory_order_relaxed);
    } else {
      const int err = CopyProcessVm(s);
      if (err != 0) {
        if (outcome.fallback_reason.ok()) {  // keep the first reason
          outcome.fallback_reason = TransferFail(fmt::format(
              "buffer 0x{:x} of segment {} is not shared memory and {} failed: {}", buffer->base,
              name_, s.opcode == TransferOpcode::kRead ? "process_vm_readv" : "process_vm_writev",
              std::strerror(err)));
        }
        counters_->fallback_slices.fetch_add(1, std::memory_order_relaxed);
        fallback->push_back(std::move(s));
        continue;
      }
      counters_->process_vm_bytes.fetch_add(s.length, std::memory_order_relaxed);
    }
    if (held.empty() || held.back() != buffer) held.push_back(buffer);
    pending.push_back({&s, buffer.get()});
    unchecked += s.length;
    if (unchecked >= kCheckBytes) settle();
  }
  settle();
  slices.clear();
  return outcome;
}

}  // namespace mooncake::transfer::shm
