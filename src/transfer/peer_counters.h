#pragma once

// Per-peer transfer counters of an engine: what it moved to and from each peer segment as the
// initiator, and what peers moved through its TCP target. Counters are created on first use
// and never removed; the table is bounded (names arrive from the network in HELLO), extra
// peers are counted under "(other)".

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mooncake/transfer/transfer_types.h"

namespace mooncake::transfer {

struct PeerCounters {
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> bytes_written{0};
  std::atomic<uint64_t> tasks_completed{0};
  std::atomic<uint64_t> tasks_failed{0};
  std::atomic<uint64_t> served_bytes_read{0};
  std::atomic<uint64_t> served_bytes_written{0};
};

class PeerCounterTable {
 public:
  static constexpr size_t kMaxPeers = 4096;
  static constexpr const char* kOtherPeers = "(other)";

  // The counters of `peer`; the pointer stays valid as long as the table. Thread-safe.
  PeerCounters* For(const std::string& peer);
  std::vector<PeerTransferStats> Snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<PeerCounters>> peers_;
};

}  // namespace mooncake::transfer
