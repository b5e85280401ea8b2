// MasterCore's liveness (node_liveness.h): nodes prove they are alive by
// mounting and heartbeating; Tick() declares a node dead once client_ttl passes without either
// and unmounts it, dropping its replicas exactly as UnmountNode does.
#include <string>
#include <vector>

#include "master/core/master_core.h"

namespace mooncake::master {

Status MasterCore::Heartbeat(const NodeId& node, Epoch epoch) {
  const std::optional<Epoch> current = pool_.NodeEpoch(node);
  if (!liveness_.Tracked(node) || !current || pool_.Nodes().count(node) == 0) {
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
  liveness_.Seen(node, clock_.Now());
  return Status::Ok();
}

void MasterCore::ExpireDeadNodes() {
  for (const NodeId& node : liveness_.CollectDead(clock_.Now(), options_.client_ttl)) {
    UnmountNode(node);  // Also forgets the node's liveness record.
    liveness_.RecordExpired(node);
  }
}

}  // namespace mooncake::master
