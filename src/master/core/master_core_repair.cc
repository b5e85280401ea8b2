// MasterCore's side of copies (re-replication, drain, demotion, promotion): the public calls
// that hand over to the RepairScheduler (repair_scheduler.h), and the ObjectObserver calls
// through which the object index tells the schedulers what changed under them.
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

// ---- ObjectObserver -----------------------------------------------------------------------

void MasterCore::OnErase(ObjectRecord* record) {
  repair_scheduler_.Forget(record);
  write_back_.Forget(record);
}

void MasterCore::OnReplicasDropped(ObjectRecord* record) {
  repair_scheduler_.Cancel(record);     // it may read from one of them
  repair_scheduler_.ResetHits(record);  // back on one tier: its hits start over
}

void MasterCore::OnSegmentsGone() {
  repair_scheduler_.DropOnGoneSegments();
  write_back_.DropOnGoneSegments();
}

}  // namespace mooncake::master
