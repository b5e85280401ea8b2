// MasterCore's rebuild from node manifests (see MountWithManifest in master_core.h). The
// storage nodes are the truth; the master's index is rebuildable: a restarted master learns
// every object again as the nodes re-mount and announce what they hold.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "master/core/master_core.h"

namespace mooncake {

Result<MountReport> MasterCore::MountWithManifest(const SegmentSpec& spec,
                                                  const std::vector<ManifestEntry>& manifest) {
  MC_RETURN_IF_ERROR(Mount(spec));
  MountReport report;
  for (const ManifestEntry& entry : manifest) Adopt(spec, entry, report);
  return report;
}

void MasterCore::Adopt(const SegmentSpec& spec, const ManifestEntry& m, MountReport& report) {
  if (!ValidateKey(m.key).ok() || m.size == 0 || m.size > options_.max_object_size ||
      m.length < m.size || m.version == 0) {
    ++report.skipped_invalid;
    return;
  }
  auto it = objects_.find(m.key);
  if (it != objects_.end()) {
    const ObjectEntry& known = it->second;
    // A put in flight owns the key until it ends; a higher known version wins outright.
    if (known.pending || !known.visible || known.version > m.version) {
      ++report.skipped_conflict;
      return;
    }
    if (known.version == m.version) {
      const bool same_object = known.size == m.size && known.checksum == m.checksum;
      const bool node_has_one =
          std::any_of(known.replicas.begin(), known.replicas.end(),
                      [&](const Replica& r) { return r.node == spec.node_id; });
      if (!same_object || node_has_one) {
        ++report.skipped_conflict;
        return;
      }
    }
  }
  // Reserve before touching the index, so an invalid range changes nothing.
  if (!pool_.Reserve(spec.name, m.address, m.length).ok()) {
    ++report.skipped_invalid;
    return;
  }
  Replica replica{spec.medium, spec.node_id, ReplicaStatus::kComplete,
                  Allocation{spec.name, m.address, m.length}};
  next_version_ = std::max(next_version_, m.version + 1);
  ++report.adopted;
  if (it != objects_.end() && it->second.version == m.version) {
    ObjectEntry& known = it->second;
    known.replicas.push_back(std::move(replica));
    known.replica_num = std::max(known.replica_num, static_cast<int>(known.replicas.size()));
    return;
  }
  if (it != objects_.end()) {
    // A newer version supersedes the known one: free its replicas as an upsert's PutEnd
    // would, deferred while a read lease is live.
    ObjectEntry& known = it->second;
    if (LeaseLive(known)) {
      deferred_.push_back(Deferred{known.lease_until, std::move(known.replicas)});
    } else {
      FreeReplicas(known.replicas);
    }
    known.replicas.clear();
  } else {
    it = objects_.emplace(m.key, ObjectEntry{}).first;
  }
  ObjectEntry& entry = it->second;
  entry.visible = true;
  entry.size = m.size;
  entry.version = m.version;
  entry.checksum = m.checksum;
  entry.replicas.push_back(std::move(replica));
  entry.pin = PinState{};
  entry.lease_until = TimePoint{};
  entry.lease_streak_start = TimePoint{};
  entry.last_access = clock_.Now();
}

}  // namespace mooncake
