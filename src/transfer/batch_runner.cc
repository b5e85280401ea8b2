#include "transfer/batch_runner.h"

#include <fmt/format.h>

#include <utility>

namespace mooncake::transfer {
namespace {

// How long a PendingBatch dropped uncollected waits for its tasks: longer than any transfer
// deadline the engine enforces (each task ends by then, completed or failed).
constexpr std::chrono::seconds kDropWait{60};

}  // namespace

PendingBatch PendingBatch::Start(TransferEngine& engine,
                                 std::span<const TransferRequest> requests) {
  PendingBatch pending(&engine, requests.size());
  if (requests.empty()) return pending;
  Result<BatchId> batch = engine.AllocateBatchId(requests.size());
  if (!batch.ok()) {
    pending.refused_ = batch.status();
    return pending;
  }
  pending.batch_ = *batch;
  // A refused submission may still have started some tasks (a transport that failed midway
  // fails its slices one by one): Wait waits for those before freeing the batch.
  pending.refused_ = engine.SubmitTransfer(*batch, requests);
  return pending;
}

PendingBatch::PendingBatch(PendingBatch&& other) noexcept
    : engine_(other.engine_),
      requests_(other.requests_),
      batch_(std::exchange(other.batch_, 0)),
      refused_(std::move(other.refused_)),
      abandoned_(other.abandoned_) {}

PendingBatch& PendingBatch::operator=(PendingBatch&& other) noexcept {
  if (this != &other) {
    if (batch_ != 0) Wait(std::chrono::steady_clock::now() + kDropWait);
    engine_ = other.engine_;
    requests_ = other.requests_;
    batch_ = std::exchange(other.batch_, 0);
    refused_ = std::move(other.refused_);
    abandoned_ = other.abandoned_;
  }
  return *this;
}

PendingBatch::~PendingBatch() {
  if (batch_ != 0) Wait(std::chrono::steady_clock::now() + kDropWait);
}

bool PendingBatch::WaitUntilDone(std::chrono::steady_clock::time_point deadline) const {
  // With a deadline already past the engine only looks; it does not wait.
  return batch_ == 0 || engine_->WaitBatch(batch_, deadline).ok();
}

std::vector<Status> PendingBatch::Wait(std::chrono::steady_clock::time_point deadline) {
  std::vector<Status> results(requests_, refused_);
  if (batch_ == 0) return results;
  const BatchId batch = std::exchange(batch_, 0);
  const bool settled = engine_->WaitBatch(batch, deadline).ok();
  if (refused_.ok()) {
    for (size_t i = 0; i < requests_; ++i) {
      Result<TransferStatus> status = engine_->GetTransferStatus(batch, i);
      if (!status.ok()) {
        results[i] = status.status();
      } else if (status->state == TransferState::kFailed) {
        results[i] = status->error.ok() ? Status(StatusCode::kTransferFail, "transfer failed")
                                        : status->error;
      } else if (status->state != TransferState::kCompleted) {
        results[i] = Status(StatusCode::kTransferFail,
                            fmt::format("transfer not done in time (batch {})", batch));
      }
    }
  }
  if (settled) {
    engine_->FreeBatchId(batch).IgnoreError();
  } else {
    // Tasks still in flight: the engine refuses to free the batch and ends them at its own
    // deadline. Rare: only when a transport misbehaves or `deadline` is shorter than a transfer.
    abandoned_ = true;
  }
  return results;
}

std::vector<Status> RunBatch(TransferEngine& engine, std::span<const TransferRequest> requests,
                             std::chrono::milliseconds timeout) {
  return PendingBatch::Start(engine, requests).Wait(std::chrono::steady_clock::now() + timeout);
}

}  // namespace mooncake::transfer
