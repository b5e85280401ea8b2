#include "transfer/transport/file/file_segment.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/logging.h"

namespace mooncake::transfer::file {
namespace {

Status ValidateName(const std::string& name) {
  if (name.empty() || name.size() > 255) {
    return InvalidParams(
        fmt::format("file segment name must be 1..255 bytes, got {}", name.size()));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/') {
      return InvalidParams(
          fmt::format("file segment name '{}' contains '/' or a control character", name));
    }
  }
  return Status::Ok();
}

Status FileError(StatusCode code, const std::string& what, const std::string& path, int err) {
  return Status(code, fmt::format("{} '{}': {}", what, path, std::strerror(err)));
}

uint64_t AlignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

}  // namespace

Result<std::shared_ptr<FileSegment>> FileSegment::Open(const FileSegmentSpec& spec) {
  MC_RETURN_IF_ERROR(ValidateName(spec.name));
  if (spec.path.empty()) return InvalidParams("file segment path is empty");

  struct stat st {};
  const bool exists = ::stat(spec.path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) {
    return FileError(StatusCode::kFileNotFound, "cannot stat file segment", spec.path, errno);
  }
  const bool block_device = exists && S_ISBLK(st.st_mode);
  if (exists && !block_device && !S_ISREG(st.st_mode)) {
    return InvalidParams(
        fmt::format("file segment '{}' is neither a regular file nor a block device", spec.path));
  }

  int flags = O_RDWR | O_CLOEXEC | (block_device ? 0 : O_CREAT);
  int fd = -1;
  bool direct = false;
  if (spec.direct_io) {
    fd = ::open(spec.path.c_str(), flags | O_DIRECT, 0644);
    if (fd >= 0) {
      direct = true;
    } else if (errno != EINVAL) {
      return FileError(StatusCode::kFileNotFound, "cannot open file segment", spec.path, errno);
    } else {
      MC_LOG_WARN("file segment '{}': {} refuses O_DIRECT; using buffered I/O (page cache)",
                  spec.name, spec.path);
    }
  }
  if (fd < 0) {
    fd = ::open(spec.path.c_str(), flags, 0644);
    if (fd < 0) {
      return FileError(StatusCode::kFileNotFound, "cannot open file segment", spec.path, errno);
    }
  }
  auto fail = [fd](Status s) {
    ::close(fd);
    return s;
  };

  uint64_t current = 0;
  if (block_device) {
    if (::ioctl(fd, BLKGETSIZE64, &current) != 0) {
      return fail(FileError(StatusCode::kFileReadFail, "cannot read the size of block device",
                            spec.path, errno));
    }
  } else {
    if (::fstat(fd, &st) != 0) {
      return fail(
          FileError(StatusCode::kFileReadFail, "cannot stat file segment", spec.path, errno));
    }
    current = static_cast<uint64_t>(st.st_size);
  }
  const uint64_t size = spec.size == 0 ? current : spec.size;
  if (size == 0) {
    return fail(InvalidParams(
        fmt::format("file segment '{}': size 0 given and '{}' is empty", spec.name, spec.path)));
  }
  if (block_device && size > current) {
    return fail(
        InvalidParams(fmt::format("file segment '{}': size {} exceeds block device '{}' ({} bytes)",
                                  spec.name, size, spec.path, current)));
  }
  // Direct requests cover whole blocks; a regular file is extended to a block boundary past
  // `size` so that the last block reads in full (sparse: no disk space is taken).
  const uint64_t wanted = direct ? AlignUp(size, kDirectAlignment) : size;
  if (!block_device && current < wanted && ::ftruncate(fd, static_cast<off_t>(wanted)) != 0) {
    return fail(
        FileError(StatusCode::kFileWriteFail, "cannot extend file segment", spec.path, errno));
  }
  return std::shared_ptr<FileSegment>(new FileSegment(spec.name, spec.path, size, fd, direct));
}

FileSegment::~FileSegment() { ::close(fd_); }

}  // namespace mooncake::transfer::file
