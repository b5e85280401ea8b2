#include "transfer/transport/file/file_io_service.h"

#include <fmt/format.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/logging.h"

namespace mooncake::transfer::file {
namespace {

constexpr uint64_t kWakeTag = 1;   // user_data of the eventfd read; requests are pointers
constexpr int kMaxResubmits = 64;  // short transfers / EINTR / EAGAIN per request
constexpr auto kRingWaitBound = std::chrono::milliseconds(100);

uint64_t AlignDown(uint64_t v) { return v / kDirectAlignment * kDirectAlignment; }
uint64_t AlignUp(uint64_t v) {
  return (v + kDirectAlignment - 1) / kDirectAlignment * kDirectAlignment;
}

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<char, FreeDeleter>;

const char* Verb(TransferOpcode op) { return op == TransferOpcode::kRead ? "reading" : "writing"; }

Status IoError(const FileOp& op, const std::string& why) {
  const StatusCode code =
      op.opcode == TransferOpcode::kRead ? StatusCode::kFileReadFail : StatusCode::kFileWriteFail;
  return Status(code,
                fmt::format("{} file segment '{}' ({}) at {}+{}: {}", Verb(op.opcode),
                            op.segment->name(), op.segment->path(), op.offset, op.length, why));
}

// pread until `length` bytes or end of file; returns the bytes read, or -errno.
int64_t PreadFull(int fd, char* buffer, uint64_t length, uint64_t offset) {
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, buffer + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
  }
  return static_cast<int64_t>(done);
}

int64_t PwriteFull(int fd, const char* buffer, uint64_t length, uint64_t offset) {
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pwrite(fd, buffer + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return -EIO;
    done += static_cast<uint64_t>(n);
  }
  return static_cast<int64_t>(done);
}

}  // namespace

struct FileIoService::Ring {
  io_uring ring{};
  uint64_t wake_value = 0;  // target of the eventfd read
  ~Ring() { io_uring_queue_exit(&ring); }
};

struct FileIoService::Request {
  FileOp op;
  // What the kernel moves: the caller's memory, or an aligned bounce buffer around it.
  char* io_buffer = nullptr;
  uint64_t io_offset = 0;
  uint64_t io_length = 0;
  // Bytes that must arrive for a read to succeed (a bounced read may end in a partial block).
  uint64_t needed = 0;
  uint64_t done = 0;
  int resubmits = 0;
  AlignedBuffer bounce;

  bool bounced() const { return bounce != nullptr; }
  int fd() const { return op.segment->fd(); }

  // Decides where the I/O lands; false when a bounce buffer cannot be allocated.
  bool Plan() {
    const bool direct = op.segment->direct();
    const bool aligned = op.offset % kDirectAlignment == 0 && op.length % kDirectAlignment == 0 &&
                         reinterpret_cast<uintptr_t>(op.buffer) % kDirectAlignment == 0;
    if (!direct || aligned) {
      io_buffer = op.buffer;
      io_offset = op.offset;
      io_length = needed = op.length;
      return true;
    }
    io_offset = AlignDown(op.offset);
    io_length = AlignUp(op.offset + op.length) - io_offset;
    needed = op.opcode == TransferOpcode::kRead ? op.offset + op.length - io_offset : io_length;
    bounce.reset(static_cast<char*>(std::aligned_alloc(kDirectAlignment, io_length)));
    io_buffer = bounce.get();
    return io_buffer != nullptr;
  }
};

FileIoService::FileIoService(FileIoServiceOptions options) : options_(options) {}

Result<std::unique_ptr<FileIoService>> FileIoService::Create(FileIoServiceOptions options) {
  if (options.queue_depth < 1 || options.queue_depth > 4096) {
    return InvalidParams(
        fmt::format("file I/O queue_depth must be in 1..4096, got {}", options.queue_depth));
  }
  std::unique_ptr<FileIoService> service(new FileIoService(options));
  if (options.use_io_uring) {
    auto ring = std::make_unique<Ring>();
    // One slot more than the depth: the eventfd read that wakes the thread is always armed.
    int rc = io_uring_queue_init(options.queue_depth + 1, &ring->ring, 0);
    int efd = rc == 0 ? ::eventfd(0, EFD_CLOEXEC) : -1;
    if (rc == 0 && efd >= 0) {
      service->ring_ = std::move(ring);
      service->wake_fd_ = efd;
    } else {
      if (rc == 0) io_uring_queue_exit(&ring->ring);
      ring.release();  // exited above, or never initialised: nothing to tear down
      MC_LOG_WARN("io_uring unavailable ({}); file segments use pread/pwrite on one thread",
                  std::strerror(rc < 0 ? -rc : errno));
    }
  }
  FileIoService* raw = service.get();
  service->thread_ = std::thread([raw] { raw->ring_ ? raw->RunRing() : raw->RunSync(); });
  return service;
}

FileIoService::~FileIoService() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_cv_.notify_all();
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
  ring_.reset();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

FileIoStats FileIoService::stats() const {
  return FileIoStats{reads_.load(),         writes_.load(),  bytes_read_.load(),
                     bytes_written_.load(), bounced_.load(), failed_.load()};
}

void FileIoService::Submit(FileOp op) {
  if (!op.segment) {
    op.done(InvalidParams("file I/O request without a segment"));
    return;
  }
  const uint64_t size = op.segment->size();
  if (op.offset > size || op.length > size - op.offset) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    op.done(InvalidParams(fmt::format("range {}+{} is past the end of file segment '{}' ({} bytes)",
                                      op.offset, op.length, op.segment->name(), size)));
    return;
  }
  if (op.length == 0) {
    op.done(Status::Ok());
    return;
  }
  if (op.buffer == nullptr) {
    op.done(InvalidParams("file I/O request with a null buffer"));
    return;
  }
  auto request = std::make_unique<Request>();
  request->op = std::move(op);
  std::unique_lock lock(mutex_);
  if (stopping_) {
    lock.unlock();
    request->op.done(Status(StatusCode::kTransferFail, "file I/O service is stopping"));
    return;
  }
  queue_.push_back(std::move(request));
  const bool wake = !wake_pending_;
  wake_pending_ = true;
  lock.unlock();
  if (!wake) return;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  } else {
    queued_cv_.notify_one();
  }
}

bool FileIoService::TakeQueued(std::deque<std::unique_ptr<Request>>* into, bool block) {
  std::unique_lock lock(mutex_);
  if (block) {
    // Bounded wait: the loop re-checks at least this often.
    queued_cv_.wait_for(lock, kRingWaitBound, [this] { return stopping_ || !queue_.empty(); });
  }
  wake_pending_ = false;
  while (!queue_.empty()) {
    into->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return !(stopping_ && into->empty() && backlog_.empty() && in_flight_ == 0);
}

void FileIoService::RunSync() {
  std::deque<std::unique_ptr<Request>> work;
  while (TakeQueued(&work, /*block=*/true)) {
    while (!work.empty()) {
      std::unique_ptr<Request> request = std::move(work.front());
      work.pop_front();
      ExecuteSync(std::move(request));
    }
  }
}

void FileIoService::RunRing() {
  io_uring* ring = &ring_->ring;
  bool wake_armed = false;
  std::deque<std::unique_ptr<Request>> fresh;
  for (;;) {
    if (!wake_armed) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (sqe != nullptr) {
        io_uring_prep_read(sqe, wake_fd_, &ring_->wake_value, sizeof(ring_->wake_value), 0);
        io_uring_sqe_set_data64(sqe, kWakeTag);
        wake_armed = true;
      }
    }
    if (!TakeQueued(&fresh, /*block=*/false)) break;
    for (auto& request : fresh) backlog_.push_back(std::move(request));
    fresh.clear();
    while (!backlog_.empty() && in_flight_ < options_.queue_depth) {
      std::unique_ptr<Request> request = std::move(backlog_.front());
      backlog_.pop_front();
      Start(std::move(request));
    }
    io_uring_submit(ring);

    __kernel_timespec timeout{};
    timeout.tv_nsec = std::chrono::nanoseconds(kRingWaitBound).count();
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_wait_cqe_timeout(ring, &cqe, &timeout);
    if (rc < 0 && rc != -ETIME && rc != -EINTR) {
      MC_LOG_WARN("io_uring wait failed: {}", std::strerror(-rc));
    }
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
      ++seen;
      const uint64_t tag = io_uring_cqe_get_data64(cqe);
      const int result = cqe->res;
      if (tag == kWakeTag) {
        wake_armed = false;
      } else {
        --in_flight_;
        Complete(reinterpret_cast<Request*>(static_cast<uintptr_t>(tag)), result);
      }
    }
    io_uring_cq_advance(ring, seen);
  }
}

void FileIoService::Start(std::unique_ptr<Request> request) {
  if (!request->io_buffer && !request->Plan()) {
    Status why = IoError(request->op, "cannot allocate an aligned bounce buffer");
    Finish(std::move(request), why);
    return;
  }
  // Read-modify-write of edge blocks must not interleave with another one: synchronous.
  if (request->op.opcode == TransferOpcode::kWrite && request->bounced()) {
    ExecuteSync(std::move(request));
    return;
  }
  io_uring* ring = &ring_->ring;
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (sqe == nullptr) {
    io_uring_submit(ring);
    sqe = io_uring_get_sqe(ring);
  }
  if (sqe == nullptr) {  // ring full: try again after completions
    backlog_.push_front(std::move(request));
    return;
  }
  Request* raw = request.release();
  char* at = raw->io_buffer + raw->done;
  // One SQE moves at most 1 GiB; a longer request continues as a short transfer would.
  const unsigned count =
      static_cast<unsigned>(std::min<uint64_t>(raw->io_length - raw->done, uint64_t{1} << 30));
  const uint64_t offset = raw->io_offset + raw->done;
  if (raw->op.opcode == TransferOpcode::kRead) {
    io_uring_prep_read(sqe, raw->fd(), at, count, offset);
  } else {
    io_uring_prep_write(sqe, raw->fd(), at, count, offset);
  }
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uintptr_t>(raw));
  ++in_flight_;
}

void FileIoService::Complete(Request* raw, int result) {
  std::unique_ptr<Request> request(raw);
  const bool read = request->op.opcode == TransferOpcode::kRead;
  if ((result == -EINTR || result == -EAGAIN) && request->resubmits < kMaxResubmits) {
    ++request->resubmits;
    backlog_.push_back(std::move(request));
    return;
  }
  if (result < 0) {
    Status why = IoError(request->op, std::strerror(-result));
    Finish(std::move(request), why);
    return;
  }
  if (result == 0) {
    Status why = IoError(request->op, read ? fmt::format("the file ends at {} (truncated under "
                                                         "the reader?)",
                                                         request->io_offset + request->done)
                                           : std::string("the device accepted no bytes"));
    Finish(std::move(request), why);
    return;
  }
  request->done += static_cast<uint64_t>(result);
  if (request->done >= request->needed) {
    Finish(std::move(request), Status::Ok());
    return;
  }
  // Short transfer: go on from where it stopped, which O_DIRECT allows only at a block edge.
  if ((request->op.segment->direct() && request->done % kDirectAlignment != 0) ||
      request->resubmits >= kMaxResubmits) {
    Status why = IoError(
        request->op, fmt::format("short {} of {} bytes", read ? "read" : "write", request->done));
    Finish(std::move(request), why);
    return;
  }
  ++request->resubmits;
  backlog_.push_back(std::move(request));
}

void FileIoService::ExecuteSync(std::unique_ptr<Request> request) {
  if (!request->io_buffer && !request->Plan()) {
    Status why = IoError(request->op, "cannot allocate an aligned bounce buffer");
    Finish(std::move(request), why);
    return;
  }
  Request& r = *request;  // stays alive until Finish returns
  const int fd = r.fd();
  if (r.op.opcode == TransferOpcode::kRead) {
    int64_t n = PreadFull(fd, r.io_buffer, r.io_length, r.io_offset);
    if (n < 0)
      return Finish(std::move(request), IoError(r.op, std::strerror(static_cast<int>(-n))));
    if (static_cast<uint64_t>(n) < r.needed) {
      return Finish(std::move(request),
                    IoError(r.op, fmt::format("the file ends at {} (truncated under the reader?)",
                                              r.io_offset + static_cast<uint64_t>(n))));
    }
    r.done = static_cast<uint64_t>(n);
    return Finish(std::move(request), Status::Ok());
  }
  if (r.bounced()) {
    // Keep the bytes of the edge blocks that lie outside the request.
    const uint64_t end = r.io_offset + r.io_length;
    const bool head = r.op.offset != r.io_offset;
    const bool tail = r.op.offset + r.op.length != end;
    std::memset(r.io_buffer, 0, kDirectAlignment);
    std::memset(r.io_buffer + r.io_length - kDirectAlignment, 0, kDirectAlignment);
    if (head) {
      int64_t n = PreadFull(fd, r.io_buffer, kDirectAlignment, r.io_offset);
      if (n < 0)
        return Finish(std::move(request), IoError(r.op, std::strerror(static_cast<int>(-n))));
    }
    if (tail && (!head || r.io_length > kDirectAlignment)) {
      int64_t n = PreadFull(fd, r.io_buffer + r.io_length - kDirectAlignment, kDirectAlignment,
                            end - kDirectAlignment);
      if (n < 0)
        return Finish(std::move(request), IoError(r.op, std::strerror(static_cast<int>(-n))));
    }
    std::memcpy(r.io_buffer + (r.op.offset - r.io_offset), r.op.buffer, r.op.length);
  }
  int64_t n = PwriteFull(fd, r.io_buffer, r.io_length, r.io_offset);
  if (n < 0) return Finish(std::move(request), IoError(r.op, std::strerror(static_cast<int>(-n))));
  r.done = static_cast<uint64_t>(n);
  Finish(std::move(request), Status::Ok());
}

void FileIoService::Finish(std::unique_ptr<Request> request, const Status& status) {
  const FileOp& op = request->op;
  const bool read = op.opcode == TransferOpcode::kRead;
  if (status.ok()) {
    if (read && request->bounced()) {
      std::memcpy(op.buffer, request->io_buffer + (op.offset - request->io_offset), op.length);
    }
    (read ? reads_ : writes_).fetch_add(1, std::memory_order_relaxed);
    (read ? bytes_read_ : bytes_written_).fetch_add(op.length, std::memory_order_relaxed);
    if (request->bounced()) bounced_.fetch_add(1, std::memory_order_relaxed);
  } else {
    failed_.fetch_add(1, std::memory_order_relaxed);
  }
  op.done(status);
}

}  // namespace mooncake::transfer::file
