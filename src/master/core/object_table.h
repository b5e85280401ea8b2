#pragma once

// The master core's key -> ObjectRecord index: an open-addressing hash table of record
// pointers. It owns the records (ObjectRecord::Create/Destroy) and never moves them.
//
// Why not std::unordered_map<std::string, Record>: per object that costs a node (next pointer,
// cached hash, a 32 B std::string, its own heap chunk for keys past 15 bytes) plus a bucket
// pointer. Here an object costs its record block (key inline) plus one 8 B slot and one tag
// byte at a load factor between 3/8 and 3/4.
//
// Layout: `slots_[i]` is a record or null; `tags_[i]` is kEmpty, kDeleted (a tombstone) or
// the top 7 bits of the key's hash, so a probe touches a record only when its tag matches.
// Linear probing: every record sits between its home slot (hash & mask) and the first kEmpty
// slot after it. Erase leaves a tombstone, or kEmpty when the next slot is kEmpty (then the
// tombstones just before it become kEmpty too), so erasing never touches another record —
// dropping a segment erases its objects at memory speed.
//
// Full slots plus tombstones stay at most 3/4 of the slots. An Insert that would pass that
// rebuilds the arrays without tombstones: in place when at most half the slots hold records,
// else at twice the size — amortised O(1) either way, but one rebuild rehashes every key,
// O(n) (tens of ms at millions): Reserve up front to avoid the growth ones. The arrays never
// shrink.
//
// Scans in chunks (ForEachInSlots): erasing and inserting without growth never move a record,
// so a slot position stays meaningful between chunks until the next rebuild, which bumps
// layout_epoch() — a chunked scan that sees it change starts over.
//
// Not thread-safe. Pointers stay valid until their record is erased.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "master/core/object_record.h"
#include "mooncake/common/status.h"

namespace mooncake::master {

class ObjectTable {
 public:
  ObjectTable() = default;
  ~ObjectTable();
  ObjectTable(const ObjectTable&) = delete;
  ObjectTable& operator=(const ObjectTable&) = delete;

  size_t size() const { return size_; }
  // The record for `key`, or nullptr.
  ObjectRecord* Find(std::string_view key) const;
  // Creates and indexes a record for `key`, which must not be in the table.
  ObjectRecord* Insert(std::string_view key);
  // Unindexes and destroys `record`, which must be in the table.
  void Erase(ObjectRecord* record);
  // Makes room for `objects` records without further growth.
  void Reserve(size_t objects);

  // The per-block CRC32Cs of `record`'s visible version (store_types/block_checksums.h); null
  // for objects of at most one block and versions adopted without a table (SSD objects found
  // after a node restart). Kept beside the records, not in them: most objects have none, and
  // a record stays at 96 bytes. Set with every new visible version (null clears); Erase drops it.
  BlockChecksums BlockChecksumsOf(const ObjectRecord* record) const;
  void SetBlockChecksums(const ObjectRecord* record, BlockChecksums table);

  // Calls fn(ObjectRecord*) for every record, in no particular order. `fn` must not insert or
  // erase (collect first, then change).
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i = 0; i < capacity_; ++i) {
      if (IsFull(tags_[i])) fn(slots_[i]);
    }
  }

  // The number of slots (0 or a power of two): ForEachInSlots's positions run over
  // [0, slot_count()).
  size_t slot_count() const { return capacity_; }
  // Changes whenever records move between slots (a rebuild); nothing else changes it.
  uint64_t layout_epoch() const { return layout_epoch_; }
  // Calls fn(ObjectRecord*) for every record in slots [begin, end) (end clamped to
  // slot_count()). Same rule as ForEach: `fn` must not insert or erase.
  template <typename Fn>
  void ForEachInSlots(size_t begin, size_t end, Fn&& fn) const {
    if (end > capacity_) end = capacity_;
    for (size_t i = begin; i < end; ++i) {
      if (IsFull(tags_[i])) fn(slots_[i]);
    }
  }

  // kInternalError naming the first broken layout invariant (see the file comment). O(n).
  Status CheckConsistency() const;

 private:
  // Full slots hold a tag in 0..127.
  static constexpr uint8_t kEmpty = 0x80;
  static constexpr uint8_t kDeleted = 0xFE;

  static uint64_t Hash(std::string_view key);
  static uint8_t Tag(uint64_t hash) { return static_cast<uint8_t>(hash >> 57); }
  size_t mask() const { return capacity_ - 1; }
  static bool IsFull(uint8_t tag) { return tag < kEmpty; }
  // Rebuilds the arrays with `capacity` slots (a power of two, above size_ * 4 / 3) and no
  // tombstones.
  void Rehash(size_t capacity);
  // Places a record in the first empty or deleted slot of its probe sequence (no growth, no
  // check that the key is absent).
  void Place(ObjectRecord* record, uint64_t hash);

  size_t capacity_ = 0;  // 0 or a power of two
  size_t size_ = 0;
  size_t tombstones_ = 0;
  uint64_t layout_epoch_ = 0;  // bumped by Rehash
  std::unique_ptr<uint8_t[]> tags_;
  std::unique_ptr<ObjectRecord*[]> slots_;
  std::unordered_map<const ObjectRecord*, BlockChecksums> block_checksums_;
};

}  // namespace mooncake::master
