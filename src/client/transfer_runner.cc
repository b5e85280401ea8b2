#include "client/transfer_runner.h"

#include <thread>

#include "store_types/segment.h"

namespace mooncake::store {

TransferRunner::TransferRunner(transfer::TransferEngine& engine, std::chrono::milliseconds timeout)
    : engine_(engine), timeout_(timeout) {}

Result<transfer::SegmentHandle> TransferRunner::Segment(const std::string& name) {
  {
    std::lock_guard lock(segments_mutex_);
    auto it = segments_.find(name);
    if (it != segments_.end()) return it->second;
  }
  // Opened outside the lock: the first contact with a peer may take a handshake. A node's
  // further segments ("<engine>/ssd") are served by its engine.
  MC_ASSIGN_OR_RETURN(transfer::SegmentHandle handle,
                      engine_.OpenSegment(std::string(TransferSegmentOf(name))));
  std::lock_guard lock(segments_mutex_);
  segments_.emplace(name, handle);
  return handle;
}

std::vector<Status> TransferRunner::Run(const std::vector<transfer::TransferRequest>& requests) {
  std::vector<Status> results(requests.size());
  if (requests.empty()) return results;
  auto batch = engine_.AllocateBatchId(requests.size());
  if (!batch.ok()) {
    for (Status& s : results) s = batch.status();
    return results;
  }
  if (Status submitted = engine_.SubmitTransfer(*batch, requests); !submitted.ok()) {
    for (Status& s : results) s = submitted;
    engine_.FreeBatchId(*batch).IgnoreError();
    return results;
  }
  // The engine enforces its own per-slice deadline; this one only bounds the wait if a task
  // somehow never settles. Polls with a short spin, then sleeps, so a waiting caller leaves
  // the CPU to the engine's I/O threads.
  const auto deadline = std::chrono::steady_clock::now() + timeout_ + std::chrono::seconds(2);
  std::vector<bool> done(requests.size(), false);
  size_t remaining = requests.size();
  int spins = 0;
  while (remaining > 0) {
    for (size_t i = 0; i < requests.size(); ++i) {
      if (done[i]) continue;
      auto status = engine_.GetTransferStatus(*batch, i);
      if (!status.ok()) {
        results[i] = status.status();
      } else if (status->state == transfer::TransferState::kCompleted) {
        results[i] = Status::Ok();
      } else if (status->state == transfer::TransferState::kFailed) {
        results[i] = status->error.ok() ? Status(StatusCode::kTransferFail, "transfer failed")
                                        : status->error;
      } else {
        continue;
      }
      done[i] = true;
      --remaining;
    }
    if (remaining == 0) break;
    if (std::chrono::steady_clock::now() > deadline) {
      for (size_t i = 0; i < requests.size(); ++i) {
        if (!done[i]) {
          results[i] = Status(StatusCode::kTransferFail, "transfer did not settle in time");
        }
      }
      // The batch still has tasks in flight; it cannot be freed now (the engine refuses), so
      // it is left to the engine's own timeout. Rare: only if the engine misbehaves.
      return results;
    }
    if (++spins < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
  engine_.FreeBatchId(*batch).IgnoreError();
  return results;
}

}  // namespace mooncake::store
