#include "client/transfer_runner.h"

#include "store_types/segment.h"
#include "transfer/batch_runner.h"

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
  // The engine enforces its own per-slice deadline; this one only bounds the wait if a task
  // somehow never settles.
  return transfer::RunBatch(engine_, requests, timeout_ + std::chrono::seconds(2));
}

}  // namespace mooncake::store
