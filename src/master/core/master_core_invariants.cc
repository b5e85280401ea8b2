// MasterCore::CheckInvariants: walks every structure and cross-checks it against the others
// (each collaborator checks its own; see docs/master.md). O(n); tests call it after their
// operations.
#include <fmt/format.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "master/core/master_core.h"

namespace mooncake::master {

namespace {

Status Broken(std::string what) {
  return InternalError("master core inconsistent: " + std::move(what));
}

}  // namespace

Status MasterCore::CheckInvariants() const {
  Status s = pool_.CheckConsistency();
  if (!s.ok()) return s;

  // Segments: the index mirrors the pool's mounts, and nothing is left half-dropped.
  std::map<SegmentId, size_t> replicas_on;  // replicas (any kind) per segment
  size_t indexed = 0;
  Status bad;
  segments_.ForEach([&](SegmentId id, const SegmentIndex::Segment& segment) {
    ++indexed;
    replicas_on[id] = 0;
    if (!bad.ok()) return;
    if (segment.gone) {
      bad = Broken(fmt::format("segment '{}' (id {}) is gone but still indexed", segment.name, id));
      return;
    }
    if (segments_.Find(segment.name) != id) {
      bad = Broken(fmt::format("segment '{}' (id {}) is not found by name", segment.name, id));
      return;
    }
    const std::optional<SegmentInfo> info = pool_.Find(segment.name);
    if (!info || info->node_id != segment.node || info->medium != segment.medium ||
        info->draining != segment.draining) {
      bad = Broken(fmt::format("indexed segment '{}' is not mounted as indexed", segment.name));
    }
  });
  if (!bad.ok()) return bad;
  if (indexed != pool_.List().size() || segments_.size() != indexed) {
    return Broken(fmt::format("{} segments indexed, {} by name, {} mounted", indexed,
                              segments_.size(), pool_.List().size()));
  }

  // Objects, their replicas, puts in flight, deferred frees.
  size_t deferred_total = 0;
  s = index_.CheckInvariants(replicas_on, deferred_total);
  if (!s.ok()) return s;
  s = repair_scheduler_.CheckInvariants(replicas_on);
  if (!s.ok()) return s;
  s = write_back_.CheckInvariants();
  if (!s.ok()) return s;

  // Quarantined SSD ranges: held, on live SSD segments that track a manifest.
  s = quarantine_.CheckInvariants(segments_, pool_, replicas_on);
  if (!s.ok()) return s;
  const size_t quarantined = quarantine_.Ranges();
  s = liveness_.CheckInvariants(pool_.Nodes());
  if (!s.ok()) return s;

  // Every member entry belongs to a replica (counted above), and the pool holds exactly the
  // replicas' allocations: nothing leaked, nothing freed twice.
  size_t linked = 0;
  segments_.ForEach(
      [&](SegmentId, const SegmentIndex::Segment& segment) { linked += segment.members.size(); });
  size_t replicas_total = 0;
  for (const auto& [id, n] : replicas_on) {
    const SegmentIndex::Segment& segment = segments_.Get(id);
    const size_t allocations = pool_.Find(segment.name)->allocations;
    if (allocations != n) {
      return Broken(fmt::format("segment '{}' holds {} allocations for {} replicas", segment.name,
                                allocations, n));
    }
    replicas_total += n;
  }
  const size_t repairs = repair_scheduler_.InFlight();
  if (linked + deferred_total + repairs + quarantined != replicas_total) {
    return Broken(
        fmt::format("{} member entries + {} deferred + {} repair destinations + {} quarantined "
                    "for {} replicas",
                    linked, deferred_total, repairs, quarantined, replicas_total));
  }
  return Status::Ok();
}

}  // namespace mooncake::master
