#include "master/core/lru_eviction_policy.h"

#include <algorithm>
#include <tuple>

namespace mooncake::master {

void LruEvictionPolicy::Order(std::vector<EvictionCandidate>& candidates) const {
  std::sort(candidates.begin(), candidates.end(),
            [](const EvictionCandidate& a, const EvictionCandidate& b) {
              return std::tie(a.soft_pinned, a.last_access, a.key) <
                     std::tie(b.soft_pinned, b.last_access, b.key);
            });
}

}  // namespace mooncake::master
