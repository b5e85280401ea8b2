#pragma once

// A storage node's SSD file (mooncake_node --ssd_path): the on-disk side of its SSD segment.
// The Transfer Engine serves the object bytes (a file segment); this class does what only the
// owner does: find the objects a previous run left (a scan of the self-describing records of
// src/tier/ssd_layout.h), write an object's header once the master made it a replica, and
// erase it when the replica goes, so that a later scan neither misses nor resurrects objects.
//
// Headers are written with buffered pwrite on the node's own descriptor (the engine reads and
// writes data blocks with O_DIRECT on its own; a header block is never a data block of a live
// object, and the kernel keeps both coherent). They reach the page cache at once, so a kill -9
// of the process loses none; a power loss may (no fsync).
//
// Thread safety: every method may be called from any thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mooncake/common/clock.h"
#include "mooncake/common/status.h"
#include "store_types/manifest.h"

namespace mooncake::node {

class SsdFile {
 public:
  // Opens `path` (created when missing) read-write. kFileNotFound naming the path and why.
  static Result<std::unique_ptr<SsdFile>> Open(const std::string& path, uint64_t size);
  ~SsdFile();
  SsdFile(const SsdFile&) = delete;
  SsdFile& operator=(const SsdFile&) = delete;

  struct ScanResult {
    // One per key (the newest version where a failed erasure left two), in offset order:
    // address = `base` + the record's offset, length = SsdAllocationBytes(size).
    std::vector<ManifestEntry> entries;
    uint64_t bytes_read = 0;
    std::chrono::milliseconds took{0};
  };
  // The records in the first size() bytes, as the manifest to mount the segment with (its base
  // address `base`). Headers of superseded duplicates are erased. Fails on an I/O error.
  // `clock` times the scan (ScanResult::took).
  Result<ScanResult> Scan(uint64_t base, const Clock& clock);

  // Writes the header of `entry` (key, size, version, checksum) at `offset`.
  // kInvalidKey when the key does not fit a header, kFileWriteFail on an I/O error.
  Status WriteHeader(uint64_t offset, const ManifestEntry& entry);
  // Frees [offset, offset + length) (at least its header, so no scan finds it again).
  Status Erase(uint64_t offset, uint64_t length);
  // Makes the headers written and the ranges erased so far durable (fdatasync).
  // kFileWriteFail naming the path on an I/O error.
  Status Sync();
  // Reads out.size() bytes at `offset` (buffered; a write-back upload's source).
  // kInvalidParams past the end, kFileReadFail on an I/O error.
  Status ReadData(uint64_t offset, std::span<char> out);

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

 private:
  SsdFile(int fd, std::string path, uint64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}

  int fd_;
  std::string path_;
  uint64_t size_;
};

}  // namespace mooncake::node
