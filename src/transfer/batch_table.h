#pragma once

// Batches and their tasks. A task's slices complete on I/O threads; the task becomes
// COMPLETED when its last slice succeeds, FAILED when its last slice finishes and any failed.
// A batch counts its unfinished tasks, so a caller can sleep until the last one finishes
// (Batch::WaitAllFinished) instead of polling each task's state: the transport thread that
// finishes the batch wakes it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/peer_counters.h"

namespace mooncake::transfer {

class Batch;

// What a slice of a task that wants a CRC32C (TransferRequest::crc32c) reports on success.
struct SliceCrc {
  uint32_t crc = 0;          // Crc32c of the slice's bytes
  uint64_t bytes_after = 0;  // bytes of the request after the slice
};

class TaskState {
 public:
  // Called once at submission, before any slice can complete. `peer` (may be null) is
  // credited with the task's bytes (as read or written, per `opcode`) and its outcome.
  // `crc_out` (may be null): where the CRC32C of the request's bytes goes when the task
  // completes; every slice then reports its CRC (SliceSucceeded with a SliceCrc).
  void Start(uint32_t slice_count, PeerCounters* peer = nullptr,
             TransferOpcode opcode = TransferOpcode::kRead, uint32_t* crc_out = nullptr);
  void SliceSucceeded(uint64_t bytes);
  // The same, for a task started with `crc_out`. Slices may report in any order: each CRC is
  // shifted by the bytes after its slice and xored in (crc32c.h, Crc32cCombine), and the last
  // slice stores the sum in *crc_out before the task is published COMPLETED.
  void SliceSucceeded(uint64_t bytes, SliceCrc crc);
  // Records the first failure; the task is FAILED once all slices have finished.
  void SliceFailed(const Status& why);
  TransferStatus Snapshot() const;
  bool Finished() const;

 private:
  friend class Batch;
  void SliceFinished();
  // Marks the task finished and tells its batch.
  void Finish(TransferState state);

  Batch* batch_ = nullptr;  // the batch holding this task; set once by the batch
  std::atomic<TransferState> state_{TransferState::kPending};
  std::atomic<uint64_t> transferred_{0};
  std::atomic<uint32_t> slices_left_{0};
  std::atomic<bool> failed_{false};
  PeerCounters* peer_ = nullptr;
  bool write_ = false;
  uint32_t* crc_out_ = nullptr;
  // Xor of the shifted CRCs of the slices that succeeded so far.
  std::atomic<uint32_t> crc_sum_{0};
  mutable std::mutex error_mutex_;
  Status error_;
};

class Batch {
 public:
  explicit Batch(size_t capacity);

  size_t capacity() const { return capacity_; }
  // Reserves `count` task ids; returns the first, or fails when the batch would overflow.
  Result<size_t> ReserveTasks(size_t count);
  size_t submitted() const;
  TaskState& task(size_t index) { return tasks_[index]; }
  bool AllFinished() const;
  // Waits until every task reserved so far has finished, or until `deadline`; true when they
  // all have. Spins briefly first (small transfers finish within microseconds), then sleeps
  // until the task that finishes the batch wakes it. Any thread; several may wait.
  bool WaitAllFinished(std::chrono::steady_clock::time_point deadline);

 private:
  friend class TaskState;
  // A task of this batch finished (called once per task, on the thread that finished it).
  void TaskFinished();

  const size_t capacity_;
  std::unique_ptr<TaskState[]> tasks_;
  mutable std::mutex mutex_;
  size_t submitted_ = 0;
  // Tasks reserved and not yet finished. ReserveTasks adds before any of them can start, so
  // it reaches 0 only when every reserved task has finished.
  std::atomic<size_t> unfinished_{0};
  // Threads asleep in WaitAllFinished: the finishing task takes the lock and notifies only
  // when there is one (seq_cst on both counters orders "waiter registers, then checks" against
  // "last task decrements, then looks for waiters", so no wake-up is lost).
  std::atomic<uint32_t> waiters_{0};
  std::mutex wait_mutex_;
  std::condition_variable all_finished_;
};

class BatchTable {
 public:
  Result<BatchId> Allocate(size_t capacity);
  // Fails with kInvalidParams for an id never allocated or already freed.
  Result<std::shared_ptr<Batch>> Get(BatchId id) const;
  // Refused while a submitted task is still in flight.
  Status Free(BatchId id);

 private:
  mutable std::mutex mutex_;
  BatchId next_id_ = 1;  // ids are never reused, so a freed id stays invalid
  std::unordered_map<BatchId, std::shared_ptr<Batch>> batches_;
};

}  // namespace mooncake::transfer
