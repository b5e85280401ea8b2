#pragma once

// The seam that decides in which order the master core evicts objects. MasterCore decides
// *whether* to evict (watermarks) and *which objects may go* (no live lease, no hard pin, no
// put in flight); the policy only orders the eligible ones. One implementation per file
// (lru_eviction_policy.h).

#include <string_view>
#include <vector>

#include "master/core/object_view.h"

namespace mooncake::master {

// One object that may be evicted, as the policy sees it. `key` points into the core's object
// table and is valid only during the Order() call.
struct EvictionCandidate {
  std::string_view key;
  // Last GetReplicaList (or PutEnd); ExistKey/GetSize are probes and do not update it.
  TimePoint last_access{};
  // Live soft pin: to go only after every unpinned candidate.
  bool soft_pinned = false;
};

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  // Sorts `candidates` into eviction order, first to go first. Must put every soft-pinned
  // candidate after every unpinned one. Must be deterministic for equal inputs.
  virtual void Order(std::vector<EvictionCandidate>& candidates) const = 0;
};

}  // namespace mooncake::master
