// MasterCore's liveness (see "Liveness" in master_core.h): nodes prove they are alive by
// mounting and heartbeating; Tick() declares a node dead once client_ttl passes without either
// and unmounts it, dropping its replicas exactly as UnmountNode does.
#include <string>
#include <vector>

#include "master/core/master_core.h"

namespace mooncake::master {

Status MasterCore::Heartbeat(const NodeId& node, Epoch epoch) {
  auto it = last_seen_.find(node);
  const std::optional<Epoch> current = pool_.NodeEpoch(node);
  if (it == last_seen_.end() || !current || pool_.Nodes().count(node) == 0) {
    return {StatusCode::kClientNotFound, "node '" + node + "' has no mounted segment"};
  }
  if (epoch < *current) {
    return {StatusCode::kInvalidVersion, "heartbeat from node '" + node + "' epoch " +
                                             std::to_string(epoch) + " older than its epoch " +
                                             std::to_string(*current)};
  }
  if (epoch > *current) {
    // A new incarnation that has not mounted yet: the old one's segments are not its to keep
    // alive; it must mount (which replaces them).
    return {StatusCode::kClientNotFound, "node '" + node + "' epoch " + std::to_string(epoch) +
                                             " has not mounted (mounted epoch " +
                                             std::to_string(*current) + ")"};
  }
  it->second = clock_.Now();
  return Status::Ok();
}

std::vector<NodeId> MasterCore::TakeExpiredNodes() {
  std::vector<NodeId> expired;
  expired.swap(expired_nodes_);
  return expired;
}

void MasterCore::ExpireDeadNodes() {
  const TimePoint now = clock_.Now();
  std::vector<NodeId> dead;
  for (const auto& [node, seen] : last_seen_) {
    if (now - seen >= options_.client_ttl) dead.push_back(node);
  }
  for (const NodeId& node : dead) {
    UnmountNode(node);  // Also forgets last_seen_[node].
    expired_nodes_.push_back(node);
  }
}

}  // namespace mooncake::master
