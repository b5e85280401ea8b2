#pragma once

// Which storage nodes are alive, for MasterCore. A node proves it is alive by mounting a
// segment or heartbeating (Seen); one not seen for client_ttl is dead: CollectDead names it,
// the core unmounts its segments (dropping every replica there) and records it here for the
// service (TakeExpired). Liveness owns no segments and checks no epochs: the SegmentPool knows
// which incarnation of a node is mounted, and MasterCore::Heartbeat consults both.
//
// Invariant (CheckInvariants): every node with a mounted segment is tracked. A node may stay
// tracked with none left (it unmounted its last segment one by one) until it expires.
//
// Not thread-safe; owned by MasterCore.

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "master/core/object_view.h"
#include "mooncake/common/status.h"
#include "store_types/segment.h"

namespace mooncake::master {

class NodeLiveness {
 public:
  // `node` mounted or heartbeated at `now`.
  void Seen(const NodeId& node, TimePoint now) { last_seen_[node] = now; }
  // Whether `node` is tracked (mounted since it last expired or was unmounted).
  bool Tracked(const NodeId& node) const { return last_seen_.contains(node); }
  // Stops tracking `node` (its segments are gone).
  void Forget(const NodeId& node) { last_seen_.erase(node); }
  // The tracked nodes not seen for `ttl` at `now`, in node order. Changes nothing: the core
  // unmounts each (which Forgets it) and then calls RecordExpired.
  std::vector<NodeId> CollectDead(TimePoint now, std::chrono::milliseconds ttl) const;
  // `node` was declared dead; TakeExpired hands it to the service.
  void RecordExpired(const NodeId& node) { expired_.push_back(node); }
  // The nodes declared dead since the last call, in the order they expired; clears the list.
  std::vector<NodeId> TakeExpired();

  // kInternalError naming a node of `mounted` (the pool's nodes) that is not tracked.
  Status CheckInvariants(const std::set<NodeId>& mounted) const;

 private:
  std::map<NodeId, TimePoint, std::less<>> last_seen_;
  std::vector<NodeId> expired_;
};

}  // namespace mooncake::master
