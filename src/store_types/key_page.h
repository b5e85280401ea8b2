#pragma once

// One page of a key listing (the master's ListKeys; `mooncake ls`).

#include <string>
#include <vector>

namespace mooncake {

struct KeyPage {
  // Visible keys, sorted bytewise ascending.
  std::vector<std::string> keys;
  // More matching keys follow keys.back(): ask again with start_after = keys.back().
  bool truncated = false;
};

}  // namespace mooncake
