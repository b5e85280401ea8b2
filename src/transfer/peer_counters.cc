#include "transfer/peer_counters.h"

namespace mooncake::transfer {

PeerCounters* PeerCounterTable::For(const std::string& peer) {
  std::lock_guard lock(mutex_);
  auto it = peers_.find(peer);
  if (it != peers_.end()) return it->second.get();
  const std::string& name = peers_.size() < kMaxPeers ? peer : std::string(kOtherPeers);
  auto& slot = peers_[name];
  if (!slot) slot = std::make_unique<PeerCounters>();
  return slot.get();
}

std::vector<PeerTransferStats> PeerCounterTable::Snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<PeerTransferStats> out;
  out.reserve(peers_.size());
  for (const auto& [name, c] : peers_) {
    PeerTransferStats s;
    s.peer = name;
    s.bytes_read = c->bytes_read.load(std::memory_order_relaxed);
    s.bytes_written = c->bytes_written.load(std::memory_order_relaxed);
    s.tasks_completed = c->tasks_completed.load(std::memory_order_relaxed);
    s.tasks_failed = c->tasks_failed.load(std::memory_order_relaxed);
    s.served_bytes_read = c->served_bytes_read.load(std::memory_order_relaxed);
    s.served_bytes_written = c->served_bytes_written.load(std::memory_order_relaxed);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace mooncake::transfer
