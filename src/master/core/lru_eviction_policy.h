#pragma once

// Least-recently-used first, by each object's last_access timestamp. "Approximate" LRU:
// accesses within one clock tick tie, and ties go by key, so the order is deterministic.

#include <vector>

#include "master/core/eviction_policy.h"

namespace mooncake::master {

class LruEvictionPolicy final : public EvictionPolicy {
 public:
  // Unpinned before soft-pinned; within each, oldest last_access first; then by key.
  void Order(std::vector<EvictionCandidate>& candidates) const override;
};

}  // namespace mooncake::master
