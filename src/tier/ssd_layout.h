#pragma once

// On-SSD layout of the SSD tier: self-describing, so a node restarted on the same file (after
// kill -9) finds its objects by scanning, with no index to lose.
//
// An object occupies one allocation of its SSD segment: a 4 KiB header block, then its bytes,
// padded to 4 KiB (store_types/ssd_geometry.h; every header starts on a 4 KiB boundary, and
// O_DIRECT needs no bounce). The header holds magic "MCSSDv01", the object's size, version and
// CRC32C, its key, and a CRC32C of the header itself, so a torn or stale header is never mistaken
// for an object. The header is written after the bytes it describes: a valid header means complete
// data (and the data CRC still catches a flipped byte at read time). Freeing an object punches a
// hole over its allocation (or zeroes its header where the filesystem cannot punch), so a scan
// neither resurrects it nor reads the free space: ScanSsdSegment skips holes with SEEK_DATA.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::tier {

struct SsdRecord {
  std::string key;
  uint64_t size = 0;     // object bytes after the header
  uint64_t version = 0;  // the master's object version
  uint32_t crc32c = 0;   // of the object bytes
};

// The header block of `record` (kSsdHeaderBytes bytes). kInvalidKey when the key does not fit.
Result<std::vector<char>> EncodeSsdHeader(const SsdRecord& record);
// Parses a header block; an error (naming why) for anything that is not a valid header.
Result<SsdRecord> DecodeSsdHeader(std::span<const char> block);

struct ScannedRecord {
  uint64_t offset = 0;  // of the header block in the segment
  SsdRecord record;
};

// Walks the first `segment_size` bytes of `fd` and reports every valid record whose data lies
// inside the segment, in offset order. Holes are skipped (SEEK_DATA); everything else is read
// in 1 MiB steps, and a record's data is jumped over, not read. Returns how many bytes were
// read, or the I/O error.
Result<uint64_t> ScanSsdSegment(int fd, uint64_t segment_size,
                                const std::function<void(const ScannedRecord&)>& found);

// Frees [offset, offset + length) of the segment: punches a hole (the blocks go back to the
// filesystem) or, where punching is refused (block devices, some filesystems), zeroes the
// first block so the header no longer parses.
Status EraseSsdRange(int fd, uint64_t offset, uint64_t length);

}  // namespace mooncake::tier
