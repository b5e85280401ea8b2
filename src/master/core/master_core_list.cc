// MasterCore::ListKeys: the sorted key listing behind `mooncake ls`.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "master/core/master_core.h"

namespace mooncake::master {

Result<KeyPage> MasterCore::ListKeys(std::string_view prefix, std::string_view start_after,
                                     size_t limit) const {
  if (limit == 0) return Status(StatusCode::kInvalidParams, "ListKeys: limit must be > 0");
  // The table is a hash table: one pass keeps the `limit` smallest matches in a max-heap
  // (views into the records, stable while the caller holds the core), so memory stays
  // O(limit) however many keys match.
  std::vector<std::string_view> heap;
  heap.reserve(std::min(limit, objects_.size()));
  KeyPage page;
  objects_.ForEach([&](const ObjectRecord* record) {
    if (!record->visible) return;
    const std::string_view key = record->key();
    if (!key.starts_with(prefix) || key <= start_after) return;
    if (heap.size() < limit) {
      heap.push_back(key);
      std::push_heap(heap.begin(), heap.end());
      return;
    }
    page.truncated = true;
    if (key < heap.front()) {
      std::pop_heap(heap.begin(), heap.end());
      heap.back() = key;
      std::push_heap(heap.begin(), heap.end());
    }
  });
  std::sort_heap(heap.begin(), heap.end());
  page.keys.assign(heap.begin(), heap.end());
  return page;
}

}  // namespace mooncake::master
