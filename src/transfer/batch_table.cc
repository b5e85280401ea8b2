#include "transfer/batch_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "mooncake/common/crc32c.h"

namespace mooncake::transfer {

// Refuses absurd batch sizes before they turn into a huge allocation.
constexpr size_t kMaxBatchCapacity = 1 << 20;

void TaskState::Start(uint32_t slice_count, PeerCounters* peer, TransferOpcode opcode,
                      uint32_t* crc_out) {
  peer_ = peer;
  write_ = opcode == TransferOpcode::kWrite;
  crc_out_ = crc_out;
  crc_sum_.store(0, std::memory_order_relaxed);  // the CRC of no bytes
  if (peer_ != nullptr && slice_count == 0) {
    peer_->tasks_completed.fetch_add(1, std::memory_order_relaxed);
  }
  slices_left_.store(slice_count, std::memory_order_relaxed);
  if (slice_count == 0) {
    Finish(TransferState::kCompleted);
  } else {
    state_.store(TransferState::kWaiting, std::memory_order_release);
  }
}

void TaskState::Finish(TransferState state) {
  // Written before the release store (and the batch's seq_cst count), so whoever observes
  // COMPLETED, through Snapshot or the batch, also sees the CRC.
  if (state == TransferState::kCompleted && crc_out_ != nullptr) {
    *crc_out_ = crc_sum_.load(std::memory_order_relaxed);
  }
  state_.store(state, std::memory_order_release);
  if (batch_ != nullptr) batch_->TaskFinished();
}

void TaskState::SliceSucceeded(uint64_t bytes) {
  transferred_.fetch_add(bytes, std::memory_order_relaxed);
  if (peer_ != nullptr) {
    (write_ ? peer_->bytes_written : peer_->bytes_read).fetch_add(bytes, std::memory_order_relaxed);
  }
  SliceFinished();
}

void TaskState::SliceSucceeded(uint64_t bytes, SliceCrc crc) {
  // Relaxed: the acq_rel decrement of slices_left_ that follows orders it before the last
  // slice's read of the sum.
  crc_sum_.fetch_xor(Crc32cCombine(crc.crc, 0, crc.bytes_after), std::memory_order_relaxed);
  SliceSucceeded(bytes);
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
    Finish(failed ? TransferState::kFailed : TransferState::kCompleted);
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

Batch::Batch(size_t capacity) : capacity_(capacity), tasks_(new TaskState[capacity]) {
  for (size_t i = 0; i < capacity; ++i) tasks_[i].batch_ = this;
}

Result<size_t> Batch::ReserveTasks(size_t count) {
  std::lock_guard lock(mutex_);
  if (count > capacity_ - submitted_) {
    return InvalidParams(fmt::format("batch holds {} tasks, {} already submitted, {} more refused",
                                     capacity_, submitted_, count));
  }
  size_t first = submitted_;
  submitted_ += count;
  unfinished_.fetch_add(count, std::memory_order_seq_cst);
  return first;
}

void Batch::TaskFinished() {
  if (unfinished_.fetch_sub(1, std::memory_order_seq_cst) != 1) return;
  if (waiters_.load(std::memory_order_seq_cst) == 0) return;
  std::lock_guard lock(wait_mutex_);
  all_finished_.notify_all();
}

bool Batch::WaitAllFinished(std::chrono::steady_clock::time_point deadline) {
  if (unfinished_.load(std::memory_order_acquire) == 0) return true;
  if (deadline <= std::chrono::steady_clock::now()) return false;  // a look, not a wait
  // A small transfer (shared memory, a short TCP round trip) finishes within tens of
  // microseconds, sooner than a sleeping thread is woken and scheduled again: look for a while
  // first, leaving the CPU to the I/O threads between looks, then sleep until woken.
  constexpr auto kSpinFor = std::chrono::microseconds(50);
  const auto spin_until = std::min(deadline, std::chrono::steady_clock::now() + kSpinFor);
  do {
    std::this_thread::yield();
    if (unfinished_.load(std::memory_order_acquire) == 0) return true;
  } while (std::chrono::steady_clock::now() < spin_until);
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  bool done;
  {
    std::unique_lock lock(wait_mutex_);
    done = all_finished_.wait_until(
        lock, deadline, [&] { return unfinished_.load(std::memory_order_seq_cst) == 0; });
  }
  waiters_.fetch_sub(1, std::memory_order_seq_cst);
  return done;
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
