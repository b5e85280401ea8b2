#pragma once

// Chunked admin scans of the master's object index (RemoveByRegex, RemoveAll, ListKeys).
//
// The index is a hash table, so these operations must look at every key. Done in one go under
// the service's lock they stall every other RPC for as long as the scan takes. Instead the
// core exposes chunk calls (MasterCore::RemoveMatchingChunk, ListKeysChunk) that each visit a
// bounded number of the table's slots and record where they stopped in a KeyScanCursor; the
// service takes its lock once per chunk and lets other RPCs run in between.
//
// Guarantees under changes made between chunks (puts, removes, unmounts):
// - a key present (and, for removal, removable) from the scan's start to its end is seen;
// - a key inserted or removed meanwhile may or may not be seen;
// - nothing is seen twice by a removal (it is gone), and a listing deduplicates.
// They hold because erasing and inserting without growth never move a record between slots;
// a rebuild of the table does (ObjectTable::layout_epoch changes), and the next chunk then
// starts over from slot 0. Each restart doubles the chunk size, so a scan that a busy table
// keeps restarting still ends: in the worst case it becomes one whole-table chunk.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "mooncake/common/status.h"
#include "store_types/key_page.h"

namespace mooncake::master {

// Where a chunked scan stands. Pass a default-constructed cursor to the first chunk call and
// the same object to every later one, until done(). Only MasterCore reads and writes the
// position fields; they mean nothing to callers.
struct KeyScanCursor {
  // Whether the scan has covered the whole table.
  bool done() const { return finished; }

  bool started = false;   // the first chunk ran
  bool finished = false;  // the last chunk ran
  size_t next_slot = 0;   // first slot of the next chunk
  uint64_t epoch = 0;     // ObjectTable::layout_epoch() when next_slot was taken
  uint32_t restarts = 0;  // times a table rebuild sent the scan back to slot 0
};

// A ListKeys in progress: the `limit` smallest visible keys seen so far that start with
// `prefix` and sort after `start_after`. Memory O(limit); keys are copies, so the listing
// outlives the lock it was filled under.
class KeyListing {
 public:
  // kInvalidParams when limit is 0.
  static Result<KeyListing> Create(std::string prefix, std::string start_after, size_t limit);

  // Considers one visible key (a key offered twice is kept once).
  void Offer(std::string_view key);
  // The keys kept, ascending, and whether more matched. Leaves the listing empty.
  KeyPage TakePage();

 private:
  KeyListing(std::string prefix, std::string start_after, size_t limit);

  std::string prefix_;
  std::string start_after_;
  size_t limit_;
  std::set<std::string, std::less<>> keys_;
  bool truncated_ = false;
};

}  // namespace mooncake::master
