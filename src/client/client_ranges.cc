// ClientImpl's ranged reads (GetIntoRanges): each range read zero-copy into registered memory
// and checked against the per-block CRC32Cs of the blocks it touches (docs/integrity.md), the
// edges of those blocks read into staging beside it.

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "client/client_impl.h"
#include "common/logging.h"

namespace mooncake::store {

std::vector<Status> ClientImpl::GetIntoRanges(const std::vector<GetRange>& ranges) {
  return RunReadPipeline<Status>(
      [&](const std::vector<size_t>* subset, bool use_cache, ReadPass& pass) {
        if (subset == nullptr) return GetIntoRangesOnce(ranges, use_cache, pass);
        return GetIntoRangesOnce(Gather(ranges, *subset), use_cache, pass);
      },
      [&](std::vector<Status>& results, const std::vector<FailedRead>& failed) {
        ReadRangesThrough(ranges, failed, results);
      });
}

std::vector<Status> ClientImpl::GetIntoRangesOnce(const std::vector<GetRange>& ranges,
                                                  bool use_cache, ReadPass& pass) {
  std::vector<std::string> keys;
  std::map<std::string, size_t> key_index;
  for (const GetRange& range : ranges) {
    if (key_index.emplace(range.key, keys.size()).second) keys.push_back(range.key);
  }
  std::vector<bool> cached;
  std::vector<Result<master::ReplicaListReply>> objects = Lookup(keys, use_cache, cached);
  std::vector<Status> results(ranges.size());
  std::vector<ReadItem> items;
  std::vector<size_t> item_range;
  for (size_t r = 0; r < ranges.size(); ++r) {
    const GetRange& range = ranges[r];
    const Result<master::ReplicaListReply>& object = objects[key_index[range.key]];
    if (!object.ok()) {
      results[r] = object.status();
      continue;
    }
    if (range.expected_object_size != 0 && object->size != range.expected_object_size) {
      results[r] = Status(object->size > range.expected_object_size ? StatusCode::kBufferOverflow
                                                                    : StatusCode::kInvalidParams,
                          "object '" + range.key + "' is " + std::to_string(object->size) +
                              " bytes, the buffers " + std::to_string(range.expected_object_size));
      continue;
    }
    if (range.source_offset > object->size || range.length > object->size - range.source_offset) {
      results[r] = Status(StatusCode::kInvalidParams,
                          "range [" + std::to_string(range.source_offset) + ", +" +
                              std::to_string(range.length) + ") is outside object '" + range.key +
                              "' of " + std::to_string(object->size) + " bytes");
      continue;
    }
    items.push_back(RangeItem(range, *object));
    item_range.push_back(r);
  }
  // The scratch for the blocks' bytes outside the ranges comes from staging, in groups that
  // fit it (each item's scratch fits: RangeItem made sure).
  std::vector<Status> read(items.size());
  for (size_t first = 0; first < items.size();) {
    size_t end = first;
    uint64_t scratch = 0;
    while (end < items.size() &&
           scratch + items[end].head_length + items[end].tail_length <= staging_->size()) {
      scratch += items[end].head_length + items[end].tail_length;
      ++end;
    }
    std::vector<ReadItem> group(items.begin() + first, items.begin() + end);
    StagingBuffer::Piece piece;
    Status acquired = Status::Ok();
    if (scratch > 0) {
      auto got = staging_->Acquire(scratch, options_.transfer_timeout);
      if (got.ok()) {
        piece = std::move(*got);
      } else {
        acquired = got.status().WithContext("staging for the checked ranges' block edges");
      }
    }
    uint8_t* next = piece.data();
    for (ReadItem& item : group) {
      item.head = item.head_length > 0 ? std::exchange(next, next + item.head_length) : nullptr;
      item.tail = item.tail_length > 0 ? std::exchange(next, next + item.tail_length) : nullptr;
    }
    const std::vector<Status> group_read =
        acquired.ok() ? ReadRegistered(group) : std::vector<Status>(group.size(), acquired);
    std::copy(group_read.begin(), group_read.end(), read.begin() + first);
    first = end;
  }
  for (size_t n = 0; n < items.size(); ++n) {
    const size_t r = item_range[n];
    results[r] = read[n];
    const size_t k = key_index[ranges[r].key];
    if (!read[n].ok()) NoteReadFailure(pass, r, keys[k], *objects[k], cached[k]);
  }
  return results;
}

ClientImpl::ReadItem ClientImpl::RangeItem(const GetRange& range,
                                           const master::ReplicaListReply& object) {
  ReadItem item{&range.key,
                &object,
                range.source_offset,
                range.length,
                static_cast<uint8_t*>(range.destination),
                options_.verify_checksum};
  const bool on_ssd =
      std::any_of(object.replicas.begin(), object.replicas.end(),
                  [](const ReplicaLocation& r) { return r.medium == Medium::kSsd; });
  if (range.length == 0 || !(options_.verify_checksum || on_ssd)) return item;
  // The blocks the range touches; without a table (an object a node found on its SSD after it
  // restarted) the whole object is the one block.
  const ChecksumSpan span = CoveringSpan(object.size, object.checksum, object.block_checksums,
                                         range.source_offset, range.length)
                                .value_or(ChecksumSpan{0, object.size, object.checksum});
  const uint64_t head = range.source_offset - span.begin;
  const uint64_t tail = span.end - range.source_offset - range.length;
  if (head + tail > staging_->size()) {
    // Only without a table, for an object larger than staging: read unchecked, and say so.
    unverified_ranges_.fetch_add(1, std::memory_order_relaxed);
    MC_LOG_WARN(
        "range [{}, +{}) of '{}' is read unchecked: the master has no block checksums for it "
        "(found on SSD after a node restart) and checking would read {} bytes more than staging "
        "holds",
        range.source_offset, range.length, range.key, head + tail);
    return item;
  }
  item.checkable = true;
  item.expected_crc = span.crc;
  item.head_length = head;
  item.tail_length = tail;
  return item;
}

}  // namespace mooncake::store
