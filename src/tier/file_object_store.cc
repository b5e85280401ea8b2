#include "tier/file_object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "mooncake/common/crc32c.h"

namespace mooncake::tier {
namespace {

constexpr char kMagic[8] = {'M', 'C', 'O', 'B', 'J', '1', 0, 0};
constexpr size_t kHeaderSize = 32;
constexpr const char* kTempMarker = ".tmp.";

struct Header {
  uint64_t size = 0;
  uint32_t crc32c = 0;
  uint32_t key_length = 0;
};

void EncodeHeader(const Header& h, char* out) {
  std::memset(out, 0, kHeaderSize);
  std::memcpy(out, kMagic, 8);
  std::memcpy(out + 8, &h.size, 8);
  std::memcpy(out + 16, &h.crc32c, 4);
  std::memcpy(out + 20, &h.key_length, 4);
}

Status Errno(StatusCode code, const std::string& what, const std::string& path) {
  return Status(code, fmt::format("{} '{}': {}", what, path, std::strerror(errno)));
}

bool ReadFull(int fd, char* out, size_t length, uint64_t offset) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool WriteFull(int fd, const char* data, size_t length, uint64_t offset) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pwrite(fd, data + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

Status MakeDirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string part = path.substr(0, pos);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return Errno(StatusCode::kFileWriteFail, "cannot create object store directory", part);
    }
  }
  return Status::Ok();
}

// Opens `path` and reads its header and key; kObjectNotFound when it does not exist.
Result<int> OpenObject(const std::string& path, Header* header, std::string* key) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return Status(StatusCode::kObjectNotFound, fmt::format("no object '{}'", path));
    return Errno(StatusCode::kFileReadFail, "cannot open object", path);
  }
  char raw[kHeaderSize];
  if (!ReadFull(fd, raw, kHeaderSize, 0) || std::memcmp(raw, kMagic, 8) != 0) {
    ::close(fd);
    return Status(StatusCode::kFileReadFail,
                  fmt::format("'{}' is not a Mooncake object file", path));
  }
  std::memcpy(&header->size, raw + 8, 8);
  std::memcpy(&header->crc32c, raw + 16, 4);
  std::memcpy(&header->key_length, raw + 20, 4);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || header->key_length > (1u << 20) ||
      static_cast<uint64_t>(st.st_size) != kHeaderSize + header->key_length + header->size) {
    ::close(fd);
    return Status(StatusCode::kFileReadFail,
                  fmt::format("object file '{}' is truncated or its header is damaged", path));
  }
  key->resize(header->key_length);
  if (!ReadFull(fd, key->data(), key->size(), kHeaderSize)) {
    ::close(fd);
    return Status(StatusCode::kFileReadFail, fmt::format("cannot read the key of '{}'", path));
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<ObjectStore>> FileObjectStore::Create(ObjectStoreOptions options) {
  std::string dir = options.url.substr(std::strlen("file://"));
  if (dir.empty() || dir[0] != '/') {
    return InvalidParams(
        fmt::format("object store URL '{}': file:// needs an absolute path "
                    "(file:///dir)",
                    options.url));
  }
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  MC_RETURN_IF_ERROR(MakeDirs(dir));
  return std::unique_ptr<ObjectStore>(new FileObjectStore(std::move(options), std::move(dir)));
}

std::string FileObjectStore::PathOf(const std::string& key) const {
  return dir_ + "/" + EncodeObjectName(key);
}

Status FileObjectStore::Put(const std::string& key, std::span<const char> data) {
  if (key.empty()) return Status(StatusCode::kInvalidKey, "object key is empty");
  if (key.size() > (1u << 20)) return Status(StatusCode::kInvalidKey, "object key over 1 MiB");
  static std::atomic<uint64_t> counter{std::random_device{}()};
  const std::string path = PathOf(key);
  const std::string temp = fmt::format("{}{}{:x}", path, kTempMarker, counter.fetch_add(1));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(StatusCode::kFileWriteFail, "cannot create object", temp);
  Header h;
  h.size = data.size();
  h.crc32c = Crc32c(data.data(), data.size());
  h.key_length = static_cast<uint32_t>(key.size());
  char raw[kHeaderSize];
  EncodeHeader(h, raw);
  const bool ok =
      WriteFull(fd, raw, kHeaderSize, 0) && WriteFull(fd, key.data(), key.size(), kHeaderSize) &&
      WriteFull(fd, data.data(), data.size(), kHeaderSize + key.size()) && ::fsync(fd) == 0;
  Status failed =
      ok ? Status::Ok() : Errno(StatusCode::kFileWriteFail, "cannot write object", temp);
  ::close(fd);
  if (failed.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    failed = Errno(StatusCode::kFileWriteFail, "cannot store object", path);
  }
  if (!failed.ok()) ::unlink(temp.c_str());
  return failed;
}

Result<ObjectInfo> FileObjectStore::Head(const std::string& key) {
  Header h;
  std::string stored_key;
  MC_ASSIGN_OR_RETURN(int fd, OpenObject(PathOf(key), &h, &stored_key));
  ::close(fd);
  return ObjectInfo{stored_key, h.size, h.crc32c, true};
}

Status FileObjectStore::Get(const std::string& key, uint64_t offset, std::span<char> out) {
  Header h;
  std::string stored_key;
  const std::string path = PathOf(key);
  MC_ASSIGN_OR_RETURN(int fd, OpenObject(path, &h, &stored_key));
  if (offset > h.size || out.size() > h.size - offset) {
    ::close(fd);
    return InvalidParams(fmt::format("range {}+{} passes the end of object '{}' ({} bytes)", offset,
                                     out.size(), key, h.size));
  }
  const bool ok = ReadFull(fd, out.data(), out.size(), kHeaderSize + h.key_length + offset);
  ::close(fd);
  if (!ok) return Status(StatusCode::kFileReadFail, fmt::format("cannot read '{}'", path));
  if (offset == 0 && out.size() == h.size && Crc32c(out.data(), out.size()) != h.crc32c) {
    return Status(StatusCode::kChecksumMismatch,
                  fmt::format("object '{}' ({}) fails its CRC32C check", key, path));
  }
  return Status::Ok();
}

Status FileObjectStore::Delete(const std::string& key) {
  const std::string path = PathOf(key);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Errno(StatusCode::kFileWriteFail, "cannot delete object", path);
  }
  return Status::Ok();
}

Result<std::vector<ObjectInfo>> FileObjectStore::List(const std::string& key_prefix) {
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return Errno(StatusCode::kFileReadFail, "cannot list", dir_);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name.find(kTempMarker) != std::string::npos) continue;
    names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<ObjectInfo> out;
  for (const std::string& name : names) {
    auto key = DecodeObjectName(name);
    if (!key.ok() || key->compare(0, key_prefix.size(), key_prefix) != 0) continue;
    auto info = Head(*key);
    if (info.ok()) out.push_back(std::move(*info));  // vanished or foreign files are skipped
  }
  return out;
}

}  // namespace mooncake::tier
