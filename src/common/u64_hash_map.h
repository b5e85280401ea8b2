#pragma once

// A compact uint64 -> uint64 hash map for the offset allocator's allocation table (one entry
// per live allocation, millions per master): 16 B slots in one array, open addressing with
// linear probing and Fibonacci hashing (so keys that are all multiples of the alignment still
// spread), erase by backward shift (no tombstones: the key is in the slot, so finding a
// displaced entry's home costs a multiply, not a memory access). Load stays at most 7/8; the
// array doubles when an insert would pass it and never shrinks.
//
// std::unordered_map costs a 32 B heap chunk per entry plus an 8 B bucket, ~40 B; this costs
// 16 B / load, 18-37 B. The key kEmptyKey (2^64 - 1) cannot be stored: an allocation offset is
// always below the segment's capacity, itself at most 2^64 - 1.
//
// Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace mooncake {

class U64HashMap {
 public:
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};

  U64HashMap() = default;
  // A moved-from map is empty.
  U64HashMap(U64HashMap&& other) noexcept { *this = std::move(other); }
  U64HashMap& operator=(U64HashMap&& other) noexcept {
    slots_ = std::move(other.slots_);
    mask_ = std::exchange(other.mask_, 0);
    shift_ = std::exchange(other.shift_, 64);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  size_t size() const { return size_; }

  // nullopt when absent (always for kEmptyKey).
  std::optional<uint64_t> Find(uint64_t key) const {
    if (size_ == 0 || key == kEmptyKey) return std::nullopt;
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return slots_[i].value;
      if (slots_[i].key == kEmptyKey) return std::nullopt;
    }
  }

  // Inserts or overwrites. `key` must not be kEmptyKey.
  void Insert(uint64_t key, uint64_t value) {
    if ((size_ + 1) * 8 > capacity() * 7) Grow();
    size_t i = Home(key);
    while (slots_[i].key != kEmptyKey && slots_[i].key != key) i = (i + 1) & mask_;
    if (slots_[i].key == kEmptyKey) ++size_;
    slots_[i] = Slot{key, value};
  }

  // Removes `key`; false when it was absent (always for kEmptyKey).
  bool Erase(uint64_t key) {
    if (size_ == 0 || key == kEmptyKey) return false;
    size_t hole = Home(key);
    while (slots_[hole].key != key) {
      if (slots_[hole].key == kEmptyKey) return false;
      hole = (hole + 1) & mask_;
    }
    // Move back every later entry of the cluster whose home is not in (hole, j].
    for (size_t j = (hole + 1) & mask_; slots_[j].key != kEmptyKey; j = (j + 1) & mask_) {
      if (((j - Home(slots_[j].key)) & mask_) >= ((j - hole) & mask_)) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole].key = kEmptyKey;
    --size_;
    return true;
  }

  // Calls fn(key, value) for every entry, in no particular order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i = 0; i < capacity(); ++i) {
      if (slots_[i].key != kEmptyKey) fn(slots_[i].key, slots_[i].value);
    }
  }

 private:
  struct Slot {
    uint64_t key = kEmptyKey;
    uint64_t value = 0;
  };
  static constexpr size_t kMinCapacity = 16;

  size_t capacity() const { return slots_ ? mask_ + 1 : 0; }
  // Fibonacci hashing: the top bits of key x 2^64/phi.
  size_t Home(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  void Grow() {
    const size_t old_capacity = capacity();
    const size_t new_capacity = old_capacity == 0 ? kMinCapacity : old_capacity * 2;
    std::unique_ptr<Slot[]> old = std::move(slots_);
    slots_ = std::make_unique<Slot[]>(new_capacity);
    mask_ = new_capacity - 1;
    shift_ = 64;
    for (size_t c = new_capacity; c > 1; c >>= 1) --shift_;
    for (size_t i = 0; i < old_capacity; ++i) {
      if (old[i].key == kEmptyKey) continue;
      size_t j = Home(old[i].key);
      while (slots_[j].key != kEmptyKey) j = (j + 1) & mask_;
      slots_[j] = old[i];
    }
  }

  std::unique_ptr<Slot[]> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

}  // namespace mooncake
