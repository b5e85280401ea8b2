#include "common/offset_allocator.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <limits>
#include <optional>
#include <vector>

#include "mooncake/common/size.h"

namespace mooncake {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

std::string Bytes(uint64_t n) { return fmt::format("{} B ({})", n, FormatSize(n)); }

}  // namespace

Result<OffsetAllocator> OffsetAllocator::Create(uint64_t capacity, uint64_t alignment) {
  if (capacity == 0) return InvalidParams("offset allocator: capacity must be > 0");
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    return InvalidParams(
        fmt::format("offset allocator: alignment {} is not a power of two", alignment));
  }
  return OffsetAllocator(capacity, alignment);
}

OffsetAllocator::OffsetAllocator(uint64_t capacity, uint64_t alignment)
    : capacity_(capacity), alignment_(alignment) {
  InsertFree(0, capacity);
}

bool OffsetAllocator::FitsIn(uint64_t offset, uint64_t block, uint64_t size,
                             uint64_t* start) const {
  // offset + block <= capacity_, so nothing below overflows.
  const uint64_t pad = (alignment_ - offset % alignment_) % alignment_;
  if (pad > block || size > block - pad) return false;
  *start = offset + pad;
  return true;
}

OffsetAllocator::FreeByOffset::iterator OffsetAllocator::FindBestFit(uint64_t size,
                                                                     uint64_t* start) {
  // The smallest block of at least `size` bytes fits unless it needs leading padding (only
  // possible after an unaligned Reserve).
  auto candidate = free_by_size_.lower_bound({size, 0});
  if (candidate == free_by_size_.end()) return free_by_offset_.end();
  if (FitsIn(candidate->second, candidate->first, size, start)) {
    return free_by_offset_.find(candidate->second);
  }
  // Any block of size + alignment - 1 bytes fits whatever its offset: one more lookup keeps
  // Allocate O(log n), at the price of possibly skipping a smaller unaligned block that fits.
  const uint64_t always_fits = size <= kMax - (alignment_ - 1) ? size + alignment_ - 1 : kMax;
  auto sure = free_by_size_.lower_bound({always_fits, 0});
  if (sure != free_by_size_.end() && FitsIn(sure->second, sure->first, size, start)) {
    return free_by_offset_.find(sure->second);
  }
  // Only blocks in [size, always_fits) remain; some of them may still fit.
  for (auto it = std::next(candidate); it != free_by_size_.end(); ++it) {
    if (FitsIn(it->second, it->first, size, start)) return free_by_offset_.find(it->second);
  }
  return free_by_offset_.end();
}

Result<uint64_t> OffsetAllocator::Allocate(uint64_t size) {
  if (size == 0) return InvalidParams("offset allocator: cannot allocate 0 bytes");
  uint64_t start = 0;
  auto block = FindBestFit(size, &start);
  if (block == free_by_offset_.end()) {
    const Stats s = stats();
    return Status(
        StatusCode::kNoAvailableHandle,
        fmt::format("offset allocator: no free block fits {}: {} free in {} blocks, "
                    "largest free block {}",
                    Bytes(size), Bytes(s.free), s.free_blocks, Bytes(s.largest_free_block)));
  }
  // Round the end up to the alignment when the block has room, so that what stays free
  // starts aligned; otherwise take the block to its end.
  const uint64_t data_end = start + size;
  const uint64_t block_end = block->first + block->second;
  const uint64_t tail_pad = (alignment_ - data_end % alignment_) % alignment_;
  const uint64_t end = block_end - data_end > tail_pad ? data_end + tail_pad : block_end;
  Carve(block, start, end - start);
  return start;
}

Status OffsetAllocator::Free(uint64_t offset) {
  const std::optional<uint64_t> held = allocations_.Find(offset);
  if (!held) {
    return InvalidParams(
        fmt::format("offset allocator: no allocation starts at offset {} (never allocated "
                    "or already freed)",
                    offset));
  }
  uint64_t start = offset;
  uint64_t end = offset + *held;
  used_ -= *held;
  allocations_.Erase(offset);

  // Coalesce with the free blocks that touch either side, so free blocks stay maximal.
  auto right = free_by_offset_.lower_bound(offset);
  auto left = right == free_by_offset_.begin() ? free_by_offset_.end() : std::prev(right);
  if (right != free_by_offset_.end() && right->first == end) {
    end += right->second;
    EraseFree(right);
  }
  if (left != free_by_offset_.end() && left->first + left->second == start) {
    start = left->first;
    EraseFree(left);
  }
  InsertFree(start, end - start);
  return Status::Ok();
}

Status OffsetAllocator::Reserve(uint64_t offset, uint64_t size) {
  if (size == 0) {
    return InvalidParams(
        fmt::format("offset allocator: cannot reserve 0 bytes at offset {}", offset));
  }
  if (offset >= capacity_ || size > capacity_ - offset) {
    return InvalidParams(fmt::format(
        "offset allocator: reserve of {} bytes at offset {} leaves the segment of {} bytes", size,
        offset, capacity_));
  }
  // Free blocks are maximal, so a free range lies inside the one block starting at or
  // before `offset`.
  auto block = free_by_offset_.upper_bound(offset);
  if (block != free_by_offset_.begin()) {
    --block;
    if (offset - block->first < block->second && size <= block->second - (offset - block->first)) {
      Carve(block, offset, size);
      return Status::Ok();
    }
  }
  return InvalidParams(
      fmt::format("offset allocator: cannot reserve [{}, {}): part of it is already allocated",
                  offset, offset + size));
}

Result<uint64_t> OffsetAllocator::AllocationSize(uint64_t offset) const {
  const std::optional<uint64_t> held = allocations_.Find(offset);
  if (!held) {
    return InvalidParams(
        fmt::format("offset allocator: no allocation starts at offset {}", offset));
  }
  return *held;
}

OffsetAllocator::Stats OffsetAllocator::stats() const {
  Stats s;
  s.capacity = capacity_;
  s.used = used_;
  s.free = capacity_ - used_;
  s.largest_free_block = free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first;
  s.free_blocks = free_by_offset_.size();
  s.allocations = allocations_.size();
  s.fragmentation =
      s.free == 0 ? 0.0
                  : 1.0 - static_cast<double>(s.largest_free_block) / static_cast<double>(s.free);
  return s;
}

void OffsetAllocator::InsertFree(uint64_t offset, uint64_t size) {
  free_by_offset_.emplace(offset, size);
  free_by_size_.emplace(size, offset);
}

void OffsetAllocator::EraseFree(FreeByOffset::iterator it) {
  free_by_size_.erase({it->second, it->first});
  free_by_offset_.erase(it);
}

void OffsetAllocator::Carve(FreeByOffset::iterator it, uint64_t start, uint64_t size) {
  const uint64_t block_start = it->first;
  const uint64_t block_end = it->first + it->second;
  EraseFree(it);
  // The pieces left over cannot touch another free block: the original block was maximal.
  if (start > block_start) InsertFree(block_start, start - block_start);
  if (start + size < block_end) InsertFree(start + size, block_end - (start + size));
  allocations_.Insert(start, size);
  used_ += size;
}

Status OffsetAllocator::CheckConsistency() const {
  auto broken = [](std::string what) {
    return InternalError("offset allocator inconsistent: " + std::move(what));
  };
  if (free_by_size_.size() != free_by_offset_.size()) {
    return broken(fmt::format("{} blocks by size, {} by offset", free_by_size_.size(),
                              free_by_offset_.size()));
  }
  std::vector<std::pair<uint64_t, uint64_t>> allocs;
  allocs.reserve(allocations_.size());
  allocations_.ForEach([&](uint64_t offset, uint64_t size) { allocs.emplace_back(offset, size); });
  std::sort(allocs.begin(), allocs.end());
  uint64_t cursor = 0;
  uint64_t used = 0;
  bool previous_free = false;
  auto next_alloc = allocs.begin();
  auto next_free = free_by_offset_.begin();
  while (next_alloc != allocs.end() || next_free != free_by_offset_.end()) {
    const bool take_free = next_alloc == allocs.end() || (next_free != free_by_offset_.end() &&
                                                          next_free->first < next_alloc->first);
    const auto [offset, size] = take_free ? std::pair<uint64_t, uint64_t>(*next_free) : *next_alloc;
    if (offset != cursor) {
      return broken(fmt::format("{} block at {} but the previous block ends at {}",
                                take_free ? "free" : "allocated", offset, cursor));
    }
    if (size == 0 || size > capacity_ - offset) {
      return broken(fmt::format("block at {} has size {}", offset, size));
    }
    if (take_free) {
      if (previous_free) return broken(fmt::format("free block at {} not coalesced", offset));
      if (!free_by_size_.contains(std::make_pair(size, offset))) {
        return broken(fmt::format("free block at {} missing from the size index", offset));
      }
      ++next_free;
    } else {
      used += size;
      ++next_alloc;
    }
    previous_free = take_free;
    cursor = offset + size;
  }
  if (cursor != capacity_) {
    return broken(fmt::format("blocks end at {}, capacity is {}", cursor, capacity_));
  }
  if (used != used_) return broken(fmt::format("used is {}, allocations sum to {}", used_, used));
  return Status::Ok();
}

}  // namespace mooncake
