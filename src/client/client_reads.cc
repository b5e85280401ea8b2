// ClientImpl's reads: replica lookup (location cache, then the master), reading replicas in
// order with retries and checksum checks, and the whole-object gets built on it: into
// registered memory (zero-copy) and of plain bytes through the staging buffer (ranges:
// client_ranges.cc). A read that failed on a cached location is retried once through the master.

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include "client/client_impl.h"
#include "client/replica_ranges.h"
#include "common/logging.h"
#include "mooncake/common/crc32c.h"

namespace mooncake::store {

std::vector<Status> ClientImpl::ReadRegistered(const std::vector<ReadItem>& items) {
  std::vector<Status> results(items.size(), Status(StatusCode::kObjectNotFound, "no replica"));
  std::vector<size_t> pending;  // items still to read
  for (size_t i = 0; i < items.size(); ++i) pending.push_back(i);
  const uint64_t rotation = read_rotation_.fetch_add(1, std::memory_order_relaxed);
  std::vector<std::vector<size_t>> order(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    order[i] = ReplicaReadOrder(items[i].object->replicas, rotation);
  }
  std::vector<master::CorruptReplicaReport> corrupt;
  for (size_t attempt = 0; !pending.empty(); ++attempt) {
    std::vector<transfer::TransferRequest> requests;
    std::vector<size_t> owner;
    std::vector<size_t> tried;
    // Reads are checked unless the caller opted out (ClientOptions::verify_checksum); bytes
    // from SSD always are (a flipped bit on disk must never reach the caller).
    std::vector<bool> check(items.size(), false);
    for (size_t i : pending) {
      if (attempt >= order[i].size()) continue;  // out of replicas: keep the last error
      const ReadItem& item = items[i];
      const ReplicaLocation& replica = item.object->replicas[order[i][attempt]];
      check[i] = item.checkable && (item.verify || replica.medium == Medium::kSsd);
      const size_t before = requests.size();
      // In object order, so that the requests' CRCs combine into the span's: the head of the
      // first block, the part itself, the tail of the last block.
      Status built = Status::Ok();
      if (check[i] && item.head_length > 0) {
        built = AppendRequests(replica, item.offset - item.head_length, item.head_length, item.head,
                               transfer::TransferOpcode::kRead, requests);
      }
      if (built.ok()) {
        built = AppendRequests(replica, item.offset, item.length, item.destination,
                               transfer::TransferOpcode::kRead, requests);
      }
      if (built.ok() && check[i] && item.tail_length > 0) {
        built = AppendRequests(replica, item.offset + item.length, item.tail_length, item.tail,
                               transfer::TransferOpcode::kRead, requests);
      }
      owner.resize(requests.size(), i);
      if (!built.ok()) {
        results[i] = built;
        requests.resize(before);
        owner.resize(before);
        tried.push_back(i);  // counts as a failed attempt on this replica
        continue;
      }
      results[i] = Status::Ok();
      tried.push_back(i);
    }
    if (tried.empty()) break;
    // The transports checksum what they deliver as it arrives (fused with their copy or
    // receive); an item's CRC32C is its requests' combined in object order.
    std::vector<uint32_t> request_crc(requests.size(), 0);
    for (size_t r = 0; r < requests.size(); ++r) {
      if (check[owner[r]]) requests[r].crc32c = &request_crc[r];
    }
    const std::vector<Status> transferred = runner_->Run(requests);
    std::vector<uint32_t> item_crc(items.size(), 0);
    for (size_t r = 0; r < transferred.size(); ++r) {
      if (!transferred[r].ok() && results[owner[r]].ok()) results[owner[r]] = transferred[r];
      if (!check[owner[r]]) continue;
      // Combine(0, b, n) == b: an item's first request (most items have one) needs no shift.
      uint32_t& crc = item_crc[owner[r]];
      crc = crc == 0 ? request_crc[r] : Crc32cCombine(crc, request_crc[r], requests[r].length);
    }
    pending.clear();
    for (size_t i : tried) {
      if (results[i].ok() && check[i] && item_crc[i] != items[i].expected_crc) {
        const ReadItem& item = items[i];
        const ReplicaLocation& replica = item.object->replicas[order[i][attempt]];
        const Mismatch mismatch{item_crc[i], item.expected_crc, item.offset - item.head_length,
                                item.offset + item.length + item.tail_length};
        results[i] = CorruptReplica(*item.key, *item.object, replica, mismatch, corrupt);
      }
      if (!results[i].ok()) pending.push_back(i);
    }
  }
  ReportCorruptReplicas(corrupt);
  return results;
}

ReadIntegrityStats ClientImpl::read_integrity_stats() const {
  return {corrupt_replicas_detected_.load(std::memory_order_relaxed),
          failed_corruption_reports_.load(std::memory_order_relaxed),
          unverified_ranges_.load(std::memory_order_relaxed)};
}

Status ClientImpl::CorruptReplica(const std::string& key, const master::ReplicaListReply& object,
                                  const ReplicaLocation& replica, const Mismatch& mismatch,
                                  std::vector<master::CorruptReplicaReport>& reports) {
  const std::string segment = replica.slices.empty() ? "" : replica.slices[0].segment;
  if (!replica.slices.empty()) {
    reports.push_back({key, object.version, segment, replica.slices[0].address});
  }
  const bool whole = mismatch.span_begin == 0 && mismatch.span_end == object.size;
  return Status(
      StatusCode::kChecksumMismatch,
      fmt::format("the {} replica of '{}' (version {}) on node {}, segment {} holds "
                  "{} with CRC32C {:#010x}, the put stored {:#010x}",
                  MediumName(replica.medium), key, object.version, replica.node_id, segment,
                  whole ? std::string("bytes")
                        : fmt::format("bytes [{}, {})", mismatch.span_begin, mismatch.span_end),
                  mismatch.crc, mismatch.expected));
}

void ClientImpl::ReportCorruptReplicas(const std::vector<master::CorruptReplicaReport>& reports) {
  if (reports.empty()) return;
  corrupt_replicas_detected_.fetch_add(reports.size(), std::memory_order_relaxed);
  for (const master::CorruptReplicaReport& r : reports) {
    cache_.Erase(r.key);  // the next read asks the master, which no longer lists the replica
    MC_LOG_WARN(
        "checksum mismatch reading '{}' (version {}) from segment {} at {:#x}: "
        "reported to the master",
        r.key, r.version, r.segment, r.address);
  }
  // The master drops the replica and re-replicates from a good one; the read itself has
  // already moved on to the next replica, so a failed report only costs the repair.
  auto reported = master_->ReportCorruptReplicas(reports);
  if (!reported.ok()) {
    failed_corruption_reports_.fetch_add(reports.size(), std::memory_order_relaxed);
    MC_LOG_WARN("could not report {} corrupt replica(s) to the master: {}", reports.size(),
                reported.status().ToString());
  }
}

std::vector<Result<master::ReplicaListReply>> ClientImpl::Lookup(
    const std::vector<std::string>& keys, bool use_cache, std::vector<bool>& cached) {
  std::vector<Result<master::ReplicaListReply>> results(keys.size(), Status::Ok());
  cached.assign(keys.size(), false);
  std::vector<std::string> ask;
  std::vector<size_t> ask_index;
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (use_cache) {
      if (std::optional<master::ReplicaListReply> hit = cache_.Find(keys[i], now)) {
        results[i] = std::move(*hit);
        cached[i] = true;
        continue;
      }
    }
    ask.push_back(keys[i]);
    ask_index.push_back(i);
  }
  if (ask.empty()) return results;
  const auto sent = std::chrono::steady_clock::now();
  auto replies = master_->BatchGetReplicaList(ask);
  for (size_t j = 0; j < ask.size(); ++j) {
    const size_t i = ask_index[j];
    if (!replies.ok()) {
      results[i] = replies.status();
      continue;
    }
    results[i] = std::move((*replies)[j]);
    if (results[i].ok()) cache_.Insert(keys[i], *results[i], sent);
  }
  return results;
}

void ClientImpl::NoteReadFailure(ReadPass& pass, size_t index, const std::string& key,
                                 const master::ReplicaListReply& object, bool cached) {
  // Dropped either way: the next read asks the master rather than retrying a location that
  // just failed.
  cache_.Erase(key);
  if (cached) {
    pass.stale.push_back(index);
  } else {
    pass.failed.push_back({index, object.size, object.checksum, object.block_checksums});
  }
}

// ---- Zero-copy -------------------------------------------------------------------------------

Result<uint64_t> ClientImpl::GetInto(const std::string& key, void* address, size_t capacity) {
  return std::move(BatchGetInto({key}, {address}, {capacity})[0]);
}

std::vector<Result<uint64_t>> ClientImpl::BatchGetInto(const std::vector<std::string>& keys,
                                                       const std::vector<void*>& addresses,
                                                       const std::vector<size_t>& capacities) {
  if (addresses.size() != keys.size() || capacities.size() != keys.size()) {
    return std::vector<Result<uint64_t>>(
        keys.size(),
        Status(StatusCode::kInvalidParams, "keys, addresses and capacities differ in size"));
  }
  return RunReadPipeline<Result<uint64_t>>(
      [&](const std::vector<size_t>* subset, bool use_cache, ReadPass& pass) {
        if (subset == nullptr) {
          return BatchGetIntoOnce(keys, addresses, capacities, use_cache, pass);
        }
        return BatchGetIntoOnce(Gather(keys, *subset), Gather(addresses, *subset),
                                Gather(capacities, *subset), use_cache, pass);
      },
      [&](std::vector<Result<uint64_t>>& results, const std::vector<FailedRead>& failed) {
        BufferSlots slots(addresses, capacities, results);
        ReadThrough(keys, slots);          // pool misses
        FallThrough(keys, failed, slots);  // objects whose every replica failed
      });
}

std::vector<Result<uint64_t>> ClientImpl::BatchGetIntoOnce(const std::vector<std::string>& keys,
                                                           const std::vector<void*>& addresses,
                                                           const std::vector<size_t>& capacities,
                                                           bool use_cache, ReadPass& pass) {
  std::vector<Result<uint64_t>> results;
  std::vector<bool> cached;
  std::vector<Result<master::ReplicaListReply>> objects = Lookup(keys, use_cache, cached);
  std::vector<ReadItem> items;
  std::vector<size_t> item_key;
  results.assign(keys.size(), Status::Ok());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!objects[i].ok()) {
      results[i] = objects[i].status();
      continue;
    }
    if (objects[i]->size > capacities[i]) {
      results[i] = Status(StatusCode::kBufferOverflow,
                          "object '" + keys[i] + "' has " + std::to_string(objects[i]->size) +
                              " bytes, buffer holds " + std::to_string(capacities[i]));
      continue;
    }
    items.push_back(ReadItem::WholeObject(
        &keys[i], &*objects[i], static_cast<uint8_t*>(addresses[i]), options_.verify_checksum));
    item_key.push_back(i);
  }
  const std::vector<Status> read = ReadRegistered(items);
  for (size_t n = 0; n < items.size(); ++n) {
    const size_t i = item_key[n];
    if (!read[n].ok()) NoteReadFailure(pass, i, keys[i], *objects[i], cached[i]);
    results[i] = read[n].ok() ? Result<uint64_t>(objects[i]->size)
                              : Result<uint64_t>(read[n].WithContext("reading '" + keys[i] + "'"));
  }
  return results;
}

// ---- Plain bytes -----------------------------------------------------------------------------

Result<std::vector<uint8_t>> ClientImpl::Get(const std::string& key) {
  return std::move(BatchGet({key})[0]);
}

std::vector<Result<std::vector<uint8_t>>> ClientImpl::BatchGet(
    const std::vector<std::string>& keys) {
  return RunReadPipeline<Result<std::vector<uint8_t>>>(
      [&](const std::vector<size_t>* subset, bool use_cache, ReadPass& pass) {
        if (subset == nullptr) return BatchGetOnce(keys, use_cache, pass);
        return BatchGetOnce(Gather(keys, *subset), use_cache, pass);
      },
      [&](std::vector<Result<std::vector<uint8_t>>>& results,
          const std::vector<FailedRead>& failed) {
        ValueSlots slots(results);
        ReadThrough(keys, slots);          // pool misses
        FallThrough(keys, failed, slots);  // objects whose every replica failed
      });
}

std::vector<Result<std::vector<uint8_t>>> ClientImpl::BatchGetOnce(
    const std::vector<std::string>& keys, bool use_cache, ReadPass& pass) {
  std::vector<bool> cached;
  std::vector<Result<master::ReplicaListReply>> objects = Lookup(keys, use_cache, cached);
  auto note_failure = [&](size_t i) { NoteReadFailure(pass, i, keys[i], *objects[i], cached[i]); };
  std::vector<Result<std::vector<uint8_t>>> results;
  results.reserve(keys.size());
  uint64_t total = 0;
  for (const auto& object : objects) total += object.ok() ? object->size : 0;
  if (total > 0 && total <= staging_->size()) {
    // Everything fits in staging at once: one transfer batch for all keys.
    auto piece = staging_->Acquire(total, options_.transfer_timeout);
    if (piece.ok()) {
      std::vector<ReadItem> items;
      std::vector<size_t> item_key;
      uint64_t offset = 0;
      for (size_t i = 0; i < keys.size(); ++i) {
        if (!objects[i].ok()) continue;
        items.push_back(ReadItem::WholeObject(&keys[i], &*objects[i], piece->data() + offset,
                                              options_.verify_checksum));
        item_key.push_back(i);
        offset += objects[i]->size;
      }
      const std::vector<Status> read = ReadRegistered(items);
      for (size_t i = 0; i < keys.size(); ++i) results.push_back(objects[i].status());
      for (size_t n = 0; n < items.size(); ++n) {
        const size_t i = item_key[n];
        if (!read[n].ok()) {
          note_failure(i);
          results[i] = read[n].WithContext("reading '" + keys[i] + "'");
          continue;
        }
        results[i] =
            std::vector<uint8_t>(items[n].destination, items[n].destination + items[n].length);
      }
      return results;
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!objects[i].ok()) {
      results.push_back(objects[i].status());
      continue;
    }
    std::vector<uint8_t> value;
    bool staging_failed = false;
    Status status = GetChunked(keys[i], *objects[i], value, staging_failed);
    if (status.ok()) {
      results.push_back(std::move(value));
    } else {
      // A staging timeout is this client's own contention, not a failure of the replicas:
      // retried through the master when the location was cached, never served by the object
      // store.
      if (!staging_failed || cached[i]) note_failure(i);
      results.push_back(status.WithContext("reading '" + keys[i] + "'"));
    }
  }
  return results;
}

Status ClientImpl::GetChunked(const std::string& key, const master::ReplicaListReply& object,
                              std::vector<uint8_t>& value, bool& staging_failed) {
  // One replica at a time, in pieces of at most the staging size, the checksum extended over
  // each piece as it is copied out of staging (still in cache): a mismatch then names the
  // replica, which is reported before the next one is tried.
  value.resize(object.size);
  const bool check = options_.verify_checksum ||
                     std::any_of(object.replicas.begin(), object.replicas.end(),
                                 [](const auto& r) { return r.medium == Medium::kSsd; });
  const uint64_t chunk = staging_->size();
  std::vector<master::CorruptReplicaReport> corrupt;
  Status status(StatusCode::kObjectNotFound, "no replica");
  for (size_t index : ReplicaReadOrder(object.replicas, read_rotation_.fetch_add(1))) {
    master::ReplicaListReply one = object;
    one.replicas = {object.replicas[index]};
    uint32_t crc = 0;
    status = Status::Ok();
    for (uint64_t offset = 0; offset < object.size && status.ok(); offset += chunk) {
      const uint64_t length = std::min<uint64_t>(chunk, object.size - offset);
      auto piece = staging_->Acquire(length, options_.transfer_timeout);
      if (!piece.ok()) {
        staging_failed = true;
        ReportCorruptReplicas(corrupt);
        return piece.status();
      }
      status = ReadRegistered({{&key, &one, offset, length, piece->data(), false}})[0];
      if (status.ok()) crc = Crc32cCopy(value.data() + offset, piece->data(), length, crc);
    }
    if (status.ok() && check && crc != object.checksum) {
      status = CorruptReplica(key, object, object.replicas[index],
                              {crc, object.checksum, 0, object.size}, corrupt);
    }
    if (status.ok()) break;
  }
  ReportCorruptReplicas(corrupt);
  return status;
}

}  // namespace mooncake::store
