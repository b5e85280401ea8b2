#include "p2p/object_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace mooncake::p2p {

std::vector<uint64_t> ShardSizes(const std::vector<uint64_t>& buffer_sizes,
                                 uint64_t max_shard_size) {
  std::vector<uint64_t> shards;
  if (max_shard_size == 0) return shards;
  for (uint64_t size : buffer_sizes) {
    for (uint64_t at = 0; at < size; at += max_shard_size) {
      shards.push_back(std::min(max_shard_size, size - at));
    }
  }
  return shards;
}

ExtentMap::ExtentMap(std::vector<Extent> buffers) : buffers_(std::move(buffers)) {
  starts_.reserve(buffers_.size());
  for (const Extent& e : buffers_) {
    starts_.push_back(size_);
    size_ += e.length;
  }
}

Result<std::vector<Extent>> ExtentMap::Map(uint64_t offset, uint64_t length) const {
  if (offset > size_ || length > size_ - offset) {
    return InvalidParams(
        fmt::format("object bytes {}+{} are outside the object ({} bytes)", offset, length, size_));
  }
  std::vector<Extent> out;
  if (length == 0) return out;
  // First buffer whose start is > offset, minus one: the buffer containing offset.
  auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
  size_t i = static_cast<size_t>(std::distance(starts_.begin(), it)) - 1;
  uint64_t at = offset;
  const uint64_t end = offset + length;
  while (at < end) {
    // Skip empty buffers (length 0) that share a start with the next one.
    while (buffers_[i].length == 0 || at >= starts_[i] + buffers_[i].length) ++i;
    uint64_t in_buffer = at - starts_[i];
    uint64_t n = std::min(end - at, buffers_[i].length - in_buffer);
    out.push_back({buffers_[i].address + in_buffer, n});
    at += n;
  }
  return out;
}

Result<std::vector<Copy>> PlanCopies(const ExtentMap& local, const ExtentMap& remote,
                                     uint64_t offset, uint64_t length) {
  MC_ASSIGN_OR_RETURN(std::vector<Extent> here, local.Map(offset, length));
  MC_ASSIGN_OR_RETURN(std::vector<Extent> there, remote.Map(offset, length));
  std::vector<Copy> copies;
  size_t i = 0, j = 0;
  uint64_t used_here = 0, used_there = 0;  // bytes consumed of here[i], there[j]
  while (i < here.size() && j < there.size()) {
    uint64_t n = std::min(here[i].length - used_here, there[j].length - used_there);
    copies.push_back({here[i].address + used_here, there[j].address + used_there, n});
    used_here += n;
    used_there += n;
    if (used_here == here[i].length) {
      ++i;
      used_here = 0;
    }
    if (used_there == there[j].length) {
      ++j;
      used_there = 0;
    }
  }
  return copies;
}

}  // namespace mooncake::p2p
