#pragma once

// The task ids queued for each node until its next heartbeat takes them (copy tasks, upload
// tasks). A task dropped after it was queued stays listed here until the node's next take,
// which skips it: dropping a task never has to search the outboxes.
//
// Not thread-safe; owned by a scheduler.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>

#include "store_types/segment.h"

namespace mooncake::master {

class NodeOutbox {
 public:
  void Push(const NodeId& node, uint64_t task_id) { ids_[node].push_back(task_id); }
  // Forgets everything queued for `node` (its tasks went with its segments).
  void Forget(const NodeId& node) { ids_.erase(node); }
  // Pops `node`'s ids in order, handing each to `take`, until `max` were taken: `take(id)`
  // returns false for an id whose task is gone or already handed out (it is skipped).
  template <typename TakeOne>
  void Take(const NodeId& node, size_t max, TakeOne&& take) {
    auto it = ids_.find(node);
    if (it == ids_.end()) return;
    std::deque<uint64_t>& ids = it->second;
    for (size_t taken = 0; !ids.empty() && taken < max;) {
      const uint64_t id = ids.front();
      ids.pop_front();
      if (take(id)) ++taken;
    }
    if (ids.empty()) ids_.erase(it);
  }
  // Every id queued, over every node (for invariant checks).
  std::set<uint64_t> Queued() const {
    std::set<uint64_t> queued;
    for (const auto& [node, ids] : ids_) queued.insert(ids.begin(), ids.end());
    return queued;
  }

 private:
  std::map<NodeId, std::deque<uint64_t>, std::less<>> ids_;
};

}  // namespace mooncake::master
