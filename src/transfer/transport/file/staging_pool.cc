#include "transfer/transport/file/staging_pool.h"

#include <algorithm>
#include <bit>
#include <cstdlib>

#include "transfer/transport/file/file_segment.h"

namespace mooncake::transfer::file {

std::shared_ptr<StagingPool> StagingPool::Create(uint64_t max_cached_bytes) {
  return std::shared_ptr<StagingPool>(new StagingPool(max_cached_bytes));
}

StagingPool::~StagingPool() {
  for (auto& [capacity, buffers] : idle_) {
    for (char* b : buffers) std::free(b);
  }
}

std::shared_ptr<char> StagingPool::Acquire(uint64_t length) {
  // Power-of-two classes from 4 KiB: few classes, so buffers are found again.
  const uint64_t capacity = std::bit_ceil(std::max<uint64_t>(length, kDirectAlignment));
  char* buffer = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = idle_.find(capacity);
    if (it != idle_.end() && !it->second.empty()) {
      buffer = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= capacity;
    }
  }
  if (buffer == nullptr) {
    buffer = static_cast<char*>(std::aligned_alloc(kDirectAlignment, capacity));
    if (buffer == nullptr) return nullptr;
  }
  // The deleter holds the pool: a buffer released after the pool's owner is gone still
  // finds it.
  std::shared_ptr<StagingPool> self = shared_from_this();
  return std::shared_ptr<char>(buffer, [self, capacity](char* b) { self->Release(b, capacity); });
}

void StagingPool::Release(char* buffer, uint64_t capacity) {
  {
    std::lock_guard lock(mutex_);
    if (cached_bytes_ + capacity <= max_cached_bytes_) {
      idle_[capacity].push_back(buffer);
      cached_bytes_ += capacity;
      return;
    }
  }
  std::free(buffer);
}

uint64_t StagingPool::cached_bytes() const {
  std::lock_guard lock(mutex_);
  return cached_bytes_;
}

}  // namespace mooncake::transfer::file
