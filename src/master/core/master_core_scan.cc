// The admin scans over the whole object index — RemoveByRegex, RemoveAll, ListKeys — as
// chunks of bounded work (key_scan.h), plus the one-call forms built from them.

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/key_pattern.h"
#include "master/core/master_core.h"

namespace mooncake::master {
namespace {

// Chunk size for the one-call forms: any value gives the same result; this one keeps the
// per-chunk bookkeeping negligible.
constexpr size_t kWholeCallChunkSlots = size_t{1} << 16;

}  // namespace

// ---- KeyListing ------------------------------------------------------------------------

KeyListing::KeyListing(std::string prefix, std::string start_after, size_t limit)
    : prefix_(std::move(prefix)), start_after_(std::move(start_after)), limit_(limit) {}

Result<KeyListing> KeyListing::Create(std::string prefix, std::string start_after, size_t limit) {
  if (limit == 0) return Status(StatusCode::kInvalidParams, "ListKeys: limit must be > 0");
  return KeyListing(std::move(prefix), std::move(start_after), limit);
}

void KeyListing::Offer(std::string_view key) {
  if (!key.starts_with(prefix_) || key <= start_after_) return;
  if (keys_.find(key) != keys_.end()) return;  // seen before a restart
  if (keys_.size() < limit_) {
    keys_.emplace(key);
    return;
  }
  truncated_ = true;
  auto largest = std::prev(keys_.end());
  if (key < *largest) {
    keys_.erase(largest);
    keys_.emplace(key);
  }
}

KeyPage KeyListing::TakePage() {
  KeyPage page;
  page.truncated = truncated_;
  page.keys.reserve(keys_.size());
  while (!keys_.empty()) page.keys.push_back(std::move(keys_.extract(keys_.begin()).value()));
  truncated_ = false;
  return page;
}

// ---- Chunks ----------------------------------------------------------------------------

std::pair<size_t, size_t> MasterCore::NextScanRange(KeyScanCursor& cursor, size_t max_slots) const {
  const uint64_t epoch = index_.table().layout_epoch();
  if (!cursor.started || cursor.epoch != epoch) {
    // Records moved (or this is the first chunk): slot positions from before mean nothing.
    if (cursor.started) ++cursor.restarts;
    cursor.started = true;
    cursor.epoch = epoch;
    cursor.next_slot = 0;
  }
  // Doubling per restart, saturating: a scan restarted often enough covers the table in one
  // chunk, so it ends however busy the table is.
  size_t budget = std::max<size_t>(max_slots, 1);
  for (uint32_t i = 0; i < cursor.restarts && budget < std::numeric_limits<size_t>::max() / 2;
       ++i) {
    budget *= 2;
  }
  const size_t slots = index_.table().slot_count();
  const size_t begin = std::min(cursor.next_slot, slots);
  const size_t end = slots - begin <= budget ? slots : begin + budget;
  cursor.next_slot = end;
  cursor.finished = end == slots;
  return {begin, end};
}

size_t MasterCore::RemoveMatchingChunk(const KeyPattern* pattern, RemoveMode mode, size_t max_slots,
                                       KeyScanCursor& cursor) {
  if (cursor.done()) return 0;
  // Reclaiming erases records but never moves any, so the cursor stays valid.
  index_.ReclaimExpiredPuts(clock_.Now());
  const auto [begin, end] = NextScanRange(cursor, max_slots);
  std::vector<ObjectRecord*> victims;
  index_.table().ForEachInSlots(begin, end, [&](ObjectRecord* record) {
    if (Removable(*record, mode) && (pattern == nullptr || pattern->Matches(record->key()))) {
      victims.push_back(record);
    }
  });
  // Erasing leaves every other record in its slot: the next chunk resumes where this ended.
  for (ObjectRecord* record : victims) index_.EraseObject(record);
  return victims.size();
}

void MasterCore::ListKeysChunk(KeyListing& listing, size_t max_slots, KeyScanCursor& cursor) const {
  if (cursor.done()) return;
  const auto [begin, end] = NextScanRange(cursor, max_slots);
  index_.table().ForEachInSlots(begin, end, [&](const ObjectRecord* record) {
    if (record->visible) listing.Offer(record->key());
  });
}

// ---- One-call forms --------------------------------------------------------------------

Result<size_t> MasterCore::RemoveByRegex(std::string_view pattern, RemoveMode mode) {
  MC_ASSIGN_OR_RETURN(KeyPattern compiled, KeyPattern::Compile(pattern));
  size_t removed = 0;
  KeyScanCursor cursor;
  while (!cursor.done()) {
    removed += RemoveMatchingChunk(&compiled, mode, kWholeCallChunkSlots, cursor);
  }
  return removed;
}

size_t MasterCore::RemoveAll(RemoveMode mode) {
  size_t removed = 0;
  KeyScanCursor cursor;
  while (!cursor.done())
    removed += RemoveMatchingChunk(nullptr, mode, kWholeCallChunkSlots, cursor);
  return removed;
}

Result<KeyPage> MasterCore::ListKeys(std::string_view prefix, std::string_view start_after,
                                     size_t limit) const {
  MC_ASSIGN_OR_RETURN(KeyListing listing,
                      KeyListing::Create(std::string(prefix), std::string(start_after), limit));
  KeyScanCursor cursor;
  while (!cursor.done()) ListKeysChunk(listing, kWholeCallChunkSlots, cursor);
  return listing.TakePage();
}

}  // namespace mooncake::master
