#include "tier/ssd_layout.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "mooncake/common/crc32c.h"

namespace mooncake::tier {
namespace {

constexpr char kMagic[8] = {'M', 'C', 'S', 'S', 'D', 'v', '0', '1'};
// Layout of the header block (little-endian):
//   0 magic[8] | 8 size u64 | 16 version u64 | 24 data crc u32 | 28 key length u32 |
//   32 reserved (zero) ... | 64 key ... | 4092 header crc u32 (of bytes 0..4091)
constexpr size_t kKeyOffset = 64;
constexpr size_t kHeaderCrcOffset = kSsdHeaderBytes - 4;
constexpr uint64_t kScanChunk = 1 << 20;

template <typename T>
void Put(char* out, size_t offset, T v) {
  std::memcpy(out + offset, &v, sizeof(T));
}
template <typename T>
T Get(const char* in, size_t offset) {
  T v;
  std::memcpy(&v, in + offset, sizeof(T));
  return v;
}

}  // namespace

Result<std::vector<char>> EncodeSsdHeader(const SsdRecord& record) {
  if (record.key.empty() || record.key.size() > kSsdMaxKeyBytes) {
    return Status(StatusCode::kInvalidKey,
                  fmt::format("key of {} bytes does not fit an SSD header (1..{})",
                              record.key.size(), kSsdMaxKeyBytes));
  }
  std::vector<char> block(kSsdHeaderBytes, 0);
  std::memcpy(block.data(), kMagic, sizeof(kMagic));
  Put<uint64_t>(block.data(), 8, record.size);
  Put<uint64_t>(block.data(), 16, record.version);
  Put<uint32_t>(block.data(), 24, record.crc32c);
  Put<uint32_t>(block.data(), 28, static_cast<uint32_t>(record.key.size()));
  std::memcpy(block.data() + kKeyOffset, record.key.data(), record.key.size());
  Put<uint32_t>(block.data(), kHeaderCrcOffset, Crc32c(block.data(), kHeaderCrcOffset));
  return block;
}

Result<SsdRecord> DecodeSsdHeader(std::span<const char> block) {
  if (block.size() < kSsdHeaderBytes) return InvalidParams("SSD header block is short");
  if (std::memcmp(block.data(), kMagic, sizeof(kMagic)) != 0) {
    return InvalidParams("no SSD record header here (magic)");
  }
  if (Get<uint32_t>(block.data(), kHeaderCrcOffset) != Crc32c(block.data(), kHeaderCrcOffset)) {
    return Status(StatusCode::kChecksumMismatch, "SSD record header fails its CRC32C");
  }
  SsdRecord r;
  r.size = Get<uint64_t>(block.data(), 8);
  r.version = Get<uint64_t>(block.data(), 16);
  r.crc32c = Get<uint32_t>(block.data(), 24);
  const uint32_t key_length = Get<uint32_t>(block.data(), 28);
  if (key_length == 0 || key_length > kSsdMaxKeyBytes) {
    return InvalidParams(fmt::format("SSD record header has key length {}", key_length));
  }
  r.key.assign(block.data() + kKeyOffset, key_length);
  return r;
}

Result<uint64_t> ScanSsdSegment(int fd, uint64_t segment_size,
                                const std::function<void(const ScannedRecord&)>& found) {
  // Aligned: `fd` may be O_DIRECT.
  void* raw = nullptr;
  if (::posix_memalign(&raw, kSsdBlockBytes, kScanChunk) != 0) {
    return Status(StatusCode::kFileReadFail, "cannot allocate the SSD scan buffer");
  }
  std::unique_ptr<char, decltype(&std::free)> buffer(static_cast<char*>(raw), &std::free);
  char* chunk = buffer.get();
  uint64_t bytes_read = 0;
  uint64_t at = 0;
  while (at + kSsdHeaderBytes <= segment_size) {
    // Jump over a hole: freed or never-written space holds no header.
    off_t data = ::lseek(fd, static_cast<off_t>(at), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // nothing but holes up to the end of the file
      if (errno != EINVAL) {
        return Status(StatusCode::kFileReadFail,
                      fmt::format("scanning SSD segment: lseek: {}", std::strerror(errno)));
      }
      data = static_cast<off_t>(at);  // SEEK_DATA unsupported: read everything
    }
    at = (static_cast<uint64_t>(data) + kSsdBlockBytes - 1) / kSsdBlockBytes * kSsdBlockBytes;
    if (at + kSsdHeaderBytes > segment_size) break;
    const uint64_t want =
        std::min<uint64_t>(kScanChunk, segment_size - at) / kSsdBlockBytes * kSsdBlockBytes;
    ssize_t n;
    do {
      n = ::pread(fd, chunk, want, static_cast<off_t>(at));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      return Status(StatusCode::kFileReadFail,
                    fmt::format("scanning SSD segment at {}: {}", at, std::strerror(errno)));
    }
    if (n < static_cast<ssize_t>(kSsdHeaderBytes)) break;  // the file ends here
    bytes_read += static_cast<uint64_t>(n);
    const uint64_t chunk_end = at + static_cast<uint64_t>(n) / kSsdBlockBytes * kSsdBlockBytes;
    uint64_t block = at;
    while (block + kSsdHeaderBytes <= chunk_end) {
      auto record = DecodeSsdHeader(std::span<const char>(chunk + (block - at), kSsdHeaderBytes));
      if (record.ok() && record->size <= segment_size &&
          SsdAllocationBytes(record->size) <= segment_size - block) {
        const uint64_t footprint = SsdAllocationBytes(record->size);
        found(ScannedRecord{block, std::move(*record)});
        block += footprint;  // its data is not a header: skip it, unread when past the chunk
      } else {
        block += kSsdBlockBytes;
      }
    }
    at = block;
  }
  return bytes_read;
}

Status EraseSsdRange(int fd, uint64_t offset, uint64_t length) {
  if (length == 0) return Status::Ok();
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) == 0) {
    return Status::Ok();
  }
  // Cannot punch: make the header unparseable. The write must be O_DIRECT-friendly.
  void* zero = nullptr;
  if (::posix_memalign(&zero, kSsdBlockBytes, kSsdBlockBytes) != 0) {
    return Status(StatusCode::kFileWriteFail, "cannot allocate a block to erase an SSD header");
  }
  std::memset(zero, 0, kSsdBlockBytes);
  ssize_t n;
  do {
    n = ::pwrite(fd, zero, kSsdBlockBytes, static_cast<off_t>(offset));
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  std::free(zero);
  if (n != static_cast<ssize_t>(kSsdBlockBytes)) {
    return Status(StatusCode::kFileWriteFail,
                  fmt::format("erasing SSD header at {}: {}", offset, std::strerror(err)));
  }
  return Status::Ok();
}

}  // namespace mooncake::tier
