#pragma once

// Per-block checksums of an object, so that a read of part of an object can be verified
// without reading all of it (docs/integrity.md). An object is cut into kChecksumBlockSize
// blocks (the last may be shorter); the put computes each block's CRC32C next to the object's
// whole CRC32C and seals both with PutEnd. An object of at most one block needs no table: its
// one block's CRC32C is the object's.
//
// A ranged read reads the bytes of the blocks its range touches (the range itself into the
// caller's memory, the rest of the first and last block into scratch) and compares the CRC32C
// of that span, combined from the transports' CRCs, with the span's CRC combined from the
// table (CoveringSpan): one comparison however many blocks the range spans.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "mooncake/common/status.h"

namespace mooncake {

inline constexpr uint64_t kChecksumBlockSize = 64 * 1024;

// Shared and immutable: the master's record, its replies and the client's cache hold the same
// table without copying it. Null for objects of at most one block.
using BlockChecksums = std::shared_ptr<const std::vector<uint32_t>>;

// Number of blocks of an object of `size` bytes (0 for an empty object).
uint64_t ChecksumBlockCount(uint64_t size);

struct ObjectChecksums {
  uint32_t whole = 0;     // CRC32C of the object
  BlockChecksums blocks;  // per block; null when the object has at most one block
};
// Both checksums of `size` bytes at `data`, in one pass.
ObjectChecksums ComputeObjectChecksums(const void* data, uint64_t size);

// InvalidParams unless `blocks` is a valid table of an object of `size` bytes whose CRC32C is
// `whole`: one entry per block, and the entries combine to `whole`. Null is valid for objects
// of at most one block, and for larger ones (a put that sent no table: ranged reads of it are
// not verified). The master checks every table a put seals.
Status ValidateBlockChecksums(uint64_t size, uint32_t whole, const BlockChecksums& blocks);

// The whole blocks that hold bytes [offset, offset + length) of an object, and the CRC32C
// those blocks' bytes must have.
struct ChecksumSpan {
  uint64_t begin = 0;  // offset of the first block touched
  uint64_t end = 0;    // end of the last block touched (at most the object's size)
  uint32_t crc = 0;
};
// nullopt when the span's CRC32C is not known: the object has more than one block and no
// table. An empty range has the empty span. Requires offset + length <= size.
std::optional<ChecksumSpan> CoveringSpan(uint64_t size, uint32_t whole,
                                         const BlockChecksums& blocks, uint64_t offset,
                                         uint64_t length);

}  // namespace mooncake
