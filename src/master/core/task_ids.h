#pragma once

// The numbers of the tasks the master hands to nodes (copies and uploads share one sequence,
// so a report names exactly one task). Seeded like versions, from the wall clock in ns (the
// service's first_version): a node reporting a task of an earlier master can never name one
// of this master's.

#include <cstdint>

namespace mooncake::master {

class TaskIds {
 public:
  explicit TaskIds(uint64_t first) : next_(first) {}
  uint64_t Next() { return next_++; }

 private:
  uint64_t next_;
};

}  // namespace mooncake::master
