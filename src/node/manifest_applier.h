#pragma once

// One mounted segment's manifest as a storage node keeps it: the objects the master journaled
// for the segment, fed by the numbered batches of changes its heartbeat replies carry, and
// trimmed by what a mount's report rejects.
//
// Pure: no I/O, no locks, no clock. What the segment's SSD file must do to stay in step with
// the manifest (write a header when a replica arrives, erase it when the replica goes) comes
// back as a list of SsdRecordActions for the caller to carry out (SsdRecordWriter) before it
// acknowledges the batch: the master reuses an erased range only after the acknowledgement. A
// DRAM segment keeps no records, so its actions are always empty.
//
// Thread safety: none; the node calls it under its manifest mutex.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store_types/manifest.h"

namespace mooncake::node {

// Whether a segment keeps a self-describing record per object (src/tier/ssd_layout.h).
enum class SegmentRecords {
  kNone,        // DRAM: the manifest lives in memory only
  kSsdHeaders,  // SSD: each object's header is written in the file, found by a restart's scan
};

// One step that keeps an SSD file's records in step with its manifest.
struct SsdRecordAction {
  enum class Kind {
    kWriteHeader,  // write the header of `entry`, a COMPLETE replica
    kErase,        // erase [entry.address, entry.address + entry.length): no scan finds it again
  };
  Kind kind = Kind::kWriteHeader;
  // kWriteHeader: the whole entry. kErase: only key, address (absolute, as in the manifest)
  // and length (at least one header) matter.
  ManifestEntry entry;
};

class ManifestApplier {
 public:
  explicit ManifestApplier(SegmentRecords records) : records_(records) {}

  // Replaces the manifest with `entries` (an SSD scan's finds, to announce with the first
  // mount). A scan finds one entry per key; of duplicates, the first is kept.
  void Load(std::vector<ManifestEntry> entries);

  // What applying one batch did.
  struct Applied {
    // Changes applied; those already applied (numbered at or below acked_seq(), their
    // acknowledgement lost) are skipped and not counted.
    uint64_t changes = 0;
    // Set when the batch begins past acked_seq() + 1: the first and last numbers never
    // delivered. A correct master keeps every change until it is acknowledged, so this is a
    // master bug for the node to log; the batch is applied anyway.
    std::optional<std::pair<uint64_t, uint64_t>> missed;
    // The record writes and erasures the applied changes need, in order (kSsdHeaders only).
    // Non-empty exactly when a change was applied to an SSD segment.
    std::vector<SsdRecordAction> actions;
  };
  // Applies the changes of `batch` numbered above acked_seq(), in order, and advances
  // acked_seq() to the last one. An added entry replaces whatever the manifest held for its
  // key; a removal drops the key only when the manifest holds it at the removed address (a
  // newer replica elsewhere stays).
  Applied Apply(const ManifestBatch& batch);

  // After the master answered a mount of this manifest: forgets the entries it rejected and
  // restarts the numbering (the master journals anew for every mount). Returns the erasures
  // of the rejected entries' SSD headers, so that no later scan announces them again; a
  // rejected header inside an adopted entry's range is left alone (it cannot be a record then,
  // and erasing it would corrupt the adopted object's bytes).
  std::vector<SsdRecordAction> Remounted(const std::vector<std::string>& rejected_keys);

  // Marks the entry of `key` at `version` as being in the object store (a write-back upload
  // finished), so a restarted master adopting it schedules no upload again. False when the
  // manifest holds no such entry (replaced or removed meanwhile), or `version` is 0.
  bool MarkUploaded(const std::string& key, uint64_t version);

  // The entries, in no particular order (what a mount announces).
  std::vector<ManifestEntry> Entries() const;
  // The entry of `key`, if the manifest holds one.
  std::optional<ManifestEntry> Find(const std::string& key) const;
  size_t size() const { return entries_.size(); }
  // Sum of the entries' lengths: the bytes their replicas occupy.
  uint64_t bytes() const { return bytes_; }
  // The number of the last change applied since the last mount (0: none yet).
  uint64_t acked_seq() const { return acked_seq_; }

 private:
  // Drops `key` (only at `address` when given).
  void Forget(const std::string& key, std::optional<uint64_t> address);

  SegmentRecords records_;
  std::unordered_map<std::string, ManifestEntry> entries_;
  uint64_t bytes_ = 0;
  uint64_t acked_seq_ = 0;
};

}  // namespace mooncake::node
