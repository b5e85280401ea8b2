#include "master/core/dram_first_placement.h"

#include "store_types/ssd_geometry.h"

namespace mooncake::master {

namespace {

bool HasSsdTier(const SegmentPool& pool) { return pool.Usage(Medium::kSsd).capacity > 0; }

}  // namespace

std::vector<PutStep> DramFirstPlacement::PutSteps(Medium requested, size_t key_bytes,
                                                  const SegmentPool& pool) const {
  using Room = PutStep::Room;
  if (requested == Medium::kDram && key_bytes <= kSsdMaxKeyBytes && HasSsdTier(pool)) {
    return {{Medium::kDram, Room::kFreeOnly},
            {Medium::kSsd, Room::kFreeOnly},
            {Medium::kDram, Room::kEvictFirst},
            {Medium::kSsd, Room::kEvictFirst}};
  }
  return {{requested, Room::kFreeOnly}, {requested, Room::kEvictFirst}};
}

std::optional<Medium> DramFirstPlacement::DemotionTarget(Medium from,
                                                         const SegmentPool& pool) const {
  if (from == Medium::kDram && HasSsdTier(pool)) return Medium::kSsd;
  return std::nullopt;
}

std::optional<Medium> DramFirstPlacement::PromotionTarget(Medium on) const {
  if (on == Medium::kSsd) return Medium::kDram;
  return std::nullopt;
}

}  // namespace mooncake::master
