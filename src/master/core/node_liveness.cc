#include "master/core/node_liveness.h"

#include <utility>

namespace mooncake::master {

std::vector<NodeId> NodeLiveness::CollectDead(TimePoint now, std::chrono::milliseconds ttl) const {
  std::vector<NodeId> dead;
  for (const auto& [node, seen] : last_seen_) {
    if (now - seen >= ttl) dead.push_back(node);
  }
  return dead;
}

std::vector<NodeId> NodeLiveness::TakeExpired() {
  std::vector<NodeId> expired;
  expired.swap(expired_);
  return expired;
}

Status NodeLiveness::CheckInvariants(const std::set<NodeId>& mounted) const {
  for (const NodeId& node : mounted) {
    if (!Tracked(node)) {
      return InternalError("master core inconsistent: node '" + node +
                           "' has a mounted segment but no liveness record");
    }
  }
  return Status::Ok();
}

}  // namespace mooncake::master
