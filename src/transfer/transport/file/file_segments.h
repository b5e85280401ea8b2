#pragma once

// The file segments an engine serves. Each appears in the engine's segment descriptor as a
// buffer whose location is "file:<name>" and whose address range is a synthetic one, far above
// any user-space pointer (bit 63 set), so it can never be mistaken for memory: peers address
// byte `off` of the file as `base + off`, exactly as they address registered memory, and every
// transport's range checks apply unchanged. The target side turns such an address back into a
// file offset and serves it with FileIoService; it never dereferences it.
//
// Bases are never reused within one engine incarnation: a request computed from an old
// descriptor cannot land in a file registered later under a recycled range.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/transport/file/file_io_service.h"
#include "transfer/transport/file/file_segment.h"
#include "transfer/transport/file/staging_pool.h"

namespace mooncake::transfer::file {

inline constexpr uint64_t kFileAddressBase = uint64_t{1} << 63;
// Each file segment owns 16 TiB of address space: its size limit.
inline constexpr int kFileAddressShift = 44;
inline constexpr uint64_t kMaxFileSegmentSize = uint64_t{1} << kFileAddressShift;
inline constexpr std::string_view kFileLocationPrefix = "file:";

// True for the location of a buffer that is a file segment ("file:<name>").
inline bool IsFileLocation(std::string_view location) {
  return location.substr(0, kFileLocationPrefix.size()) == kFileLocationPrefix;
}

class FileSegments {
 public:
  explicit FileSegments(FileIoServiceOptions io_options = {}) : io_options_(io_options) {}
  ~FileSegments();

  // Opens the file and gives it an address range; returns the base address.
  Result<uint64_t> Register(const FileSegmentSpec& spec);
  // Stops serving `name`; requests already started finish against the still-open file.
  Status Unregister(const std::string& name);
  // True when [address, address + length) lies inside one registered file segment.
  bool Contains(uint64_t address, uint64_t length) const;
  std::vector<BufferDescriptor> Snapshot() const;
  // Moves `length` bytes between `buffer` and the file segment holding `address`; `done`
  // runs once, on the I/O thread or (for a range no file segment holds) right here.
  void Submit(TransferOpcode opcode, uint64_t address, char* buffer, uint64_t length,
              std::function<void(const Status&)> done);
  FileIoStats stats() const;
  // Whether the I/O thread uses io_uring; false before the first Register.
  bool uses_io_uring() const;
  // An aligned buffer to stage one request in (recycled; null when memory is out).
  std::shared_ptr<char> AcquireStaging(uint64_t length) { return staging_->Acquire(length); }

 private:
  // The segment containing the range and the range's file offset, or null.
  std::shared_ptr<FileSegment> Find(uint64_t address, uint64_t length, uint64_t* offset) const;

  const FileIoServiceOptions io_options_;
  mutable std::shared_mutex mutex_;
  std::map<uint64_t, std::shared_ptr<FileSegment>> by_base_;
  uint64_t next_slot_ = 0;
  std::unique_ptr<FileIoService> io_;  // started by the first Register, kept until destruction
  const std::shared_ptr<StagingPool> staging_ = StagingPool::Create();
};

}  // namespace mooncake::transfer::file
