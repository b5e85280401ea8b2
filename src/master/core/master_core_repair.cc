// MasterCore's side of copies (re-replication, drain, demotion, promotion): the public calls
// that hand over to the RepairScheduler (repair_scheduler.h), and the ReplicaKeeper calls
// through which the scheduler changes replicas.
#include <optional>
#include <string>
#include <vector>

#include "master/core/master_core.h"

namespace mooncake::master {

size_t MasterCore::ScheduleRepairs(size_t max) {
  return repair_scheduler_.Schedule(max, clock_.Now());
}

std::vector<CopyTask> MasterCore::TakeCopyTasks(const NodeId& node, size_t max) {
  return repair_scheduler_.TakeTasks(node, max, clock_.Now());
}

Result<RepairOutcome> MasterCore::CompleteRepair(uint64_t task_id, const NodeId& node,
                                                 const Status& result) {
  return repair_scheduler_.Complete(task_id, node, result, clock_.Now());
}

Result<size_t> MasterCore::Drain(const NodeId& node, Epoch epoch) {
  const std::optional<Epoch> current = pool_.NodeEpoch(node);
  if (!current || !pool_.Nodes().contains(node)) {
    return Status(StatusCode::kClientNotFound, "drain: node '" + node + "' has no mounted segment");
  }
  if (*current != epoch) {
    return Status(StatusCode::kInvalidVersion, "drain: node '" + node + "' epoch " +
                                                   std::to_string(epoch) + " is not its mounted " +
                                                   std::to_string(*current));
  }
  const std::vector<std::string> names = pool_.SetDraining(node);
  std::vector<SegmentId> ids;
  for (const std::string& name : names) {
    if (std::optional<SegmentId> id = segments_.Find(name)) {
      segments_.MarkDraining(*id);
      ids.push_back(*id);
    }
  }
  return repair_scheduler_.OnDrain(node, ids);
}

// ---- ReplicaKeeper -----------------------------------------------------------------------

void MasterCore::FreeReplicaSpace(const ReplicaRecord& replica) { FreeInPool(replica); }

void MasterCore::AddCopiedReplica(ObjectRecord* record, const ReplicaRecord& destination,
                                  CopyKind kind) {
  const bool was_below = BelowTarget(*record);
  // A demotion's copy replaces the old replicas in this one step: readers see either them or
  // it, never neither (a live read lease defers their frees).
  if (kind == CopyKind::kDemotion) RetireReplicas(record);
  record->AddReplica(destination);
  segments_.Link(record, record->replicas().back());
  UpdateBelowTarget(was_below, record);
  JournalReplica(*record, record->replicas().back());
}

}  // namespace mooncake::master
