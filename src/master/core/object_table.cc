#include "master/core/object_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <functional>

namespace mooncake::master {

namespace {
constexpr size_t kMinCapacity = 16;

// The smallest power-of-two capacity that holds `objects` at a load of at most 3/4.
size_t CapacityFor(size_t objects) {
  return std::max(kMinCapacity, std::bit_ceil(objects + objects / 3 + 1));
}
}  // namespace

ObjectTable::~ObjectTable() {
  ForEach([](ObjectRecord* record) { ObjectRecord::Destroy(record); });
}

uint64_t ObjectTable::Hash(std::string_view key) { return std::hash<std::string_view>{}(key); }

ObjectRecord* ObjectTable::Find(std::string_view key) const {
  if (size_ == 0) return nullptr;
  const uint64_t hash = Hash(key);
  const uint8_t tag = Tag(hash);
  // Terminates: at most 3/4 of the slots are full or deleted, so some slot is kEmpty.
  for (size_t i = hash & mask();; i = (i + 1) & mask()) {
    if (tags_[i] == kEmpty) return nullptr;
    if (tags_[i] == tag && slots_[i]->key() == key) return slots_[i];
  }
}

void ObjectTable::Place(ObjectRecord* record, uint64_t hash) {
  size_t i = hash & mask();
  while (IsFull(tags_[i])) i = (i + 1) & mask();
  if (tags_[i] == kDeleted) --tombstones_;
  tags_[i] = Tag(hash);
  slots_[i] = record;
}

ObjectRecord* ObjectTable::Insert(std::string_view key) {
  if ((size_ + tombstones_ + 1) * 4 > capacity_ * 3) {
    // Mostly tombstones: clean up in place; mostly records: double.
    Rehash((size_ + 1) * 2 <= capacity_ ? capacity_ : CapacityFor(size_ + 1));
  }
  ObjectRecord* record = ObjectRecord::Create(key);
  Place(record, Hash(key));
  ++size_;
  return record;
}

BlockChecksums ObjectTable::BlockChecksumsOf(const ObjectRecord* record) const {
  if (block_checksums_.empty()) return nullptr;
  auto it = block_checksums_.find(record);
  return it == block_checksums_.end() ? nullptr : it->second;
}

void ObjectTable::SetBlockChecksums(const ObjectRecord* record, BlockChecksums table) {
  if (table == nullptr) {
    block_checksums_.erase(record);
  } else {
    block_checksums_[record] = std::move(table);
  }
}

void ObjectTable::Erase(ObjectRecord* record) {
  if (size_ == 0 || record == nullptr) return;
  block_checksums_.erase(record);
  size_t i = Hash(record->key()) & mask();
  while (slots_[i] != record) {
    if (tags_[i] == kEmpty) return;  // not in the table: nothing to do
    i = (i + 1) & mask();
  }
  slots_[i] = nullptr;
  --size_;
  if (tags_[(i + 1) & mask()] != kEmpty) {
    // A later record's probe sequence may pass through here.
    tags_[i] = kDeleted;
    ++tombstones_;
  } else {
    // The end of a cluster: no probe needs this slot, nor the tombstones right before it.
    tags_[i] = kEmpty;
    for (size_t j = (i - 1) & mask(); tags_[j] == kDeleted; j = (j - 1) & mask()) {
      tags_[j] = kEmpty;
      --tombstones_;
    }
  }
  ObjectRecord::Destroy(record);
}

void ObjectTable::Reserve(size_t objects) {
  const size_t wanted = CapacityFor(objects);
  if (wanted > capacity_) Rehash(wanted);
}

void ObjectTable::Rehash(size_t capacity) {
  std::unique_ptr<uint8_t[]> old_tags = std::move(tags_);
  std::unique_ptr<ObjectRecord*[]> old_slots = std::move(slots_);
  const size_t old_capacity = capacity_;
  tags_ = std::make_unique<uint8_t[]>(capacity);
  slots_ = std::make_unique<ObjectRecord*[]>(capacity);  // value-initialised: null
  std::fill_n(tags_.get(), capacity, kEmpty);
  capacity_ = capacity;
  tombstones_ = 0;
  ++layout_epoch_;
  for (size_t i = 0; i < old_capacity; ++i) {
    if (IsFull(old_tags[i])) Place(old_slots[i], Hash(old_slots[i]->key()));
  }
}

Status ObjectTable::CheckConsistency() const {
  auto broken = [](std::string what) {
    return InternalError("object table inconsistent: " + std::move(what));
  };
  if (capacity_ != 0 && !std::has_single_bit(capacity_)) {
    return broken(fmt::format("capacity {} is not a power of two", capacity_));
  }
  if ((size_ + tombstones_) * 4 > capacity_ * 3) {
    return broken(
        fmt::format("{} records and {} tombstones in {} slots", size_, tombstones_, capacity_));
  }
  size_t full = 0;
  size_t deleted = 0;
  for (size_t i = 0; i < capacity_; ++i) {
    if (!IsFull(tags_[i])) {
      if (tags_[i] != kEmpty && tags_[i] != kDeleted) {
        return broken(fmt::format("slot {} has tag {:#x}", i, tags_[i]));
      }
      if (tags_[i] == kDeleted) {
        ++deleted;
        if (tags_[(i + 1) & mask()] == kEmpty) {
          return broken(fmt::format("tombstone in slot {} ends a cluster", i));
        }
      }
      if (slots_[i] != nullptr) return broken(fmt::format("free slot {} holds a record", i));
      continue;
    }
    ++full;
    const ObjectRecord* record = slots_[i];
    if (record == nullptr) return broken(fmt::format("slot {} is tagged but null", i));
    const uint64_t hash = Hash(record->key());
    if (tags_[i] != Tag(hash)) {
      return broken(fmt::format("slot {} ('{}') has the wrong tag", i, record->key()));
    }
    for (size_t j = hash & mask(); j != i; j = (j + 1) & mask()) {
      if (tags_[j] == kEmpty) {
        return broken(
            fmt::format("'{}' in slot {} is unreachable: slot {} is empty", record->key(), i, j));
      }
      if (tags_[j] == tags_[i] && slots_[j]->key() == record->key()) {
        return broken(fmt::format("key '{}' is in slots {} and {}", record->key(), j, i));
      }
    }
  }
  if (full != size_) return broken(fmt::format("{} full slots, size {}", full, size_));
  if (deleted != tombstones_) {
    return broken(fmt::format("{} tombstones, counted {}", deleted, tombstones_));
  }
  return Status::Ok();
}

}  // namespace mooncake::master
