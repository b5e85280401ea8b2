#include "node/ssd_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "store_types/ssd_geometry.h"
#include "tier/ssd_layout.h"

namespace mooncake::node {

Result<std::unique_ptr<SsdFile>> SsdFile::Open(const std::string& path, uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status(StatusCode::kFileNotFound,
                  "opening SSD path '" + path + "': " + std::strerror(errno));
  }
  return std::unique_ptr<SsdFile>(new SsdFile(fd, path, size));
}

SsdFile::~SsdFile() { ::close(fd_); }

Result<SsdFile::ScanResult> SsdFile::Scan(uint64_t base, const Clock& clock) {
  const auto began = clock.Now();
  ScanResult result;
  std::unordered_map<std::string, size_t> index;  // key -> entries position
  std::vector<uint64_t> superseded;               // offsets of older duplicates' headers
  auto scanned = tier::ScanSsdSegment(fd_, size_, [&](const tier::ScannedRecord& found) {
    const tier::SsdRecord& r = found.record;
    ManifestEntry entry{r.key,  base + found.offset, SsdAllocationBytes(r.size),
                        r.size, r.version,           r.crc32c};
    auto [it, inserted] = index.try_emplace(r.key, result.entries.size());
    if (inserted) {
      result.entries.push_back(std::move(entry));
      return;
    }
    // Two headers of one key (only after a failed erasure): the newer version wins.
    ManifestEntry& kept = result.entries[it->second];
    if (kept.version >= entry.version) {
      superseded.push_back(found.offset);
    } else {
      superseded.push_back(kept.address - base);
      kept = std::move(entry);
    }
  });
  if (!scanned.ok()) return scanned.status().WithContext("scanning SSD path '" + path_ + "'");
  for (uint64_t offset : superseded) MC_RETURN_IF_ERROR(Erase(offset, kSsdHeaderBytes));
  result.bytes_read = *scanned;
  result.took = std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now() - began);
  return result;
}

Status SsdFile::WriteHeader(uint64_t offset, const ManifestEntry& entry) {
  MC_ASSIGN_OR_RETURN(
      std::vector<char> block,
      tier::EncodeSsdHeader({entry.key, entry.size, entry.version, entry.checksum}));
  if (offset > size_ || block.size() > size_ - offset) {
    return InvalidParams("SSD header at offset " + std::to_string(offset) + " leaves '" + path_ +
                         "' of " + std::to_string(size_) + " bytes");
  }
  size_t done = 0;
  while (done < block.size()) {
    const ssize_t n =
        ::pwrite(fd_, block.data() + done, block.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status(StatusCode::kFileWriteFail,
                    "writing the SSD header of '" + entry.key + "' at offset " +
                        std::to_string(offset) + " of '" + path_ +
                        "': " + (n < 0 ? std::strerror(errno) : "no progress"));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SsdFile::Erase(uint64_t offset, uint64_t length) {
  if (offset >= size_) return Status::Ok();  // nothing of ours there
  length = std::min(length, size_ - offset);
  Status erased = tier::EraseSsdRange(fd_, offset, length);
  if (!erased.ok()) return erased.WithContext("SSD path '" + path_ + "'");
  return Status::Ok();
}

Status SsdFile::Sync() {
  if (::fdatasync(fd_) != 0) {
    return Status(StatusCode::kFileWriteFail,
                  fmt::format("SSD path '{}': fdatasync: {}", path_, std::strerror(errno)));
  }
  return Status::Ok();
}

Status SsdFile::ReadData(uint64_t offset, std::span<char> out) {
  if (offset > size_ || out.size() > size_ - offset) {
    return InvalidParams(fmt::format("SSD path '{}': {} bytes at offset {} pass its end ({})",
                                     path_, out.size(), offset, size_));
  }
  size_t done = 0;
  // Bounded: each round reads at least one byte or fails.
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status(
          StatusCode::kFileReadFail,
          fmt::format("SSD path '{}': reading {} bytes at offset {}: {}", path_, out.size() - done,
                      offset + done, n < 0 ? std::strerror(errno) : "unexpected end of file"));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace mooncake::node
