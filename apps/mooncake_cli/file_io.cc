#include "file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace mooncake::cli {
namespace {

constexpr size_t kPiece = size_t{8} << 20;

std::string Describe(const std::string& path) { return path == "-" ? "stdin" : path; }

}  // namespace

uint64_t KnownSize(const std::string& path) {
  struct stat st {};
  if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return static_cast<uint64_t>(st.st_size);
}

Outcome ReadInput(const std::string& path, std::vector<uint8_t>& out, Progress& progress) {
  const int fd = path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return LocalIoError("cannot open " + path, errno);
  const uint64_t expected = KnownSize(path);
  progress.Phase("reading " + Describe(path), expected);
  out.clear();
  out.reserve(expected + kPiece);  // + a piece: the read that sees EOF must not reallocate
  Outcome outcome;
  for (;;) {
    // Grow by a piece at a time; a regular file's size was reserved up front.
    const size_t used = out.size();
    out.resize(used + kPiece);
    const ssize_t n = ::read(fd, out.data() + used, kPiece);
    if (n < 0 && errno == EINTR) {
      out.resize(used);
      continue;
    }
    out.resize(used + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n < 0) {
      outcome = LocalIoError("cannot read " + Describe(path), errno);
      break;
    }
    if (n == 0) break;
    progress.Advance(static_cast<uint64_t>(n));
  }
  if (fd != STDIN_FILENO) ::close(fd);
  return outcome;
}

Outcome WriteOutput(const std::string& path, std::span<const uint8_t> bytes, Progress& progress) {
  const bool to_stdout = path == "-";
  const int fd = to_stdout ? STDOUT_FILENO
                           : ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return LocalIoError("cannot create " + path, errno);
  progress.Phase("writing " + (to_stdout ? std::string("stdout") : path), bytes.size());
  const std::string name = to_stdout ? "stdout" : path;
  Outcome outcome;
  size_t done = 0;
  while (done < bytes.size()) {
    const size_t want = std::min(kPiece, bytes.size() - done);
    const ssize_t n = ::write(fd, bytes.data() + done, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      outcome = LocalIoError("cannot write " + name, errno);
      break;
    }
    done += static_cast<size_t>(n);
    progress.Advance(static_cast<uint64_t>(n));
  }
  if (!to_stdout && ::close(fd) != 0 && outcome.ok()) {
    outcome = LocalIoError("cannot write " + name, errno);
  }
  return outcome;
}

}  // namespace mooncake::cli
