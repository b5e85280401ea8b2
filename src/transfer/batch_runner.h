#pragma once

// Running a set of Transfer Engine requests as one batch and collecting what became of each:
// allocate a batch, submit, wait until the transports finish its last task (woken by them, not
// by polling), read every task's status, free. What every store read and write, node copy and
// P2P piece goes through; only the raw upstream API (the Python TransferEngine binding,
// transfer_engine_bench) drives batches by hand.
//
// Thread safety: a PendingBatch belongs to one thread at a time; RunBatch may be called from
// any thread concurrently.

#include <chrono>
#include <span>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_engine.h"

namespace mooncake::transfer {

// A batch submitted and not yet collected. Move-only.
class PendingBatch {
 public:
  // Allocates a batch for `requests` and submits them. When the submission is refused outright
  // (bad request, unknown segment) nothing is in flight: Wait then reports that error for every
  // request. `engine` must outlive the batch.
  static PendingBatch Start(TransferEngine& engine, std::span<const TransferRequest> requests);

  PendingBatch(PendingBatch&& other) noexcept;
  PendingBatch& operator=(PendingBatch&& other) noexcept;
  PendingBatch(const PendingBatch&) = delete;
  PendingBatch& operator=(const PendingBatch&) = delete;
  // Waits for tasks still in flight (up to the engine's own transfer deadline) so the batch can
  // be freed; call Wait first to bound the wait yourself.
  ~PendingBatch();

  // Whether every task has finished (or nothing was submitted). Never blocks.
  bool Done() const { return WaitUntilDone(std::chrono::steady_clock::time_point{}); }
  // Waits until every task has finished or `deadline`, woken by the transport that finishes the
  // last one; true when all have. Collects nothing (see Wait).
  bool WaitUntilDone(std::chrono::steady_clock::time_point deadline) const;
  // Waits until every task finished or `deadline`, then returns one status per request, in
  // order, and frees the batch. A task still in flight at the deadline is reported as
  // kTransferFail ("not done in time") and the batch is left to the engine: abandoned() is then
  // true, and the requests' local buffers may still be written by it. Call once.
  std::vector<Status> Wait(std::chrono::steady_clock::time_point deadline);
  bool abandoned() const { return abandoned_; }

 private:
  PendingBatch(TransferEngine* engine, size_t requests) : engine_(engine), requests_(requests) {}

  TransferEngine* engine_;
  size_t requests_;
  BatchId batch_ = 0;  // 0: none allocated, or already collected
  Status refused_;     // why the submission (or the batch's allocation) was refused
  bool abandoned_ = false;
};

// PendingBatch::Start, then Wait until `timeout` from now. One status per request.
std::vector<Status> RunBatch(TransferEngine& engine, std::span<const TransferRequest> requests,
                             std::chrono::milliseconds timeout);

}  // namespace mooncake::transfer
