// MasterCore's rebuild from node manifests (see MountWithManifest in master_core.h). The
// storage nodes are the truth; the master's index is rebuildable: a restarted master learns
// every object again as the nodes re-mount and announce what they hold.
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "master/core/master_core.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::master {

Result<MountReport> MasterCore::MountWithManifest(const SegmentSpec& spec,
                                                  const std::vector<ManifestEntry>& manifest) {
  MC_RETURN_IF_ERROR(Mount(spec));
  index_.ReclaimExpiredPuts(clock_.Now());  // a put past its deadline no longer owns its key
  MountReport report;
  for (const ManifestEntry& entry : manifest) Adopt(spec, entry, report);
  return report;
}

Result<ManifestBatch> MasterCore::TakeManifestChanges(std::string_view segment, const NodeId& node,
                                                      uint64_t acked, size_t max) {
  std::optional<SegmentId> id = segments_.Find(segment);
  if (!id || segments_.Get(*id).node != node) {
    return Status(StatusCode::kSegmentNotFound,
                  "segment '" + std::string(segment) + "' is not mounted by node '" + node + "'");
  }
  ManifestJournal* journal = segments_.Journal(*id);
  if (journal == nullptr) {
    return InvalidParams("segment '" + std::string(segment) + "' does not track a manifest");
  }
  ManifestBatch batch = journal->Take(acked, max);
  // The node has applied (erased) everything up to `acked`: its quarantined ranges are free.
  quarantine_.Release(*id, segments_.Get(*id), pool_);
  return batch;
}

size_t MasterCore::ManifestBacklog() const {
  size_t backlog = 0;
  segments_.ForEach([&](SegmentId, const SegmentIndex::Segment& segment) {
    if (segment.journal) backlog += segment.journal->size();
  });
  return backlog;
}

void MasterCore::Adopt(const SegmentSpec& spec, const ManifestEntry& m, MountReport& report) {
  if (!ValidateKey(m.key).ok() || m.length == 0 || m.size > options_.max_object_size ||
      m.length < m.size || m.version == 0) {
    ++report.skipped_invalid;
    report.rejected_keys.push_back(m.key);
    return;
  }
  ObjectRecord* known = index_.table().Find(m.key);
  if (known != nullptr) {
    // A put in flight owns the key until it ends; a higher known version wins outright.
    if (known->pending || !known->visible || known->version > m.version) {
      ++report.skipped_conflict;
      report.rejected_keys.push_back(m.key);
      return;
    }
    if (known->version == m.version) {
      const bool same_object = known->size == m.size && known->checksum == m.checksum;
      const auto replicas = known->replicas();
      // A node may hold an object on two media (a promoted object: DRAM and SSD).
      const bool node_has_one_here =
          std::any_of(replicas.begin(), replicas.end(), [&](const ReplicaRecord& r) {
            const SegmentIndex::Segment& segment = segments_.Get(r.segment);
            return segment.node == spec.node_id && segment.medium == spec.medium;
          });
      // One replica per node and medium, and at most kMaxReplicas in all (one per put's
      // replica_num).
      if (!same_object || node_has_one_here || replicas.size() >= ObjectRecord::kMaxReplicas) {
        ++report.skipped_conflict;
        report.rejected_keys.push_back(m.key);
        return;
      }
    }
  }
  // On SSD a replica is a whole allocation: header block + data padded to blocks, aligned.
  if (spec.medium == Medium::kSsd &&
      (m.key.size() > kSsdMaxKeyBytes || m.length != SsdAllocationBytes(m.size) ||
       m.address < spec.base || (m.address - spec.base) % kSsdBlockBytes != 0)) {
    ++report.skipped_invalid;
    report.rejected_keys.push_back(m.key);
    return;
  }
  // Reserve before touching the index, so an invalid range changes nothing.
  if (!pool_.Reserve(spec.name, m.address, m.length).ok()) {
    ++report.skipped_invalid;
    report.rejected_keys.push_back(m.key);
    return;
  }
  // The object changes under any repair in flight (a new replica or version): cancel it.
  if (known != nullptr) repair_scheduler_.Cancel(known);
  // Mount just registered the segment.
  const ReplicaRecord replica{m.address, m.length, *segments_.Find(spec.name), 0};
  next_version_ = std::max(next_version_, m.version + 1);
  ++report.adopted;
  if (known != nullptr && known->version == m.version) {
    const bool was_below = index_.BelowTarget(*known);
    index_.AdoptReplica(known, replica);
    // A second medium on a node already holding it is no further copy wanted.
    std::set<NodeId> nodes;
    for (const ReplicaRecord& r : known->replicas()) nodes.insert(segments_.Get(r.segment).node);
    known->replica_num = static_cast<uint8_t>(std::max<size_t>(known->replica_num, nodes.size()));
    index_.UpdateBelowTarget(was_below, known);
    // Any node that uploaded this version says so for all of them.
    if (m.in_object_store) write_back_.MarkInObjectStore(known);
    if (index_.table().BlockChecksumsOf(known) == nullptr &&
        ValidateBlockChecksums(m.size, m.checksum, m.block_checksums).ok()) {
      index_.table().SetBlockChecksums(known, m.block_checksums);
    }
    return;
  }
  bool was_below = false;
  if (known != nullptr) {
    // A newer version supersedes the known one: free its replicas as an upsert's PutEnd
    // would, deferred while a read lease is live.
    was_below = index_.BelowTarget(*known);
    write_back_.LeaveBacklog(known);
    index_.RetireReplicas(known);
  } else {
    known = index_.table().Insert(m.key);
  }
  ObjectRecord& record = *known;
  record.visible = true;
  record.size = m.size;
  record.version = m.version;
  record.checksum = m.checksum;
  // A table that does not describe the entry (a node's bug, a damaged message) would get good
  // replicas dropped: without one, ranged reads check the whole object instead.
  index_.table().SetBlockChecksums(
      &record, ValidateBlockChecksums(m.size, m.checksum, m.block_checksums).ok()
                   ? m.block_checksums
                   : nullptr);
  index_.AdoptReplica(&record, replica);
  record.hard_pin = false;
  record.soft_until = TimePoint{};
  record.ssd_hits = 0;
  // Readers may still hold locations leased by the previous master (clients cache them for
  // the lease): the object starts leased, so nothing removes or evicts it before those
  // leases could have lapsed.
  record.lease_until = clock_.Now() + options_.default_lease_ttl;
  record.lease_streak_start = clock_.Now();
  record.last_access = clock_.Now();
  index_.UpdateBelowTarget(was_below, &record);
  write_back_.OnNewVersion(&record, m.in_object_store
                                        ? WriteBackScheduler::Origin::kAdoptedInObjectStore
                                        : WriteBackScheduler::Origin::kAdopted);
}

}  // namespace mooncake::master
