#pragma once

// Reads and writes file segments on one thread with io_uring: many requests in flight, each
// straight into the caller's memory when it meets O_DIRECT's alignment, through an aligned
// bounce buffer when it does not. Unaligned writes to an O_DIRECT file are read-modify-write
// of their edge blocks and run one at a time, so two writers sharing a block never undo each
// other. Where io_uring is unavailable (old kernel, seccomp, io_uring_disabled) the same
// requests run with pread/pwrite on the service thread, after a logged warning.
//
// A request never touches bytes past its segment's size: Submit refuses it. A file that shrank
// under a reader (truncated by someone else) fails the request with a clear error; no mmap is
// involved, so nothing can SIGBUS.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/transport/file/file_segment.h"

namespace mooncake::transfer::file {

struct FileOp {
  TransferOpcode opcode = TransferOpcode::kRead;  // kRead: file -> buffer; kWrite: buffer -> file
  std::shared_ptr<FileSegment> segment;           // kept open until the request finishes
  uint64_t offset = 0;                            // in the file
  char* buffer = nullptr;                         // `length` bytes of the caller's memory
  uint64_t length = 0;
  // Called exactly once: on the service thread, or inside Submit when it refuses the request.
  std::function<void(const Status&)> done;
};

struct FileIoServiceOptions {
  // Requests in flight in the ring at once (default 64).
  uint32_t queue_depth = 64;
  // false: pread/pwrite on the service thread, as where io_uring is unavailable (default true).
  bool use_io_uring = true;
};

struct FileIoStats {
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t bounced = 0;  // requests that went through a bounce buffer (unaligned on O_DIRECT)
  uint64_t failed = 0;
};

class FileIoService {
 public:
  static Result<std::unique_ptr<FileIoService>> Create(FileIoServiceOptions options = {});
  // Finishes every queued and in-flight request, then stops the thread.
  ~FileIoService();

  // Queues `op`; thread-safe. A range past the segment's size, a null buffer or a stopped
  // service fails it at once (through `done`).
  void Submit(FileOp op);
  bool uses_io_uring() const { return ring_ != nullptr; }
  FileIoStats stats() const;

 private:
  struct Request;
  struct Ring;
  explicit FileIoService(FileIoServiceOptions options);
  void RunRing();
  void RunSync();
  // Takes queued requests; false once stopping and nothing is left anywhere.
  bool TakeQueued(std::deque<std::unique_ptr<Request>>* into, bool block);
  // Starts `request` in the ring, or runs it here when it must be synchronous.
  void Start(std::unique_ptr<Request> request);
  void Complete(Request* request, int result);
  void Finish(std::unique_ptr<Request> request, const Status& status);
  void ExecuteSync(std::unique_ptr<Request> request);

  const FileIoServiceOptions options_;
  std::unique_ptr<Ring> ring_;  // null: synchronous mode
  int wake_fd_ = -1;            // eventfd: Submit wakes the ring thread through it

  std::mutex mutex_;
  std::condition_variable queued_cv_;  // synchronous mode
  std::deque<std::unique_ptr<Request>> queue_;
  bool wake_pending_ = false;
  bool stopping_ = false;

  // Ring thread only.
  std::deque<std::unique_ptr<Request>> backlog_;  // waiting for a free slot in the ring
  uint32_t in_flight_ = 0;

  std::atomic<uint64_t> reads_{0}, writes_{0}, bytes_read_{0}, bytes_written_{0}, bounced_{0},
      failed_{0};
  std::thread thread_;
};

}  // namespace mooncake::transfer::file
