#pragma once

// How an object's bytes lie in memory. An object is the concatenation of the buffers a peer
// registered (or fetched into); its shards never span two of the registering peer's buffers,
// but a peer that fetched the object may hold it in a different list of buffers, so every
// range is mapped through an ExtentMap. Pure functions, no I/O.

#include <cstdint>
#include <vector>

#include "mooncake/common/status.h"

namespace mooncake::p2p {

// [address, address + length) in some process's memory.
struct Extent {
  uint64_t address = 0;
  uint64_t length = 0;
  friend bool operator==(const Extent&, const Extent&) = default;
};

// Shard sizes of an object registered from buffers of `buffer_sizes`: each buffer cut into
// shards of `max_shard_size` (the last one of a buffer may be shorter). Sizes must be > 0.
std::vector<uint64_t> ShardSizes(const std::vector<uint64_t>& buffer_sizes,
                                 uint64_t max_shard_size);

// Object offsets → memory of one process, given that process's buffers in object order.
class ExtentMap {
 public:
  ExtentMap() = default;
  explicit ExtentMap(std::vector<Extent> buffers);

  uint64_t size() const { return size_; }
  const std::vector<Extent>& buffers() const { return buffers_; }
  // The memory holding object bytes [offset, offset + length), in order. kInvalidParams when
  // the range is outside the object.
  Result<std::vector<Extent>> Map(uint64_t offset, uint64_t length) const;

 private:
  std::vector<Extent> buffers_;
  std::vector<uint64_t> starts_;  // object offset of each buffer
  uint64_t size_ = 0;
};

// One contiguous copy: `length` bytes from `remote` (in the holder) to `local` (here).
struct Copy {
  uint64_t local = 0;
  uint64_t remote = 0;
  uint64_t length = 0;
  friend bool operator==(const Copy&, const Copy&) = default;
};

// The copies that move object bytes [offset, offset + length) from a holder laid out as
// `remote` into memory laid out as `local`: cut wherever either side changes buffer.
Result<std::vector<Copy>> PlanCopies(const ExtentMap& local, const ExtentMap& remote,
                                     uint64_t offset, uint64_t length);

}  // namespace mooncake::p2p
