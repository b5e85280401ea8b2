#include "store_types/block_checksums.h"

#include <algorithm>
#include <string>

#include "mooncake/common/crc32c.h"

namespace mooncake {

uint64_t ChecksumBlockCount(uint64_t size) {
  return (size + kChecksumBlockSize - 1) / kChecksumBlockSize;
}

ObjectChecksums ComputeObjectChecksums(const void* data, uint64_t size) {
  ObjectChecksums out;
  if (size <= kChecksumBlockSize) {
    out.whole = Crc32c(data, size);
    return out;
  }
  auto blocks = std::make_shared<std::vector<uint32_t>>();
  blocks->reserve(ChecksumBlockCount(size));
  const auto* bytes = static_cast<const uint8_t*>(data);
  for (uint64_t offset = 0; offset < size; offset += kChecksumBlockSize) {
    const uint64_t length = std::min(kChecksumBlockSize, size - offset);
    const uint32_t crc = Crc32c(bytes + offset, length);
    blocks->push_back(crc);
    out.whole = offset == 0 ? crc : Crc32cCombine(out.whole, crc, length);
  }
  out.blocks = std::move(blocks);
  return out;
}

Status ValidateBlockChecksums(uint64_t size, uint32_t whole, const BlockChecksums& blocks) {
  if (blocks == nullptr) return Status::Ok();
  const uint64_t count = ChecksumBlockCount(size);
  if (count <= 1 || blocks->size() != count) {
    return InvalidParams("block checksum table has " + std::to_string(blocks->size()) +
                         " entries; an object of " + std::to_string(size) + " bytes has " +
                         (count <= 1 ? std::string("none") : std::to_string(count)));
  }
  uint32_t combined = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t length = std::min(kChecksumBlockSize, size - i * kChecksumBlockSize);
    combined = i == 0 ? (*blocks)[0] : Crc32cCombine(combined, (*blocks)[i], length);
  }
  if (combined != whole) {
    return InvalidParams("block checksums do not combine to the object's CRC32C");
  }
  return Status::Ok();
}

std::optional<ChecksumSpan> CoveringSpan(uint64_t size, uint32_t whole,
                                         const BlockChecksums& blocks, uint64_t offset,
                                         uint64_t length) {
  if (length == 0) return ChecksumSpan{offset, offset, Crc32c(nullptr, 0)};
  const uint64_t count = ChecksumBlockCount(size);
  if (count <= 1) return ChecksumSpan{0, size, whole};
  if (blocks == nullptr || blocks->size() != count) return std::nullopt;
  const uint64_t first = offset / kChecksumBlockSize;
  const uint64_t last = (offset + length - 1) / kChecksumBlockSize;
  ChecksumSpan span{first * kChecksumBlockSize, std::min(size, (last + 1) * kChecksumBlockSize),
                    (*blocks)[first]};
  for (uint64_t i = first + 1; i <= last; ++i) {
    const uint64_t block_length = std::min(kChecksumBlockSize, size - i * kChecksumBlockSize);
    span.crc = Crc32cCombine(span.crc, (*blocks)[i], block_length);
  }
  return span;
}

}  // namespace mooncake
