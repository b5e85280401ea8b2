#pragma once

// Carries out, on a storage node's SSD file, the record writes and erasures its manifest asks
// for (ManifestApplier's SsdRecordActions), and makes them durable once per applied batch.
//
// A failure is counted and logged, never returned: the manifest change stands either way (the
// master already made the replica, or dropped it). A header that could not be written costs the
// object only its survival of a restart (the scan will not find it); an erasure that failed may
// let a restart's scan announce an object the master then refuses or replaces.
//
// Thread safety: Carry and Sync from one thread at a time (the node's manifest mutex); the
// counters from any thread.

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "node/manifest_applier.h"
#include "node/ssd_file.h"

namespace mooncake::node {

class SsdRecordWriter {
 public:
  // `file` (not owned) backs the segment `segment_name` whose absolute addresses begin at
  // `base` (the actions carry absolute addresses, the file takes offsets).
  SsdRecordWriter(SsdFile& file, std::string segment_name, uint64_t base)
      : file_(file), segment_name_(std::move(segment_name)), base_(base) {}

  SsdRecordWriter(const SsdRecordWriter&) = delete;
  SsdRecordWriter& operator=(const SsdRecordWriter&) = delete;

  // Carries out `actions` in order. An erasure below the segment's base is skipped (it names
  // no range of the file).
  void Carry(std::span<const SsdRecordAction> actions);

  // Makes what Carry wrote and erased so far durable (fdatasync; the objects' bytes went with
  // O_DIRECT before), so that after a power loss the scan finds what the node acknowledged to
  // the master and no removed object comes back.
  void Sync();

  // Header writes, erasures and syncs that failed.
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  // Syncs that succeeded.
  uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }

 private:
  SsdFile& file_;
  const std::string segment_name_;
  const uint64_t base_;
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> syncs_{0};
};

}  // namespace mooncake::node
