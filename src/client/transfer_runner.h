#pragma once

// Runs a set of Transfer Engine requests as one batch and waits for all of them: the client's
// only way of moving bytes. Also caches segment handles by name.
//
// Thread safety: every method may be called from any thread concurrently.

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_engine.h"

namespace mooncake::store {

class TransferRunner {
 public:
  // `engine` must outlive the runner.
  TransferRunner(transfer::TransferEngine& engine, std::chrono::milliseconds timeout);

  // The handle of segment `name`, opening it on first use.
  Result<transfer::SegmentHandle> Segment(const std::string& name);

  // Submits every request in one batch and waits until each completed or failed (or the
  // timeout passed: then the stragglers are reported kTransferFail). One status per request.
  std::vector<Status> Run(const std::vector<transfer::TransferRequest>& requests);

 private:
  transfer::TransferEngine& engine_;
  const std::chrono::milliseconds timeout_;
  std::mutex segments_mutex_;
  std::unordered_map<std::string, transfer::SegmentHandle> segments_;
};

}  // namespace mooncake::store
