#pragma once

// SSD ranges the master has freed but may not reuse yet. A node keeps a header block in front
// of every object on its SSD segment (so a restarted node finds its objects by scanning the
// file) and erases it when its manifest loses the object. Until the node acknowledges the
// manifest change that told it to erase, the old header may still be on disk: a new object's
// bytes written there could be found, after a crash, under the old object's key. So a freed
// SSD range of a manifest-tracking node is quarantined — still held in the SegmentPool — until
// the node acknowledges the change numbered `seq` (the journal's last when it was freed), and
// only then given back.
//
// Invariant (CheckInvariants, with the core's segment index and pool): every quarantined range
// is held in the pool, on a live SSD segment that tracks a manifest; no segment has an empty
// list.
//
// Not thread-safe; owned by MasterCore.

#include <cstdint>
#include <deque>
#include <map>

#include "master/core/segment_index.h"
#include "master/core/segment_pool.h"
#include "mooncake/common/status.h"

namespace mooncake::master {

class SsdQuarantine {
 public:
  // Whether freeing `address`/`length` on `segment` must wait: an SSD segment whose journal
  // holds changes its node has not acknowledged. If so the range is held until the node
  // acknowledges the journal's last change, and true is returned; else the caller frees it.
  bool HoldIfUnacknowledged(SegmentId id, const SegmentIndex::Segment& segment, uint64_t address,
                            uint64_t length);
  // Gives back to `pool` the ranges of `id` its node has acknowledged (`segment`'s journal).
  void Release(SegmentId id, const SegmentIndex::Segment& segment, SegmentPool& pool);
  // Forgets the ranges of a segment that is gone (they went with it).
  void Forget(SegmentId id) { ranges_.erase(id); }
  // Quarantined ranges, over every segment.
  size_t Ranges() const;
  // Their bytes.
  uint64_t Bytes() const;

  // Verifies the invariant above; counts each range in `held_on` (per segment).
  Status CheckInvariants(const SegmentIndex& segments, const SegmentPool& pool,
                         std::map<SegmentId, size_t>& held_on) const;

 private:
  struct Range {
    uint64_t seq = 0;
    uint64_t address = 0;
    uint64_t length = 0;
  };
  // Per segment, in order of seq (ranges are appended as its journal grows).
  std::map<SegmentId, std::deque<Range>> ranges_;
};

}  // namespace mooncake::master
