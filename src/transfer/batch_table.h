#pragma once

// Batches and their tasks. A task's slices complete on I/O threads; the task becomes
// COMPLETED when its last slice succeeds, FAILED when its last slice finishes and any failed.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/peer_counters.h"

namespace mooncake::transfer {

class TaskState {
 public:
  // Called once at submission, before any slice can complete. `peer` (may be null) is
  // credited with the task's bytes (as read or written, per `opcode`) and its outcome.
  void Start(uint32_t slice_count, PeerCounters* peer = nullptr,
             TransferOpcode opcode = TransferOpcode::kRead);
  void SliceSucceeded(uint64_t bytes);
  // Records the first failure; the task is FAILED once all slices have finished.
  void SliceFailed(const Status& why);
  TransferStatus Snapshot() const;
  bool Finished() const;

 private:
  void SliceFinished();

  std::atomic<TransferState> state_{TransferState::kPending};
  std::atomic<uint64_t> transferred_{0};
  std::atomic<uint32_t> slices_left_{0};
  std::atomic<bool> failed_{false};
  PeerCounters* peer_ = nullptr;
  bool write_ = false;
  mutable std::mutex error_mutex_;
  Status error_;
};

class Batch {
 public:
  explicit Batch(size_t capacity) : capacity_(capacity), tasks_(new TaskState[capacity]) {}

  size_t capacity() const { return capacity_; }
  // Reserves `count` task ids; returns the first, or fails when the batch would overflow.
  Result<size_t> ReserveTasks(size_t count);
  size_t submitted() const;
  TaskState& task(size_t index) { return tasks_[index]; }
  bool AllFinished() const;

 private:
  const size_t capacity_;
  std::unique_ptr<TaskState[]> tasks_;
  mutable std::mutex mutex_;
  size_t submitted_ = 0;
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
