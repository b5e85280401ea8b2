#pragma once

// The read pipeline every ClientImpl read entry point runs (BatchGet, BatchGetInto,
// GetIntoRanges; Get and GetInto through them):
//   1. one pass over the whole request, locations from the cache where it has them;
//   2. a pass through the master over the indices whose read failed on a cached location
//      (the node died or restarted since; the master knows where the object is now);
//   3. the lower tiers: the object store serves pool misses (read-through) and reads whose
//      every replica failed on a fresh location (fall-through).
// The entry points differ only in the pass (what they read and into where) and in how the
// object store serves them; the order and the bookkeeping between the steps live here once.

#include <cstdint>
#include <utility>
#include <vector>

#include "mooncake/common/status.h"
#include "store_types/block_checksums.h"

namespace mooncake::store {

// A read whose every replica failed although the master had just listed the object (a fresh
// lookup, not a cached one): the object tier may serve the version listed instead.
struct FailedRead {
  size_t index = 0;   // of the key (or of the range) in the caller's request
  uint64_t size = 0;  // the listed object's size and CRC32C
  uint32_t checksum = 0;
  BlockChecksums block_checksums;  // and its per-block CRC32Cs, if any
};

// What one pass learnt besides its results.
struct ReadPass {
  // Indices whose read failed on a cached location (dropped from the cache), for the pipeline
  // to retry through the master.
  std::vector<size_t> stale;
  // Reads whose every replica failed on a fresh lookup.
  std::vector<FailedRead> failed;

  // Takes the result of the retry through the master of a read that failed on a cached
  // location. When the first try found the replica corrupt and reported it, the master may
  // have erased the object (it was the last replica): the retry's OBJECT_NOT_FOUND would hide
  // the cause, so the mismatch stays.
  template <typename T>
  static void TakeRetry(T& first, T& again) {
    if (StatusOf(again).code() == StatusCode::kObjectNotFound &&
        StatusOf(first).code() == StatusCode::kChecksumMismatch) {
      return;
    }
    first = std::move(again);
  }
  static const Status& StatusOf(const Status& s) { return s; }
  template <typename T>
  static Status StatusOf(const Result<T>& r) {
    return r.status();
  }
  // Adds the failures of `retry`, a pass over this pass's stale indices.
  void AddRetry(const ReadPass& retry) {
    for (FailedRead read : retry.failed) {
      read.index = stale[read.index];
      failed.push_back(read);
    }
  }
};

// Runs the pipeline; one result (T: Result<...> or Status) per index of the request.
//   read(subset, use_cache, pass): one pass over the request's indices `subset` (null: all of
//     them, in order), the results in the subset's order; records in `pass` the indices (of the
//     subset) that failed, stale when the location came from the cache.
//   lower_tiers(results, failed): lets the object store serve what the pool did not.
template <typename T, typename Read, typename LowerTiers>
std::vector<T> RunReadPipeline(Read&& read, LowerTiers&& lower_tiers) {
  ReadPass pass;
  std::vector<T> results = read(nullptr, /*use_cache=*/true, pass);
  if (!pass.stale.empty()) {
    ReadPass retry;
    std::vector<T> again = read(&pass.stale, /*use_cache=*/false, retry);
    for (size_t j = 0; j < pass.stale.size(); ++j) {
      ReadPass::TakeRetry(results[pass.stale[j]], again[j]);
    }
    pass.AddRetry(retry);
  }
  lower_tiers(results, pass.failed);
  return results;
}

// The elements of `items` at `subset`, in the subset's order (a retry pass's request).
template <typename T>
std::vector<T> Gather(const std::vector<T>& items, const std::vector<size_t>& subset) {
  std::vector<T> out;
  out.reserve(subset.size());
  for (size_t i : subset) out.push_back(items[i]);
  return out;
}

}  // namespace mooncake::store
