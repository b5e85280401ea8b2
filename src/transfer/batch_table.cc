#include "transfer/batch_table.h"

#include <fmt/format.h>

namespace mooncake::transfer {

// Refuses absurd batch sizes before they turn into a huge allocation.
constexpr size_t kMaxBatchCapacity = 1 << 20;

void TaskState::Start(uint32_t slice_count, PeerCounters* peer, TransferOpcode opcode) {
  peer_ = peer;
  write_ = opcode == TransferOpcode::kWrite;
  if (peer_ != nullptr && slice_count == 0) {
    peer_->tasks_completed.fetch_add(1, std::memory_order_relaxed);
  }
  slices_left_.store(slice_count, std::memory_order_relaxed);
  state_.store(slice_count == 0 ? TransferState::kCompleted : TransferState::kWaiting,
               std::memory_order_release);
}

void TaskState::SliceSucceeded(uint64_t bytes) {
  transferred_.fetch_add(bytes, std::memory_order_relaxed);
  if (peer_ != nullptr) {
    (write_ ? peer_->bytes_written : peer_->bytes_read).fetch_add(bytes, std::memory_order_relaxed);
  }
  SliceFinished();
}

void TaskState::SliceFailed(const Status& why) {
  {
    std::lock_guard lock(error_mutex_);
    if (error_.ok()) error_ = why;
  }
  failed_.store(true, std::memory_order_release);
  SliceFinished();
}

void TaskState::SliceFinished() {
  if (slices_left_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    const bool failed = failed_.load(std::memory_order_acquire);
    if (peer_ != nullptr) {
      (failed ? peer_->tasks_failed : peer_->tasks_completed)
          .fetch_add(1, std::memory_order_relaxed);
    }
    state_.store(failed ? TransferState::kFailed : TransferState::kCompleted,
                 std::memory_order_release);
  }
}

TransferStatus TaskState::Snapshot() const {
  TransferStatus out;
  out.state = state_.load(std::memory_order_acquire);
  out.transferred_bytes = transferred_.load(std::memory_order_relaxed);
  if (out.state == TransferState::kFailed) {
    std::lock_guard lock(error_mutex_);
    out.error = error_;
  }
  return out;
}

bool TaskState::Finished() const {
  TransferState s = state_.load(std::memory_order_acquire);
  return s == TransferState::kCompleted || s == TransferState::kFailed;
}

Result<size_t> Batch::ReserveTasks(size_t count) {
  std::lock_guard lock(mutex_);
  if (count > capacity_ - submitted_) {
    return InvalidParams(fmt::format("batch holds {} tasks, {} already submitted, {} more refused",
                                     capacity_, submitted_, count));
  }
  size_t first = submitted_;
  submitted_ += count;
  return first;
}

size_t Batch::submitted() const {
  std::lock_guard lock(mutex_);
  return submitted_;
}

bool Batch::AllFinished() const {
  size_t n = submitted();
  for (size_t i = 0; i < n; ++i) {
    if (!tasks_[i].Finished()) return false;
  }
  return true;
}

Result<BatchId> BatchTable::Allocate(size_t capacity) {
  if (capacity == 0 || capacity > kMaxBatchCapacity) {
    return InvalidParams(
        fmt::format("batch size must be in 1..{}, got {}", kMaxBatchCapacity, capacity));
  }
  auto batch = std::make_shared<Batch>(capacity);
  std::lock_guard lock(mutex_);
  BatchId id = next_id_++;
  batches_.emplace(id, std::move(batch));
  return id;
}

Result<std::shared_ptr<Batch>> BatchTable::Get(BatchId id) const {
  std::lock_guard lock(mutex_);
  auto it = batches_.find(id);
  if (it == batches_.end()) {
    return InvalidParams(fmt::format("batch {} is unknown or was freed", id));
  }
  return it->second;
}

Status BatchTable::Free(BatchId id) {
  std::lock_guard lock(mutex_);
  auto it = batches_.find(id);
  if (it == batches_.end()) {
    return InvalidParams(fmt::format("batch {} is unknown or was freed", id));
  }
  if (!it->second->AllFinished()) {
    return InvalidParams(fmt::format("batch {} still has tasks in flight", id));
  }
  batches_.erase(it);
  return Status::Ok();
}

}  // namespace mooncake::transfer
