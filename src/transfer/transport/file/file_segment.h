#pragma once

// A file or block device opened for serving as a file segment: the fd, its usable size and
// how it must be accessed. O_DIRECT is used where the filesystem accepts it (no page cache,
// the SSD tier's data path); where it refuses (tmpfs, some FUSE and network filesystems) the
// file is opened buffered and a warning names the path.

#include <cstdint>
#include <memory>
#include <string>

#include "mooncake/common/status.h"

namespace mooncake::transfer::file {

// Offset, length and memory alignment that O_DIRECT requests use. 4 KiB satisfies every
// logical block size in use (512 B and 4 KiB), so it is not queried per device.
inline constexpr uint64_t kDirectAlignment = 4096;

struct FileSegmentSpec {
  std::string name;  // what peers look the segment up by; non-empty, no '/' or control chars
  std::string path;  // a regular file (created when missing) or a block device
  // Bytes exposed, from offset 0. A shorter regular file is extended (sparse); 0 = the
  // file's or device's current size, which must then be non-zero.
  uint64_t size = 0;
  bool direct_io = true;  // try O_DIRECT first (default); false: buffered from the start
};

class FileSegment {
 public:
  static Result<std::shared_ptr<FileSegment>> Open(const FileSegmentSpec& spec);
  ~FileSegment();
  FileSegment(const FileSegment&) = delete;
  FileSegment& operator=(const FileSegment&) = delete;

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  int fd() const { return fd_; }
  // True when opened with O_DIRECT: requests must then be aligned (FileIoService bounces).
  bool direct() const { return direct_; }

 private:
  FileSegment(std::string name, std::string path, uint64_t size, int fd, bool direct)
      : name_(std::move(name)), path_(std::move(path)), size_(size), fd_(fd), direct_(direct) {}

  const std::string name_;
  const std::string path_;
  const uint64_t size_;
  const int fd_;
  const bool direct_;
};

}  // namespace mooncake::transfer::file
