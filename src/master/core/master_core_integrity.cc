// MasterCore's reaction to corrupt replicas: a client that read a replica and found its bytes
// not to match the object's CRC32C reports it (after reading another replica), and the master
// drops that replica so that re-replication (Tick -> ScheduleRepairs) copies a good one; the
// copy's node checks the CRC32C, so a bad source can never become a new replica.
//
// Why the report names the replica by (segment, address) as GetReplicaList listed it, with the
// version: a report that arrives after the object was upserted, removed or repaired names a
// replica that is no longer there (or another version), and is refused without changing
// anything, so a late or repeated report can never drop a good replica.
//
// Memory safety: the replica's range is freed only when no reader may still be reading it
// (at lease_until while a read lease is live, as RetireReplicas does), even when the object is
// erased; an SSD range then waits for its node to erase the header (FreeInPool's quarantine).
#include <string>
#include <utility>
#include <vector>

#include "master/core/master_core.h"

namespace mooncake::master {

const char* CorruptReplicaOutcomeName(CorruptReplicaOutcome outcome) {
  switch (outcome) {
    case CorruptReplicaOutcome::kDropped:
      return "dropped";
    case CorruptReplicaOutcome::kObjectErased:
      return "object erased";
    case CorruptReplicaOutcome::kKept:
      return "kept";
  }
  return "unknown";
}

Result<CorruptReplicaOutcome> MasterCore::ReportCorruptReplica(std::string_view key,
                                                               uint64_t version,
                                                               std::string_view segment,
                                                               uint64_t address) {
  MC_RETURN_IF_ERROR(ValidateKey(key));
  ObjectRecord* record = index_.table().Find(key);
  if (record == nullptr || !record->visible) {
    return Status(StatusCode::kObjectNotFound, "object '" + std::string(key) + "' not found");
  }
  // An upsert past its deadline is no longer in flight (a visible record stays).
  index_.ReclaimIfExpired(record);
  if (version != record->version) {
    return Status(StatusCode::kInvalidVersion,
                  "corrupt replica of '" + std::string(key) + "' reported at version " +
                      std::to_string(version) + ", the object is at version " +
                      std::to_string(record->version));
  }
  const auto replicas = record->replicas();
  size_t index = replicas.size();
  for (size_t i = 0; i < replicas.size(); ++i) {
    // Readers address a replica by its data range (past the header block on SSD).
    const Allocation data = segments_.DataRange(replicas[i], record->size);
    if (data.segment == segment && data.address == address) {
      index = i;
      break;
    }
  }
  if (index == replicas.size()) {
    return Status(StatusCode::kInvalidReplica,
                  "object '" + std::string(key) + "' has no replica at " + std::string(segment) +
                      " address " + std::to_string(address) + " (already dropped?)");
  }
  const SegmentIndex::Segment& where = segments_.Get(replicas[index].segment);
  CorruptReplicaCounts& counts = integrity_stats_.At(where.node, where.medium);
  ++integrity_stats_.corrupt_reports;
  ++counts.detected;
  // The writer of an upsert still owns the object; its PutEnd replaces this replica, and a
  // revoke leaves it to be reported again once nothing is in flight.
  if (replicas.size() == 1 && record->pending) return CorruptReplicaOutcome::kKept;
  ++integrity_stats_.corrupt_replicas_dropped;
  ++counts.dropped;
  DropCorruptReplica(record, index);
  if (!record->replicas().empty()) return CorruptReplicaOutcome::kDropped;
  // No good bytes left anywhere in the pool: gone, as Remove would (whatever the lease: the
  // replica's range itself waits for the lease above).
  ++integrity_stats_.objects_lost_to_corruption;
  index_.EraseObject(record);
  return CorruptReplicaOutcome::kObjectErased;
}

void MasterCore::DropCorruptReplica(ObjectRecord* record, size_t index) {
  const ReplicaRecord replica = record->replicas()[index];
  const Allocation data = segments_.DataRange(replica, record->size);
  // A copy reading this replica would fail its node's checksum check; cancel it now so a
  // remaining replica is the source of the next one. A demotion counts this replica's bytes
  // as freed on completion: cancel it too rather than let eviction count them twice.
  repair_scheduler_.OnReplicaDropped(record, replica.segment, data.address);
  // An upload not yet handed out goes back to the queue, to be read from a remaining replica;
  // one handed out is left to its node, which checks the checksum before uploading.
  write_back_.OnReplicaDropped(record, replica.segment, data.address);
  index_.RetireReplicaAt(record, index);
}

}  // namespace mooncake::master
