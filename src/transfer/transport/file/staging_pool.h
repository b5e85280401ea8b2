#pragma once

// Aligned staging buffers for file-segment requests served over TCP, recycled: a fresh 1 MiB
// allocation is a new mmap whose 256 pages fault in on first touch, which costs a remote file
// transfer a quarter of its throughput here. Buffers come back to the pool when their last
// reference drops (the reply frame has been written) and are kept up to a byte bound.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace mooncake::transfer::file {

class StagingPool : public std::enable_shared_from_this<StagingPool> {
 public:
  // Keeps at most `max_cached_bytes` of idle buffers (default 256 MiB).
  static std::shared_ptr<StagingPool> Create(uint64_t max_cached_bytes = uint64_t{256} << 20);
  ~StagingPool();

  // A buffer of at least `length` bytes aligned to kDirectAlignment; null when memory is out.
  // Thread-safe; the buffer may be released on any thread.
  std::shared_ptr<char> Acquire(uint64_t length);
  uint64_t cached_bytes() const;

 private:
  explicit StagingPool(uint64_t max_cached_bytes) : max_cached_bytes_(max_cached_bytes) {}
  void Release(char* buffer, uint64_t capacity);

  const uint64_t max_cached_bytes_;
  mutable std::mutex mutex_;
  std::map<uint64_t, std::vector<char*>> idle_;  // by capacity
  uint64_t cached_bytes_ = 0;
};

}  // namespace mooncake::transfer::file
