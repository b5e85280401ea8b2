#pragma once

// What MasterCore's schedulers may ask of its index upkeep: the few changes to replicas that
// must go through the core so that the object table, the SegmentIndex members, the deferred
// frees, the below-target set and the manifest journals change together.

#include <functional>
#include <set>

#include "master/core/object_record.h"

namespace mooncake::master {

// Visible objects below their replica target, by address (the object index keeps it exact;
// the repair scheduler scans it).
using BelowTargetSet = std::set<ObjectRecord*, std::less<>>;

// What a finished copy was for.
enum class CopyKind : uint8_t {
  // Re-replication or a drain copy: one more replica, on a node holding none.
  kRepair,
  // Eviction moving an object to a lower tier: the copy replaces every other replica.
  kDemotion,
  // A hot object copied to a faster tier: the copy joins the others.
  kPromotion,
};

class ReplicaKeeper {
 public:
  virtual ~ReplicaKeeper() = default;
  // Gives `replica`'s range back: to the pool, or to the SSD quarantine; nothing when its
  // segment is gone (its allocations went with it).
  virtual void FreeReplicaSpace(const ReplicaRecord& replica) = 0;
  // Visible with its replicas on fewer nodes than replica_num.
  virtual bool BelowTarget(const ObjectRecord& record) const = 0;
  // `destination`, a copy of `record`'s bytes whose allocation the caller hands over, becomes
  // a COMPLETE replica: linked, journaled for its node's manifest, counted for the target. For
  // a demotion every other replica is retired in the same step (readers see either the old
  // replicas or the new one, never neither).
  virtual void AddCopiedReplica(ObjectRecord* record, const ReplicaRecord& destination,
                                CopyKind kind) = 0;
};

}  // namespace mooncake::master
